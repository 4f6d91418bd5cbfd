import Foundation

/// Human-readable numbers for reports.
package enum Formatting {
    /// Bytes in decimal units (`2.35 GB`, `640 B`), as model sizes are usually quoted.
    package static func bytes(_ count: Int) -> String {
        let units = ["B", "KB", "MB", "GB", "TB"]
        var value = Double(count)
        var unit = 0
        while value >= 1000 && unit < units.count - 1 {
            value /= 1000
            unit += 1
        }
        return unit == 0 ? "\(count) B" : String(format: value >= 100 ? "%.0f %@" : "%.2f %@", value, units[unit])
    }

    /// A share as a percentage with one decimal.
    package static func percent(_ part: Int, of whole: Int) -> String {
        whole == 0 ? "0.0%" : String(format: "%.1f%%", 100 * Double(part) / Double(whole))
    }

    /// Left-aligned columns separated by two spaces (the last column right-aligned when numeric).
    package static func table(_ rows: [[String]], rightAligned: Set<Int> = []) -> String {
        guard let width = rows.map(\.count).max() else { return "" }
        var widths = [Int](repeating: 0, count: width)
        for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
        return rows.map { row in
            row.enumerated().map { i, cell in
                let pad = String(repeating: " ", count: widths[i] - cell.count)
                return rightAligned.contains(i) ? pad + cell : (i == row.count - 1 ? cell : cell + pad)
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }

    /// Encodes `value` as JSON with sorted keys, for `--json` output.
    package static func json(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        // A broken model's figures can be NaN or infinite: JSON has no such numbers, so they are written as strings.
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }
}
