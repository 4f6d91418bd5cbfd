/// Builds little-endian byte sequences inline, for well-formed and deliberately malformed test files.
public struct ByteBuilder {
    public private(set) var bytes: [UInt8] = []

    public init() {}

    public mutating func u8(_ value: UInt8) { bytes.append(value) }
    public mutating func u16(_ value: UInt16) { append(value) }
    public mutating func u32(_ value: UInt32) { append(value) }
    public mutating func u64(_ value: UInt64) { append(value) }
    public mutating func i32(_ value: Int32) { append(value) }
    public mutating func f32(_ value: Float) { append(value.bitPattern) }
    public mutating func raw(_ more: [UInt8]) { bytes += more }
    public mutating func ascii(_ text: String) { bytes += Array(text.utf8) }

    /// A GGUF string: u64 length, then the bytes.
    public mutating func ggufString(_ text: String) {
        u64(UInt64(text.utf8.count))
        ascii(text)
    }

    /// Zero bytes up to the next multiple of `alignment`.
    public mutating func pad(to alignment: Int) {
        while bytes.count % alignment != 0 { bytes.append(0) }
    }

    private mutating func append<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes += $0 }
    }
}

/// A safetensors file from a header text and a data buffer.
public func safetensorsBytes(header: String, data: [UInt8]) -> [UInt8] {
    var builder = ByteBuilder()
    builder.u64(UInt64(header.utf8.count))
    builder.ascii(header)
    builder.raw(data)
    return builder.bytes
}
