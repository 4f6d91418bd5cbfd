import Foundation

/// Small self-contained SVG charts (no scripts, no external fonts) for `lpk-plan --svg`.
public enum SVGChart {
    /// A labelled point.
    public struct Point: Sendable {
        public let label: String
        public let x: Double
        public let y: Double

        public init(label: String, x: Double, y: Double) {
            self.label = label
            self.x = x
            self.y = y
        }
    }

    /// A scatter of `points` with a logarithmic y axis (KLD spans decades), x linear from 0.
    public static func scatter(_ points: [Point], title: String, xLabel: String, yLabel: String) -> String {
        let width = 720.0, height = 440.0, left = 80.0, right = 30.0, top = 40.0, bottom = 60.0
        let plotWidth = width - left - right, plotHeight = height - top - bottom
        let positive = points.map(\.y).filter { $0 > 0 }
        let yMin = pow(10, floor(log10(positive.min() ?? 1e-6))), yMax = pow(10, ceil(log10(max(positive.max() ?? 1, yMin * 10))))
        let xMax = niceCeiling((points.map(\.x).max() ?? 1) * 1.08)
        func px(_ x: Double) -> Double { left + x / xMax * plotWidth }
        func py(_ y: Double) -> Double {
            let clamped = max(y, yMin)
            return top + plotHeight * (1 - (log10(clamped) - log10(yMin)) / (log10(yMax) - log10(yMin)))
        }
        var body = frame(width: width, height: height, title: title)
        body += axisLines(left: left, top: top, plotWidth: plotWidth, plotHeight: plotHeight)
        var decade = yMin
        while decade <= yMax * 1.0001 {
            body += text(left - 8, py(decade) + 4, String(format: "%g", decade), anchor: "end")
            body += #"<line x1="\#(f(left))" y1="\#(f(py(decade)))" x2="\#(f(left + plotWidth))" y2="\#(f(py(decade)))" stroke="lightgray"/>"# + "\n"
            decade *= 10
        }
        for step in 0...4 {
            let x = xMax * Double(step) / 4
            body += text(px(x), top + plotHeight + 18, String(format: "%g", x), anchor: "middle")
        }
        body += text(left + plotWidth / 2, height - 14, xLabel, anchor: "middle")
        body += #"<text x="18" y="\#(f(top + plotHeight / 2))" font-size="12" text-anchor="middle" transform="rotate(-90 18 \#(f(top + plotHeight / 2)))">\#(escape(yLabel))</text>"# + "\n"
        for point in points {
            body += #"<circle cx="\#(f(px(point.x)))" cy="\#(f(py(point.y)))" r="4" fill="steelblue"/>"# + "\n"
            body += text(px(point.x) + 6, py(point.y) - 6, point.label, anchor: "start")
        }
        return body + "</svg>\n"
    }

    /// Horizontal bars, one per (label, value), on a logarithmic scale.
    public static func bars(_ points: [(label: String, value: Double)], title: String, valueLabel: String) -> String {
        let rowHeight = 18.0, left = 260.0, right = 90.0, top = 40.0
        let width = 760.0, height = top + Double(points.count) * rowHeight + 50
        let positive = points.map(\.value).filter { $0 > 0 }
        let low = pow(10, floor(log10(positive.min() ?? 1e-6))), high = pow(10, ceil(log10(max(positive.max() ?? 1, low * 10))))
        func length(_ value: Double) -> Double {
            value <= low ? 0 : (log10(value) - log10(low)) / (log10(high) - log10(low)) * (width - left - right)
        }
        var body = frame(width: width, height: height, title: title)
        for (index, point) in points.enumerated() {
            let y = top + Double(index) * rowHeight
            body += text(left - 8, y + 13, point.label, anchor: "end")
            body += #"<rect x="\#(f(left))" y="\#(f(y + 3))" width="\#(f(length(point.value)))" height="\#(f(rowHeight - 6))" fill="darkorange"/>"# + "\n"
            body += text(left + length(point.value) + 6, y + 13, String(format: "%.3g", point.value), anchor: "start")
        }
        body += text(left, height - 16, "\(valueLabel) (log scale, \(String(format: "%g", low)) to \(String(format: "%g", high)))", anchor: "start")
        return body + "</svg>\n"
    }

    private static func frame(width: Double, height: Double, title: String) -> String {
        #"<svg xmlns="http://www.w3.org/2000/svg" width="\#(f(width))" height="\#(f(height))" viewBox="0 0 \#(f(width)) \#(f(height))" font-family="sans-serif">"#
            + "\n" + #"<rect width="100%" height="100%" fill="white"/>"# + "\n" + text(width / 2, 22, title, anchor: "middle", size: 15)
    }

    private static func axisLines(left: Double, top: Double, plotWidth: Double, plotHeight: Double) -> String {
        #"<line x1="\#(f(left))" y1="\#(f(top))" x2="\#(f(left))" y2="\#(f(top + plotHeight))" stroke="black"/>"# + "\n"
            + #"<line x1="\#(f(left))" y1="\#(f(top + plotHeight))" x2="\#(f(left + plotWidth))" y2="\#(f(top + plotHeight))" stroke="black"/>"# + "\n"
    }

    private static func text(_ x: Double, _ y: Double, _ content: String, anchor: String, size: Int = 12) -> String {
        #"<text x="\#(f(x))" y="\#(f(y))" font-size="\#(size)" text-anchor="\#(anchor)">\#(escape(content))</text>"# + "\n"
    }

    private static func f(_ value: Double) -> String { String(format: "%.1f", value) }

    private static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }

    /// 1, 2 or 5 times a power of ten, at least `value`.
    private static func niceCeiling(_ value: Double) -> Double {
        guard value > 0 else { return 1 }
        let power = pow(10, floor(log10(value)))
        for factor in [1.0, 2, 5, 10] where factor * power >= value { return factor * power }
        return 10 * power
    }
}
