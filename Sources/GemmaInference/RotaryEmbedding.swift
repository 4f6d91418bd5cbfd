import Foundation
import TensorModel

/// The RoPE frequencies of each Gemma layer: sliding layers turn every pair of their head at the local base;
/// full-attention layers turn at the global base, and under Gemma 4's proportional RoPE only the first
/// `fullAttentionRotaryFraction` of the pairs turn (exponents still over the whole head). A GGUF written by
/// llama.cpp says the same with per-pair divisors (`rope_freqs.weight`: 1 for pairs that turn, 1e30 for those that
/// do not), which are applied when given.
enum RotaryEmbedding {
    /// The inverse frequency of each pair (i, i + head/2) of layer `layer`'s heads.
    /// - Parameter divisors: llama.cpp's `rope_freqs` of full-attention layers, one per pair, when the source has them.
    static func inverseFrequencies(_ c: ModelConfiguration, layer: Int, divisors: [Float]?) -> [Float] {
        let sliding = c.layerTypes[layer] == .sliding
        let hd = c.headDimension(layer: layer)
        let theta = sliding ? c.ropeLocalTheta : c.ropeTheta
        let rotating = sliding ? hd / 2 : Int(c.fullAttentionRotaryFraction * Double(hd) / 2)
        return (0..<(hd / 2)).map { i in
            guard i < rotating else { return 0 }
            let frequency = pow(theta, -Double(2 * i) / Double(hd)) / (sliding ? 1 : c.fullAttentionRopeScale)
            guard !sliding, let divisors, i < divisors.count else { return Float(frequency) }
            return Float(frequency / Double(divisors[i]))
        }
    }
}

/// The cosines and sines of ``Kernels/ropeAngles(position:inverseFrequencies:cosines:sines:)`` for a run of positions,
/// kept for the next layer: a layer's keys and queries turn by the same angles, and so do all layers of one kind (the
/// sliding ones, the full ones), so a token's angles are computed per change of kind instead of twice per layer.
struct RotaryAngles {
    private var start = 0, count = 0
    private var frequencies: [Float] = []
    /// Position `start + t`'s cosines, then its sines, at `t · 2 · frequencies.count`.
    private var values: [Float] = []

    /// Calls `body` with the cosines and sines of position `start + t` for every t in 0..<count, computing them unless
    /// they are the ones computed last.
    mutating func forEach(start: Int, count: Int, inverseFrequencies: [Float],
                          _ body: (_ t: Int, _ cosines: UnsafePointer<Float>, _ sines: UnsafePointer<Float>) -> Void) {
        let half = inverseFrequencies.count
        if start != self.start || count != self.count || inverseFrequencies != frequencies {
            values.zero(count: count * 2 * half)
            values.withUnsafeMutableBufferPointer { table in
                for t in 0..<count {
                    let cosines = table.baseAddress! + t * 2 * half
                    Kernels.ropeAngles(position: start + t, inverseFrequencies: inverseFrequencies, cosines: cosines, sines: cosines + half)
                }
            }
            (self.start, self.count, frequencies) = (start, count, inverseFrequencies)
        }
        values.withUnsafeBufferPointer { table in
            for t in 0..<count { body(t, table.baseAddress! + t * 2 * half, table.baseAddress! + t * 2 * half + half) }
        }
    }
}
