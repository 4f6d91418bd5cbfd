import ByteIO
import TensorModel

/// The token embedding and the per-layer inputs of Gemma 3n and Gemma 4: for each token, its embedding row times
/// √D, and for each layer (rmsnorm(W·e / √D) + PLE row · √ple) / √2. The PLE table is read one token record at a
/// time (from a pack: one contiguous record, mapped and dequantized on the fly), and the file pages it reads are
/// counted.
final class PerLayerInputs {
    let embedding: TokenEmbedding
    let table, modelProjection: LinearWeight
    let projectionNorm: [Float]
    /// √ple, computed in f32 whatever the weights' storage (so bf16 and f32 copies of one model agree).
    let tableScale: Float
    let hiddenSize, layerCount, width: Int
    /// The pages (of the system's size) of the PLE table's file that lookups have read so far (when the table is mapped).
    private(set) var pagesRead = Set<Int>()
    /// Layers whose table slice is read as zeros (an ablation); empty normally.
    var ablatedLayers = Set<Int>()
    /// The model projection of the embeddings, kept between calls so that decoding does not allocate it.
    private var projected: [Float] = []
    /// The table row each token of a call reads, kept between calls likewise.
    private var tableRows: [Int] = []

    init(_ weights: WeightLoader, _ c: ModelConfiguration, width ple: Int) throws {
        hiddenSize = c.hiddenSize
        layerCount = c.layerCount
        width = ple
        let d = c.hiddenSize
        embedding = try TokenEmbedding(weights, c)
        table = try weights.matrix(.perLayerTable, rows: c.perLayerVocabularySize ?? c.vocabularySize, columns: c.layerCount * ple,
                                   lookup: true)
        table.adviseRandomAccess()  // a lookup table: one record per token, no read-ahead
        modelProjection = try weights.matrix(.perLayerModelProjection, rows: c.layerCount * ple, columns: d)
        projectionNorm = try weights.vector(.perLayerProjectionNorm, count: ple)
        tableScale = Float(Double(ple).squareRoot())
    }

    /// The embedding, the PLE table and the model projection.
    var matrices: [LinearWeight] { [embedding.weight, table, modelProjection] }

    /// Writes the scaled embeddings (`count × D`) and per-layer inputs (`count × layers × ple`) of `tokens` into
    /// `embedded` and `perLayer`, reusing their storage where it is large enough; `tableRow` picks the PLE record a
    /// token reads (the caller has checked every token against the vocabulary).
    /// - Throws: when a table row's blocks do not match their checksums (a damaged pack).
    func callAsFunction(_ tokens: [Int], tableRow: (Int) -> Int, epsilon: Float, scratch: Scratch,
                        embedded: inout [Float], perLayer: inout [Float]) throws {
        let count = tokens.count, d = hiddenSize, ple = width, record = layerCount * ple
        // Every record of the batch is requested from storage at once (cold tables: one read each, in parallel),
        // then verified and decoded.
        tableRows.removeAll(keepingCapacity: true)
        for token in tokens { tableRows.append(tableRow(token)) }
        for row in tableRows { table.prefetchRow(row) }
        for row in tableRows { try table.verifyRow(row) }
        embedded.zero(count: count * d)
        perLayer.zero(count: count * record)
        embedding(tokens, into: &embedded)
        perLayer.withUnsafeMutableBufferPointer { p in
            table.decodeRows(tableRows, into: p.baseAddress!)
            for t in 0..<count {
                for layer in ablatedLayers where layer < layerCount {
                    (p.baseAddress! + t * record + layer * ple).update(repeating: 0, count: ple)
                }
            }
        }
        for row in tableRows {
            if let range = table.fileRange(ofRow: row) {
                let page = SystemPage.size
                for index in (range.lowerBound / page)...((range.upperBound - 1) / page) { pagesRead.insert(index) }
            }
        }
        projected.zero(count: count * record)
        modelProjection.multiply(embedded, count: count, into: &projected, scratch: scratch)
        let projectionScale = Float(1 / Double(d).squareRoot()), combineScale = Float(1 / 2.0.squareRoot())
        projected.withUnsafeMutableBufferPointer { projected in for i in 0..<(count * record) { projected[i] *= projectionScale } }
        Kernels.rmsNormRows(&projected, rows: count * layerCount, width: ple, weight: projectionNorm, epsilon: epsilon)
        let tableScale = self.tableScale
        perLayer.withUnsafeMutableBufferPointer { perLayer in
            projected.withUnsafeBufferPointer { projected in
                for i in 0..<(count * record) { perLayer[i] = (projected[i] + perLayer[i] * tableScale) * combineScale }
            }
        }
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

extension PerLayerInputs {
    /// One layer's use of its per-layer input: project the gating state to the PLE width, gate the layer's slice of
    /// the per-layer input with it (`gelu(W_g·x) ⊙ ple_l`), and project back to the hidden width; the model adds
    /// the result, normed with ``postNorm``, where its architecture puts it.
    struct Gate {
        let gate, projection: LinearWeight
        let postNorm: [Float]

        init(_ weights: WeightLoader, _ c: ModelConfiguration, layer i: Int) throws {
            let d = c.hiddenSize, ple = c.perLayerInputSize ?? 0
            gate = try weights.matrix(layer: i, .perLayerGate, rows: ple, columns: d)
            projection = try weights.matrix(layer: i, .perLayerProjection, rows: d, columns: ple)
            postNorm = try weights.vector(layer: i, .postPerLayerNorm, count: d)
        }

        /// The gate's matrices.
        var matrices: [LinearWeight] { [gate, projection] }

        /// Writes layer `layer`'s per-layer contribution for `count` tokens gated by `x` into the workspace's `sublayer`.
        func callAsFunction(_ x: [Float], _ inputs: PerLayerInputs, layer: Int, count: Int, _ context: LayerContext) {
            let w = context.workspace
            gate.multiply(x, count: count, into: &w.gated, scratch: context.scratch)
            inputs.gate(&w.gated, by: w.perLayer, layer: layer, count: count, numerics: context.numerics)
            projection.multiply(w.gated, count: count, into: &w.sublayer, scratch: context.scratch)
        }
    }
}
