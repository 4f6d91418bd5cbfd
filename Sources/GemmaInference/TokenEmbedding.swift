import TensorModel

/// The token embedding of every Gemma: a token's row times √D. The scale is computed in f32 whatever the weights'
/// storage (transformers' bf16 runs round it to bf16; its float64 run does not), so bf16 and f32 copies of one
/// model agree.
struct TokenEmbedding {
    let weight: LinearWeight
    let scale: Float
    let width: Int

    init(_ weights: WeightLoader, _ c: ModelConfiguration) throws {
        weight = try weights.matrix(.tokenEmbedding, rows: c.vocabularySize, columns: c.hiddenSize)
        scale = Float(Double(c.hiddenSize).squareRoot())
        width = c.hiddenSize
    }

    /// Writes the scaled rows of `tokens` (`count × D`) into the start of `hidden`, which holds at least that many
    /// values; the caller has checked every token against the vocabulary.
    func callAsFunction(_ tokens: [Int], into hidden: inout [Float]) {
        precondition(hidden.count >= tokens.count * width, "embedding: \(tokens.count) rows into \(hidden.count) values")
        hidden.withUnsafeMutableBufferPointer { h in
            for (t, token) in tokens.enumerated() {
                weight.decodeRow(token, into: h.baseAddress! + t * width)
                for i in 0..<width { h[t * width + i] *= scale }
            }
        }
    }
}
