import Foundation
import GemmaInference
import Testing

/// The f32 GeGLU kernel (`lpk_geglu_tanh`, AVX2 where the CPU has it) against GELU's tanh approximation in Double.
@Suite struct GeGLUKernelTests {
    @Test("gelu_pytorch_tanh(x)·g within the rounding of its own argument, from −100 to 100, every vector tail length")
    func matchesDouble() {
        let extremes: [Float] = [-100, -87, -40, -20, 20, 40, 88, 100, 0, -0.0, 1e-30, -1e-30, .leastNormalMagnitude, 3]
        let inputs = extremes + stride(from: -12.0, through: 12.0, by: 1.0 / 1024).map { Float($0) }
        let gates = inputs.indices.map { Float(1 + 0.25 * sin(Double($0))) }
        let expected = inputs.indices.map { i in
            let x = Double(inputs[i]), u = 0.797_884_560_802_865_4 * (x + 0.044_715 * x * x * x)
            // Rounding x and u to f32 alone moves the result by about |2u|·2⁻²⁴ of itself; allow four times that, plus
            // four ulps for the rest, and 1e-36 absolute (results at the edge of the normal floats may flush to zero).
            let value = x / (1 + exp(-2 * u)) * Double(gates[i])
            return (value: value, allowed: (4 * abs(2 * u) + 4) * 0x1p-24 * abs(value) + 1e-36)
        }
        var worst = 0.0
        // The last 8 lengths end the vectorized loop on each of its possible tails (0 to 7 values past a multiple of 8).
        for count in (inputs.count - 8)..<inputs.count {
            var outputs = Array(inputs[..<count])
            outputs.withUnsafeMutableBufferPointer { x in
                gates.withUnsafeBufferPointer { Kernels.geglu(x.baseAddress!, by: $0.baseAddress!, count: count, numerics: .float32) }
            }
            for (i, output) in outputs.enumerated() {
                let error = abs(Double(output) - expected[i].value)
                worst = max(worst, error / expected[i].allowed)
                #expect(error <= expected[i].allowed, "x = \(inputs[i]) of \(count): \(output) vs \(expected[i].value)")
            }
        }
        print("worst error as a fraction of the allowance: \(worst)")
    }
}
