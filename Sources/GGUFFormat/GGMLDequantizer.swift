import TensorTypes

/// Converts ggml blocks to `Float`: the plain types and the legacy 32-element quants here, K-quants in
/// `GGMLDequantizer+KQuants.swift`. Layouts follow `ggml-common.h`; results are checked against gguf-py.
///
/// Each kernel reads from a buffer whose size the caller has checked to be exactly the blocks for `output`.
public enum GGMLDequantizer {
    /// Dequantizes `source`, which must hold exactly `output.count` elements of `type`.
    /// - Precondition: `type.isDequantizable` and `source.count == type.byteCount(elements: output.count)`.
    public static func dequantize(_ type: GGMLType, _ source: UnsafeRawBufferPointer, into output: UnsafeMutableBufferPointer<Float>) {
        precondition(type.isDequantizable, "unsupported type \(type.name)")
        precondition(type.byteCount(elements: output.count) == source.count, "source size does not match the element count")
        let blocks = output.count / type.blockSize
        switch type {
        case .f32: plain(source, output, DType.f32)
        case .f16: plain(source, output, DType.f16)
        case .bf16: plain(source, output, DType.bf16)
        case .f64: plain(source, output, DType.f64)
        case .i8: plain(source, output, DType.i8)
        case .i16: plain(source, output, DType.i16)
        case .i32: plain(source, output, DType.i32)
        case .i64: plain(source, output, DType.i64)
        case .q4_0: for b in 0..<blocks { q4_0(source, b * 18, output, b * 32) }
        case .q4_1: for b in 0..<blocks { q4_1(source, b * 20, output, b * 32) }
        case .q5_0: for b in 0..<blocks { q5_0(source, b * 22, output, b * 32) }
        case .q5_1: for b in 0..<blocks { q5_1(source, b * 24, output, b * 32) }
        case .q8_0: for b in 0..<blocks { q8_0(source, b * 34, output, b * 32) }
        case .q2_K: for b in 0..<blocks { q2_K(source, b * 84, output, b * 256) }
        case .q3_K: for b in 0..<blocks { q3_K(source, b * 110, output, b * 256) }
        case .q4_K: for b in 0..<blocks { q4_K(source, b * 144, output, b * 256) }
        case .q5_K: for b in 0..<blocks { q5_K(source, b * 176, output, b * 256) }
        case .q6_K: for b in 0..<blocks { q6_K(source, b * 210, output, b * 256) }
        default: preconditionFailure("checked by isDequantizable")
        }
    }

    private static func plain(_ source: UnsafeRawBufferPointer, _ output: UnsafeMutableBufferPointer<Float>, _ dtype: DType) {
        var values = [Float](repeating: 0, count: output.count)
        try! LittleEndianDecoding.decode(source, as: dtype, count: output.count, into: &values)  // sizes checked by caller
        _ = output.update(fromContentsOf: values)
    }

    /// The f16 at byte `offset`.
    @inline(__always)
    static func half(_ source: UnsafeRawBufferPointer, _ offset: Int) -> Float {
        FloatConversion.float(fromHalf: UInt16(source[offset]) | UInt16(source[offset + 1]) << 8)
    }

    // MARK: - 32-element blocks

    /// Q4_0: f16 d, 16 bytes of nibbles (low nibbles are elements 0–15); x = (q − 8)·d.
    @inline(__always)
    static func q4_0(_ s: UnsafeRawBufferPointer, _ o: Int, _ y: UnsafeMutableBufferPointer<Float>, _ i: Int) {
        let d = half(s, o)
        for j in 0..<16 {
            let q = s[o + 2 + j]
            y[i + j] = Float(Int(q & 0xF) - 8) * d
            y[i + j + 16] = Float(Int(q >> 4) - 8) * d
        }
    }

    /// Q4_1: f16 d, f16 m, nibbles; x = q·d + m.
    @inline(__always)
    static func q4_1(_ s: UnsafeRawBufferPointer, _ o: Int, _ y: UnsafeMutableBufferPointer<Float>, _ i: Int) {
        let d = half(s, o), m = half(s, o + 2)
        for j in 0..<16 {
            let q = s[o + 4 + j]
            y[i + j] = Float(q & 0xF) * d + m
            y[i + j + 16] = Float(q >> 4) * d + m
        }
    }

    @inline(__always)
    private static func fifthBits(_ s: UnsafeRawBufferPointer, _ o: Int) -> UInt32 {
        UInt32(s[o]) | UInt32(s[o + 1]) << 8 | UInt32(s[o + 2]) << 16 | UInt32(s[o + 3]) << 24
    }

    /// Q5_0: f16 d, 32 fifth bits, nibbles; x = (q − 16)·d.
    @inline(__always)
    static func q5_0(_ s: UnsafeRawBufferPointer, _ o: Int, _ y: UnsafeMutableBufferPointer<Float>, _ i: Int) {
        let d = half(s, o)
        let qh = fifthBits(s, o + 2)
        for j in 0..<16 {
            let q = s[o + 6 + j]
            let high0 = Int((qh >> UInt32(j)) & 1) << 4
            let high1 = Int((qh >> UInt32(j + 16)) & 1) << 4
            y[i + j] = Float((Int(q & 0xF) | high0) - 16) * d
            y[i + j + 16] = Float((Int(q >> 4) | high1) - 16) * d
        }
    }

    /// Q5_1: f16 d, f16 m, 32 fifth bits, nibbles; x = q·d + m.
    @inline(__always)
    static func q5_1(_ s: UnsafeRawBufferPointer, _ o: Int, _ y: UnsafeMutableBufferPointer<Float>, _ i: Int) {
        let d = half(s, o), m = half(s, o + 2)
        let qh = fifthBits(s, o + 4)
        for j in 0..<16 {
            let q = s[o + 8 + j]
            let high0 = Int((qh >> UInt32(j)) & 1) << 4
            let high1 = Int((qh >> UInt32(j + 16)) & 1) << 4
            y[i + j] = Float(Int(q & 0xF) | high0) * d + m
            y[i + j + 16] = Float(Int(q >> 4) | high1) * d + m
        }
    }

    /// Q8_0: f16 d, 32 signed bytes; x = q·d.
    @inline(__always)
    static func q8_0(_ s: UnsafeRawBufferPointer, _ o: Int, _ y: UnsafeMutableBufferPointer<Float>, _ i: Int) {
        let d = half(s, o)
        for j in 0..<32 { y[i + j] = Float(Int8(bitPattern: s[o + 2 + j])) * d }
    }
}
