import CDotKernels
import Foundation
import Testing

/// The final logit soft cap (`lpk_softcap`, AVX2 where the CPU has it) against cap·tanh(x / cap) in Double.
@Suite struct SoftcapKernelTests {
    @Test("cap·tanh(x / cap) within four ulps of the result (plus the rounding of x / cap), from −10⁴ to 10⁴, on both sides of the series' edge, every vector tail length")
    func matchesDouble() {
        let cap: Float = 30
        let extremes: [Float] = [-1e4, -3000, -88 * 15, 1e4, 0, -0.0, 1e-30, -1e-30, .leastNormalMagnitude, 8.999, 9, 9.001, -9]
        let inputs = extremes + stride(from: -64.0, through: 64.0, by: 1.0 / 256).map { Float($0) }
        let expected = inputs.map { x -> (value: Double, allowed: Double) in
            let y = Double(x / cap), value = Double(cap) * tanh(y)
            // x / cap is rounded to f32 first (as the scalar code does): tanh' ≤ 1 carries that rounding through.
            return (value, 4 * 0x1p-24 * abs(value) + Double(cap) * abs(y) * 0x1p-24 + 1e-40)
        }
        for count in (inputs.count - 8)..<inputs.count {
            var outputs = Array(inputs[..<count])
            outputs.withUnsafeMutableBufferPointer { lpk_softcap($0.baseAddress!, count, cap) }
            for (i, output) in outputs.enumerated() {
                #expect(abs(Double(output) - expected[i].value) <= expected[i].allowed, "x = \(inputs[i]) of \(count): \(output) vs \(expected[i].value)")
            }
        }
    }
}
