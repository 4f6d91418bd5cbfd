import CDotKernels
import Foundation
import TensorModel

/// The end of every Gemma: the final RMS norm, the output head (the tied embedding unless the model has its own), and
/// the soft cap `cap · tanh(logit / cap)` when the model has one.
struct LogitsHead {
    let norm: [Float]
    let normOffset: Float
    let weight: LinearWeight
    let softcap: Float?
    let epsilon: Float

    init(_ weights: WeightLoader, _ c: ModelConfiguration, embedding: LinearWeight) throws {
        norm = try weights.vector(.finalNorm, count: c.hiddenSize)
        normOffset = c.normWeightOffset
        weight = weights.has(.outputHead) ? try weights.matrix(.outputHead, rows: c.vocabularySize, columns: c.hiddenSize) : embedding
        softcap = c.finalLogitSoftcap.map(Float.init)
        epsilon = Float(c.rmsNormEpsilon)
    }

    /// The model's matrices, each once, with the output head: a tied head is the embedding itself.
    static func unique(_ matrices: [LinearWeight]) -> [LinearWeight] {
        var seen = Set<ObjectIdentifier>()
        return matrices.filter { seen.insert(ObjectIdentifier($0)).inserted }
    }

    /// What a forward call returns for `rows` final hidden states in `final` (normed in place): their logits
    /// (`rows × vocabulary` values), or the normed states themselves.
    func callAsFunction(_ final: inout [Float], rows: Int, output: ForwardOutput, scratch: Scratch) -> [Float] {
        let d = weight.columns
        precondition(final.count >= rows * d, "\(rows) rows of \(d) in \(final.count) values")
        final.withUnsafeMutableBufferPointer { x in
            for t in 0..<rows { Kernels.rmsNorm(x.baseAddress! + t * d, d, weight: norm, offset: normOffset, epsilon: epsilon) }
        }
        guard case .logits = output else { return Array(final[0..<(rows * d)]) }
        var logits = [Float](repeating: 0, count: rows * weight.rows)
        weight.multiply(final, count: rows, into: &logits, scratch: scratch)
        if let softcap { logits.withUnsafeMutableBufferPointer { lpk_softcap($0.baseAddress!, $0.count, softcap) } }
        return logits
    }
}
