import ByteIO

/// The type tag of a GGUF metadata value.
public enum GGUFValueType: UInt32, Sendable, CaseIterable {
    case uint8 = 0, int8 = 1, uint16 = 2, int16 = 3, uint32 = 4, int32 = 5, float32 = 6, bool = 7
    case string = 8, array = 9, uint64 = 10, int64 = 11, float64 = 12

    /// The name gguf-py uses (`UINT32`, `STRING`, …).
    public var name: String {
        switch self {
        case .uint8: "UINT8"
        case .int8: "INT8"
        case .uint16: "UINT16"
        case .int16: "INT16"
        case .uint32: "UINT32"
        case .int32: "INT32"
        case .float32: "FLOAT32"
        case .bool: "BOOL"
        case .string: "STRING"
        case .array: "ARRAY"
        case .uint64: "UINT64"
        case .int64: "INT64"
        case .float64: "FLOAT64"
        }
    }

    /// Bytes of one value, for fixed-size types.
    var fixedSize: Int? {
        switch self {
        case .uint8, .int8, .bool: 1
        case .uint16, .int16: 2
        case .uint32, .int32, .float32: 4
        case .uint64, .int64, .float64: 8
        case .string, .array: nil
        }
    }
}

/// A GGUF metadata value.
public indirect enum GGUFValue: Sendable {
    case uint8(UInt8), int8(Int8), uint16(UInt16), int16(Int16), uint32(UInt32), int32(Int32)
    case uint64(UInt64), int64(Int64), float32(Float), float64(Double), bool(Bool)
    case string(String)
    case array(GGUFArray)

    /// The value's type tag.
    public var type: GGUFValueType {
        switch self {
        case .uint8: .uint8
        case .int8: .int8
        case .uint16: .uint16
        case .int16: .int16
        case .uint32: .uint32
        case .int32: .int32
        case .uint64: .uint64
        case .int64: .int64
        case .float32: .float32
        case .float64: .float64
        case .bool: .bool
        case .string: .string
        case .array: .array
        }
    }

    /// The value as an integer, for any integer type that holds it exactly.
    public var intValue: Int? {
        switch self {
        case .uint8(let v): Int(v)
        case .int8(let v): Int(v)
        case .uint16(let v): Int(v)
        case .int16(let v): Int(v)
        case .uint32(let v): Int(v)
        case .int32(let v): Int(v)
        case .uint64(let v): Int(exactly: v)
        case .int64(let v): Int(exactly: v)
        default: nil
        }
    }

    /// The value as a floating-point number, for numeric types.
    public var doubleValue: Double? {
        switch self {
        case .float32(let v): Double(v)
        case .float64(let v): v
        default: intValue.map(Double.init)
        }
    }

    /// The string, if this is one.
    public var stringValue: String? { if case .string(let s) = self { s } else { nil } }
    /// The boolean, if this is one.
    public var boolValue: Bool? { if case .bool(let b) = self { b } else { nil } }
    /// The array, if this is one.
    public var arrayValue: GGUFArray? { if case .array(let a) = self { a } else { nil } }
}

/// A GGUF metadata array whose elements are decoded on demand.
///
/// Opening a file checks the array's structure (lengths, nesting, bounds) without building its elements, so a
/// 262,144-entry vocabulary costs one pass over its length prefixes. UTF-8 of string elements is checked when
/// they are decoded (and by ``GGUFFile/validateAll()``).
public struct GGUFArray: Sendable {
    /// The type of every element.
    public let elementType: GGUFValueType
    /// The number of elements.
    public let count: Int
    /// The encoded elements (after the type and count fields).
    public let bytes: ByteView
    let limits: GGUFLimits

    /// All elements, decoded.
    public func elements() throws(GGUFError) -> [GGUFValue] {
        var cursor = GGUFCursor(bytes)
        var values: [GGUFValue] = []
        values.reserveCapacity(count)
        for _ in 0..<count {
            values.append(try GGUFMetadataReader.readValue(of: elementType, from: &cursor, depth: 1,
                                                           limits: limits, key: "array element"))
        }
        return values
    }

    /// The elements as strings, if this is an array of strings.
    public func strings() throws(GGUFError) -> [String]? {
        guard elementType == .string else { return nil }
        return try elements().map { $0.stringValue! }
    }

    /// The elements as integers, if this is an array of an integer type.
    public func integers() throws(GGUFError) -> [Int]? {
        guard elementType != .string, elementType != .array, elementType != .float32, elementType != .float64 else { return nil }
        return try elements().compactMap(\.intValue)
    }

    /// The elements as numbers, if this is an array of a numeric type.
    public func doubles() throws(GGUFError) -> [Double]? {
        guard elementType != .string, elementType != .array, elementType != .bool else { return nil }
        return try elements().compactMap(\.doubleValue)
    }

    /// The elements as booleans, if this is an array of bools.
    public func bools() throws(GGUFError) -> [Bool]? {
        guard elementType == .bool else { return nil }
        return try elements().compactMap(\.boolValue)
    }
}
