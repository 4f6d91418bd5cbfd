/// The integer width of LayerPack row records (Formats/lpk.md §5). Every place that stores, decodes, multiplies or
/// exports rows switches over this enum, so a new width cannot compile into a silently wrong path.
public enum RowBits: Int, Sendable, Hashable, Codable, CaseIterable, CustomStringConvertible {
    case int8 = 8
    case int4 = 4
    /// Four levels, −2…1: for lookup tables (PLE, token embedding) whose bytes are flash bytes.
    case int2 = 2

    /// The largest magnitude round-to-nearest stores (127, 7 or 1): the scale is max|w| / this.
    public var maxLevel: Int {
        switch self {
        case .int8: 127
        case .int4: 7
        case .int2: 1
        }
    }

    /// The smallest value a record may hold (−127, −8 or −2; int4 and narrower use the whole offset-binary range).
    public var minValue: Int {
        switch self {
        case .int8: -127
        case .int4: -8
        case .int2: -2
        }
    }

    /// The largest value a record may hold.
    public var maxValue: Int { maxLevel }

    /// Values packed into one byte.
    public var valuesPerByte: Int {
        switch self {
        case .int8: 1
        case .int4: 2
        case .int2: 4
        }
    }

    /// `int8`, `int4`.
    public var description: String { "int\(rawValue)" }
}

/// How one tensor's rows are stored as row records: symmetric integers of ``RowBits`` with an f16 scale per row or
/// per group of columns.
///
/// Format: Formats/lpk.md §5 (row records). `groupSize == nil` means one scale per row.
public struct RowScheme: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The integer width.
    public let bits: RowBits
    /// Columns sharing one scale; `nil` for one scale per row.
    public let groupSize: Int?

    /// The group sizes LayerPack writes besides per-row.
    public static let supportedGroupSizes = [32, 64, 128]

    /// Creates a scheme.
    /// - Precondition: `groupSize` is nil or a positive multiple of the values packed per byte, and even.
    public init(bits: RowBits, groupSize: Int? = nil) {
        precondition(groupSize.map { $0 > 0 && $0 % 2 == 0 && $0 % bits.valuesPerByte == 0 } ?? true,
                     "group size must be positive, even and whole bytes")
        self.bits = bits
        self.groupSize = groupSize
    }

    /// Columns per group for rows of `rowLength` columns.
    public func columnsPerGroup(rowLength: Int) -> Int { groupSize ?? rowLength }

    /// Scales per row.
    public func groups(rowLength: Int) -> Int {
        let size = columnsPerGroup(rowLength: rowLength)
        return size == 0 ? 0 : rowLength / size
    }

    /// Whether rows of `rowLength` columns can use this scheme (whole groups, whole bytes of values).
    public func accepts(rowLength: Int) -> Bool {
        guard rowLength > 0, rowLength % bits.valuesPerByte == 0 else { return false }
        if let groupSize { return rowLength % groupSize == 0 }
        return true
    }

    /// Bytes of one row's values (without scales).
    public func valueBytes(rowLength: Int) -> Int { rowLength / bits.valuesPerByte }

    /// Bytes of one row record: scales (f16 each) then values.
    public func recordBytes(rowLength: Int) -> Int { 2 * groups(rowLength: rowLength) + valueBytes(rowLength: rowLength) }

    /// `int8/row`, `int4/g64`.
    public var description: String { "\(bits)/" + (groupSize.map { "g\($0)" } ?? "row") }

    /// Parses `int8`, `int4/row`, `int4/g64`.
    public init?(_ text: String) {
        let parts = text.split(separator: "/")
        guard let first = parts.first, first.hasPrefix("int"), let width = Int(first.dropFirst(3)),
              let bits = RowBits(rawValue: width), parts.count <= 2 else { return nil }
        var group: Int?
        if parts.count == 2 && parts[1] != "row" {
            guard parts[1].hasPrefix("g"), let size = Int(parts[1].dropFirst()), Self.supportedGroupSizes.contains(size) else { return nil }
            group = size
        }
        self.init(bits: bits, groupSize: group)
    }
}
