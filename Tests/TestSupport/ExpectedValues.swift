import StrictJSON

/// Reads expected numbers from a peer's JSON fixture: numbers, or the strings "nan", "inf", "-inf".
public enum ExpectedValues {
    public static func floats(_ value: JSONValue?) -> [Double]? {
        guard let array = value?.arrayValue else { return nil }
        return array.map { element in
            switch element.stringValue {
            case "nan": .nan
            case "inf": .infinity
            case "-inf": -.infinity
            default: element.doubleValue ?? .nan
            }
        }
    }

    /// Whether `actual` equals `expected` rounded to `Float` (NaN matching NaN), reporting the first difference.
    public static func firstMismatch(_ actual: [Float], _ expected: [Double], tolerance: Double = 0) -> String? {
        guard actual.count == expected.count else { return "\(actual.count) values, expected \(expected.count)" }
        for (index, (a, e)) in zip(actual, expected).enumerated() {
            if e.isNaN && a.isNaN { continue }
            if a == Float(e) { continue }
            if tolerance > 0 && abs(Double(a) - e) <= tolerance * max(1, abs(e)) { continue }
            return "element \(index): \(a), expected \(e)"
        }
        return nil
    }
}
