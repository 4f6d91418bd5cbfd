import TensorTypes

/// Encodes floats as F32, F16 or BF16 little-endian bytes (the plain targets of a recipe) and back.
enum FloatEncoding {
    static func encode(_ values: [Float], as dtype: DType) -> [UInt8] {
        var bytes = [UInt8]()
        bytes.reserveCapacity(values.count * (dtype == .f32 ? 4 : 2))
        for value in values {
            switch dtype {
            case .f32: withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes += $0 }
            case .f16: withUnsafeBytes(of: FloatConversion.half(from: value).littleEndian) { bytes += $0 }
            case .bf16: withUnsafeBytes(of: FloatConversion.bfloat16(from: value).littleEndian) { bytes += $0 }
            default: preconditionFailure("recipes convert to f32, f16 or bf16 only")
            }
        }
        return bytes
    }

    static func decode(_ bytes: [UInt8], as dtype: DType) -> [Float] {
        let count = bytes.count / (dtype == .f32 ? 4 : 2)
        return bytes.withUnsafeBytes { try! LittleEndianDecoding.decode($0, as: dtype, count: count) }  // sizes match by construction
    }
}
