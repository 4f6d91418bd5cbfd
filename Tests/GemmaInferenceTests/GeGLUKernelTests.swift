import Foundation
import GemmaInference
import Testing

/// The f32 GeGLU kernel (`lpk_geglu_tanh`, AVX2 where the CPU has it) against GELU's tanh approximation in Double.
@Suite struct GeGLUKernelTests {
    @Test("gelu_pytorch_tanh(x)·g within the rounding of its own argument, from −100 to 100, every vector tail length")
    func matchesDouble() {
        var inputs = stride(from: -12.0, through: 12.0, by: 1.0 / 1024).map { Float($0) }
        inputs += [-100, -87, -40, -20, 20, 40, 88, 100, 0, -0.0, 1e-30, -1e-30, .leastNormalMagnitude, 3]  // 14: a tail of 6
        let gates = inputs.indices.map { Float(1 + 0.25 * sin(Double($0))) }
        var outputs = inputs
        outputs.withUnsafeMutableBufferPointer { x in
            gates.withUnsafeBufferPointer { Kernels.geglu(x.baseAddress!, by: $0.baseAddress!, count: x.count, numerics: .exact) }
        }
        var worst = 0.0
        for (i, value) in inputs.enumerated() {
            let x = Double(value), u = 0.797_884_560_802_865_4 * (x + 0.044_715 * x * x * x)
            let expected = x / (1 + exp(-2 * u)) * Double(gates[i])
            // Rounding x and u to f32 alone moves the result by about |2u|·2⁻²⁴ of itself; allow four times that, plus
            // four ulps for the rest, and 1e-36 absolute (results at the edge of the normal floats may flush to zero).
            let allowed = (4 * abs(2 * u) + 4) * 0x1p-24 * abs(expected) + 1e-36
            worst = max(worst, abs(Double(outputs[i]) - expected) / allowed)
            #expect(abs(Double(outputs[i]) - expected) <= allowed, "x = \(value): \(outputs[i]) vs \(expected)")
        }
        print("worst error as a fraction of the allowance: \(worst)")
    }
}
