import Testing
import TensorTypes

@Suite struct FloatConversionTests {
    @Test("bf16 rounds to nearest even and widens exactly")
    func bfloat16() {
        #expect(FloatConversion.float(fromBFloat16: 0x3F80) == 1)
        #expect(FloatConversion.bfloat16(from: 1.00390625) == 0x3F80)  // tie → even
        #expect(FloatConversion.bfloat16(from: 1.01171875) == 0x3F82)  // tie → even (up)
        #expect(FloatConversion.float(fromBFloat16: FloatConversion.bfloat16(from: .nan)).isNaN)
    }

    @Test("binary16 widens exactly for all 65,536 bit patterns, as Float16 does")
    func half() {
        for bits in 0...UInt16.max {
            let expected = Float(Float16(bitPattern: bits)), actual = FloatConversion.float(fromHalf: bits)
            #expect(expected.isNaN ? actual.isNaN : actual.bitPattern == expected.bitPattern, "0x\(String(bits, radix: 16))")
        }
    }

    @Test("FP8 and FP4 decode the documented extremes", arguments: [
        (UInt8(0x7E), Float(448), "E4M3 max"), (0x7F, .nan, "E4M3 NaN"), (0x01, 0.001953125, "E4M3 min subnormal"),
    ])
    func f8e4m3(code: UInt8, value: Float, label: String) {
        let decoded = FloatConversion.float(fromF8E4M3: code)
        #expect(value.isNaN ? decoded.isNaN : decoded == value, "\(label)")
    }

    @Test("other minifloats")
    func minifloats() {
        #expect(FloatConversion.float(fromF8E5M2: 0x7B) == 57344)
        #expect(FloatConversion.float(fromF8E5M2: 0x7C) == .infinity)
        #expect(FloatConversion.float(fromF8E4M3FNUZ: 0x80).isNaN)
        #expect(FloatConversion.float(fromF8E4M3FNUZ: 0x7F) == 240)
        #expect(FloatConversion.float(fromF8E5M2FNUZ: 0x7F) == 57344)
        #expect(FloatConversion.float(fromF8E8M0: 127) == 1)
        #expect(FloatConversion.float(fromF8E8M0: 0xFF).isNaN)
        #expect((0..<16).map { FloatConversion.float(fromF4E2M1: UInt8($0)) }
            == [0, 0.5, 1, 1.5, 2, 3, 4, 6, -0.0, -0.5, -1, -1.5, -2, -3, -4, -6])
    }

    @Test("shapes refuse negative and overflowing dimensions")
    func shapes() {
        #expect(TensorShape([2, 3])?.elementCount == 6)
        #expect(TensorShape([])?.elementCount == 1)
        #expect(TensorShape([0, 4])?.elementCount == 0)
        #expect(TensorShape([-1]) == nil)
        #expect(TensorShape([Int.max, 2]) == nil)
        #expect(DType.f4.byteCount(elements: 3) == nil)
        #expect(DType.f32.byteCount(elements: Int.max) == nil)
    }
}
