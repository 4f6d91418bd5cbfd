import ByteIO

/// Reads GGUF strings and metadata values, bounding every length and count by the bytes left.
enum GGUFMetadataReader {
    /// Reads a u64-length-prefixed UTF-8 string of at most `maxBytes` bytes.
    static func readString(from cursor: inout GGUFCursor, what: String, maxBytes: Int = .max) throws(GGUFError) -> String {
        let start = cursor.fileOffset
        let bytes = try readStringBytes(from: &cursor, what: what)
        guard bytes.count <= maxBytes else {
            throw cursor.fail(.invalidString(what: what, reason: "length \(bytes.count) exceeds \(maxBytes) bytes"), at: start)
        }
        guard let string = bytes.withUnsafeBytes({ String(validating: $0, as: UTF8.self) }) else {
            throw cursor.fail(.invalidString(what: what, reason: "not valid UTF-8"), at: start)
        }
        return string
    }

    /// Reads a string's length and returns its bytes without decoding them.
    static func readStringBytes(from cursor: inout GGUFCursor, what: String) throws(GGUFError) -> ByteView {
        let start = cursor.fileOffset
        let length = try cursor.read(UInt64.self, "\(what) length")
        guard length <= UInt64(cursor.remaining) else {
            throw cursor.fail(.truncated(what: what, needed: Int(clamping: length), available: cursor.remaining), at: start)
        }
        return try cursor.view(count: Int(length), what)
    }

    /// Reads the value type tag for `key`.
    static func readType(from cursor: inout GGUFCursor, key: String) throws(GGUFError) -> GGUFValueType {
        let start = cursor.fileOffset
        let raw = try cursor.read(UInt32.self, "type of '\(key)'")
        guard let type = GGUFValueType(rawValue: raw) else { throw cursor.fail(.unknownValueType(key: key, type: raw), at: start) }
        return type
    }

    /// Reads one value of `type`. Arrays are walked for bounds but their elements are not built.
    static func readValue(
        of type: GGUFValueType, from cursor: inout GGUFCursor, depth: Int, limits: GGUFLimits, key: String
    ) throws(GGUFError) -> GGUFValue {
        let what = "value of '\(key)'"
        switch type {
        case .uint8: return .uint8(try cursor.read(UInt8.self, what))
        case .int8: return .int8(try cursor.read(Int8.self, what))
        case .uint16: return .uint16(try cursor.read(UInt16.self, what))
        case .int16: return .int16(try cursor.read(Int16.self, what))
        case .uint32: return .uint32(try cursor.read(UInt32.self, what))
        case .int32: return .int32(try cursor.read(Int32.self, what))
        case .uint64: return .uint64(try cursor.read(UInt64.self, what))
        case .int64: return .int64(try cursor.read(Int64.self, what))
        case .float32: return .float32(Float(bitPattern: try cursor.read(UInt32.self, what)))
        case .float64: return .float64(Double(bitPattern: try cursor.read(UInt64.self, what)))
        case .bool:
            let start = cursor.fileOffset
            let byte = try cursor.read(UInt8.self, what)
            guard byte <= 1 else { throw cursor.fail(.invalidValue(key: key, reason: "bool byte \(byte) is neither 0 nor 1"), at: start) }
            return .bool(byte == 1)
        case .string:
            return .string(try readString(from: &cursor, what: what))
        case .array:
            return .array(try readArray(from: &cursor, depth: depth, limits: limits, key: key))
        }
    }

    private static func readArray(
        from cursor: inout GGUFCursor, depth: Int, limits: GGUFLimits, key: String
    ) throws(GGUFError) -> GGUFArray {
        guard depth < limits.maxArrayDepth else { throw cursor.fail(.arrayTooDeep(key: key)) }
        let elementType = try readType(from: &cursor, key: key)
        let countOffset = cursor.fileOffset
        let count = try cursor.read(UInt64.self, "array count of '\(key)'")
        // Every element takes at least its fixed size (strings 8 bytes, arrays 12), so a larger count is a lie.
        let minimumElementSize = elementType.fixedSize ?? (elementType == .string ? 8 : 12)
        guard count <= UInt64(cursor.remaining / minimumElementSize) else {
            throw cursor.fail(.countTooLarge(what: "array '\(key)'", count: count, available: cursor.remaining), at: countOffset)
        }
        let elementCount = Int(count)
        let begin = cursor.position
        if let size = elementType.fixedSize {
            let elements = try cursor.view(count: elementCount * size, "array '\(key)'")  // product bounded above
            if elementType == .bool, let bad = elements.withUnsafeBytes({ $0.firstIndex(where: { $0 > 1 }) }) {
                throw cursor.fail(.invalidValue(key: key, reason: "bool byte is neither 0 nor 1"), at: elements.fileOffset + bad)
            }
        } else if elementType == .string {
            try cursor.skipStrings(count: elementCount, "string in '\(key)'")
        } else {
            for _ in 0..<elementCount { _ = try readArray(from: &cursor, depth: depth + 1, limits: limits, key: key) }
        }
        let bytes = cursor.reader.view.slice(offset: begin, length: cursor.position - begin)!  // read above
        return GGUFArray(elementType: elementType, count: elementCount, bytes: bytes, limits: limits)
    }
}
