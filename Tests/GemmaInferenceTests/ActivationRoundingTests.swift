import CDotKernels
import Testing
import TensorTypes

/// llama.cpp numerics' f16 and bf16 roundings against TensorTypes' conversions (the ones that read and write
/// checkpoints, held to the safetensors package's bits); the 8-bit ones are held to llama.cpp itself in
/// Gemma3LlamaCppAgreementTests.
@Suite struct ActivationRoundingTests {
    /// Values around every rounding case: ties, subnormals, overflow, signed zeros, NaN.
    static let values: [Float] = {
        var values: [Float] = [0, -0, 1, -1, 65504, 65520, 70000, -70000, 1e-8, 6e-8, 3e-5, .infinity, -.infinity, .nan]
        var state: UInt32 = 12345
        for _ in 0..<20_000 {
            state = state &* 1_664_525 &+ 1_013_904_223
            values.append(Float(bitPattern: state & 0xBFFF_FFFF))  // exponents up to 2^63: every f16 range and beyond
        }
        for bits in stride(from: UInt32(0x3F80_0000), to: 0x3F80_0000 + 0x4000, by: 0x1000) {
            values.append(Float(bitPattern: bits | 0x8000))  // exact bf16 ties
            values.append(Float(bitPattern: bits | 0x1000))  // exact f16 ties
        }
        return values
    }()

    @Test("bf16 rounding is TensorTypes' bfloat16 conversion, NaN included")
    func bfloat16() {
        var rounded = [Float](repeating: 0, count: Self.values.count)
        lpk_round_bf16(Self.values, &rounded, Self.values.count)
        for (value, result) in zip(Self.values, rounded) {
            let expected = FloatConversion.float(fromBFloat16: FloatConversion.bfloat16(from: value))
            #expect(result.bitPattern == expected.bitPattern || (result.isNaN && expected.isNaN), "\(value)")
        }
    }

    @Test("f16 rounding is TensorTypes' half conversion")
    func half() {
        var rounded = [Float](repeating: 0, count: Self.values.count)
        lpk_round_f16(Self.values, &rounded, Self.values.count)
        for (value, result) in zip(Self.values, rounded) {
            let expected = FloatConversion.float(fromHalf: FloatConversion.half(from: value))
            #expect(result.bitPattern == expected.bitPattern || (result.isNaN && expected.isNaN), "\(value)")
        }
    }
}
