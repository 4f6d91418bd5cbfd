/// How one tensor's rows are quantized: symmetric integers with an f16 scale per row or per group of columns.
///
/// Format: Formats/lpk.md §5 (row records). `groupSize == nil` means one scale per row.
public struct QuantizationScheme: Sendable, Hashable, Codable, CustomStringConvertible {
    /// Bits per value: 8 or 4.
    public let bits: Int
    /// Columns sharing one scale; `nil` for one scale per row.
    public let groupSize: Int?

    /// The bit widths LayerPack writes.
    public static let supportedBits = [4, 8]
    /// The group sizes LayerPack writes besides per-row.
    public static let supportedGroupSizes = [32, 64, 128]

    /// Creates a scheme.
    /// - Precondition: `bits` is 4 or 8; `groupSize` is nil or a positive even number.
    public init(bits: Int, groupSize: Int? = nil) {
        precondition(Self.supportedBits.contains(bits), "bits must be 4 or 8")
        precondition(groupSize.map { $0 > 0 && $0 % 2 == 0 } ?? true, "group size must be positive and even")
        self.bits = bits
        self.groupSize = groupSize
    }

    /// The largest magnitude of a quantized value under the round-to-nearest rule (127 or 7).
    public var maxLevel: Int { bits == 8 ? 127 : 7 }
    /// The smallest quantized value that may be stored (−127 for int8, −8 for int4).
    public var minValue: Int { bits == 8 ? -127 : -8 }

    /// Columns per group for rows of `rowLength` columns.
    public func columnsPerGroup(rowLength: Int) -> Int { groupSize ?? rowLength }

    /// Scales per row.
    public func groups(rowLength: Int) -> Int {
        let size = columnsPerGroup(rowLength: rowLength)
        return size == 0 ? 0 : rowLength / size
    }

    /// Whether rows of `rowLength` columns can use this scheme (whole groups; int4 needs an even length).
    public func accepts(rowLength: Int) -> Bool {
        guard rowLength > 0 else { return false }
        if bits == 4 && rowLength % 2 != 0 { return false }
        if let groupSize { return rowLength % groupSize == 0 }
        return true
    }

    /// Bytes of one row's values (without scales).
    public func valueBytes(rowLength: Int) -> Int { bits == 8 ? rowLength : rowLength / 2 }

    /// Bytes of one row record: scales (f16 each) then values.
    public func recordBytes(rowLength: Int) -> Int { 2 * groups(rowLength: rowLength) + valueBytes(rowLength: rowLength) }

    /// `int8/row`, `int4/g64`.
    public var description: String { "int\(bits)/" + (groupSize.map { "g\($0)" } ?? "row") }

    /// Parses `int8`, `int4/row`, `int4/g64`.
    public init?(_ text: String) {
        let parts = text.split(separator: "/")
        guard let first = parts.first, first.hasPrefix("int"), let bits = Int(first.dropFirst(3)),
              Self.supportedBits.contains(bits), parts.count <= 2 else { return nil }
        var group: Int?
        if parts.count == 2 && parts[1] != "row" {
            guard parts[1].hasPrefix("g"), let size = Int(parts[1].dropFirst()), Self.supportedGroupSizes.contains(size) else { return nil }
            group = size
        }
        self.init(bits: bits, groupSize: group)
    }
}
