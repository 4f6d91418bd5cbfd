import TensorModel
import TensorTypes

/// The token embedding and the per-layer inputs of Gemma 3n and Gemma 4: for each token, its embedding row times
/// √D, and for each layer (rmsnorm(W·e / √D) + PLE row · √ple) / √2. The PLE table is read one token record at a
/// time (from a pack: one contiguous record, mapped and dequantized on the fly), and the file pages it reads are
/// counted.
final class PerLayerInputs {
    let embedding, table, modelProjection: LinearWeight
    let projectionNorm: [Float]
    /// √D and √ple, rounded to bf16 when the embedding is stored in bf16 (as transformers computes them).
    let embeddingScale, tableScale: Float
    let hiddenSize, layerCount, width: Int
    /// The 4 KiB pages of the PLE table's file that lookups have read so far (when the table is mapped).
    private(set) var pagesRead = Set<Int>()
    /// The model projection of the embeddings, kept between calls so that decoding does not allocate it.
    private var projected: [Float] = []

    init(_ names: TensorNames, _ c: ModelConfiguration, width ple: Int) throws {
        hiddenSize = c.hiddenSize
        layerCount = c.layerCount
        width = ple
        let d = c.hiddenSize
        embedding = try names.matrix(hf: "embed_tokens.weight", gguf: "token_embd.weight", rows: c.vocabularySize, columns: d)
        table = try names.matrix(hf: "embed_tokens_per_layer.weight", gguf: "per_layer_token_embd.weight",
                                 rows: c.perLayerVocabularySize ?? c.vocabularySize, columns: c.layerCount * ple)
        table.adviseRandomAccess()  // a lookup table: one record per token, no read-ahead
        modelProjection = try names.matrix(hf: "per_layer_model_projection.weight", gguf: "per_layer_model_proj.weight",
                                           rows: c.layerCount * ple, columns: d)
        projectionNorm = try names.vector(hf: "per_layer_projection_norm.weight", gguf: "per_layer_proj_norm.weight", count: ple)
        let embeddingName = try names.resolve(hf: "embed_tokens.weight", gguf: "token_embd.weight")
        let bf16 = try names.source.descriptor(embeddingName).encoding == .plain(.bf16)
        func scale(_ value: Double) -> Float {
            bf16 ? FloatConversion.float(fromBFloat16: FloatConversion.bfloat16(from: Float(value))) : Float(value)
        }
        embeddingScale = scale(Double(d).squareRoot())
        tableScale = scale(Double(ple).squareRoot())
    }

    /// Writes the scaled embeddings (`count × D`) and per-layer inputs (`count × layers × ple`) of `tokens` into
    /// `embedded` and `perLayer`, reusing their storage where it is large enough; `tableRow` picks the PLE record a
    /// token reads (the caller has checked every token against the vocabulary).
    func callAsFunction(_ tokens: [Int], tableRow: (Int) -> Int, epsilon: Float, scratch: Scratch,
                        embedded: inout [Float], perLayer: inout [Float]) {
        let count = tokens.count, d = hiddenSize, ple = width, record = layerCount * ple
        embedded.zero(count: count * d)
        perLayer.zero(count: count * record)
        embedded.withUnsafeMutableBufferPointer { e in
            perLayer.withUnsafeMutableBufferPointer { p in
                for (t, token) in tokens.enumerated() {
                    embedding.decodeRow(token, into: e.baseAddress! + t * d)
                    for i in 0..<d { e[t * d + i] *= embeddingScale }
                    let row = tableRow(token)
                    table.decodeRow(row, into: p.baseAddress! + t * record)
                    if let range = table.fileRange(ofRow: row) {
                        for page in (range.lowerBound / 4096)...((range.upperBound - 1) / 4096) { pagesRead.insert(page) }
                    }
                }
            }
        }
        projected.zero(count: count * record)
        modelProjection.multiply(embedded, count: count, into: &projected, scratch: scratch)
        let projectionScale = Float(1 / Double(d).squareRoot()), combineScale = Float(1 / 2.0.squareRoot())
        for i in 0..<(count * record) { projected[i] *= projectionScale }
        Kernels.rmsNormRows(&projected, rows: count * layerCount, width: ple, weight: projectionNorm, epsilon: epsilon)
        for i in 0..<(count * record) { perLayer[i] = (projected[i] + perLayer[i] * tableScale) * combineScale }
    }

    /// gated[t] = gelu(gated[t]) · layer `layer`'s slice of token t's per-layer input, for `count` tokens of `width`
    /// values (`perLayer` as ``callAsFunction(_:tableRow:epsilon:scratch:embedded:perLayer:)`` wrote it).
    func gate(_ gated: inout [Float], by perLayer: [Float], layer: Int, count: Int, numerics: Numerics) {
        let ple = width, record = layerCount * ple
        gated.withUnsafeMutableBufferPointer { gated in
            perLayer.withUnsafeBufferPointer { perLayer in
                for t in 0..<count {
                    Kernels.geglu(gated.baseAddress! + t * ple, by: perLayer.baseAddress! + t * record + layer * ple, count: ple,
                                  numerics: numerics)
                }
            }
        }
    }
}
