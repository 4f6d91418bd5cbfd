import TensorModel

/// What every layer of a forward call shares: the configuration, the row norms, the KV cache, the product scratch,
/// the activation buffers and the numerics.
struct LayerContext {
    let configuration: ModelConfiguration
    let norm: RowNorm
    let cache: KVCache
    let scratch: Scratch
    let workspace: Workspace
    let numerics: Numerics

    var epsilon: Float { norm.epsilon }

    /// The context of a model with room for `capacity` tokens: a cache for every layer that keeps its own keys and
    /// values, and scratch rows as wide as the widest matrix row.
    init(_ c: ModelConfiguration, capacity: Int, numerics: Numerics) {
        configuration = c
        norm = RowNorm(c)
        cache = KVCache(capacity: capacity, widths: (0..<c.layerCount).map {
            $0 < c.firstKVSharedLayer ? c.keyValueHeadCount(layer: $0) * c.headDimension(layer: $0) : 0
        })
        let widestHead = (0..<c.layerCount).map(c.headDimension(layer:)).reduce(c.headDimension, max)
        let d = c.hiddenSize
        scratch = Scratch(workers: WorkerPool.shared.participants,
                          width: max(d, c.intermediateSizes.max() ?? d, c.headCount * widestHead, c.layerCount * (c.perLayerInputSize ?? 0)))
        workspace = Workspace(c, capacity: capacity)
        self.numerics = numerics
    }
}

/// The attention and MLP sublayers of a Gemma 3 or Gemma 4 layer, each between its pre- and post-norm and added to
/// the residual.
struct DecoderBlock {
    let inputNorm, postAttentionNorm, preFeedforwardNorm, postFeedforwardNorm: [Float]
    let attention: GemmaAttention
    let mlp: GemmaMLP

    init(_ weights: WeightLoader, _ c: ModelConfiguration, layer i: Int, normsValues: Bool, attentionScale: Float,
         ropeDivisors: [Float]?) throws {
        let d = c.hiddenSize
        inputNorm = try weights.vector(layer: i, .inputNorm, count: d)
        postAttentionNorm = try weights.vector(layer: i, .postAttentionNorm, count: d)
        preFeedforwardNorm = try weights.vector(layer: i, .preFeedforwardNorm, count: d)
        postFeedforwardNorm = try weights.vector(layer: i, .postFeedforwardNorm, count: d)
        attention = try GemmaAttention(weights, c, layer: i, normsValues: normsValues, scale: attentionScale, ropeDivisors: ropeDivisors)
        mlp = try GemmaMLP(weights, c, layer: i)
    }

    /// The block's matrices.
    var matrices: [LinearWeight] { attention.matrices + mlp.matrices }

    /// Runs layer `layer` on the residual (`workspace.hidden`) of `count` tokens at positions `start…`.
    func callAsFunction(layer: Int, count: Int, start: Int, _ context: LayerContext) {
        let norm = context.norm, w = context.workspace
        norm(w.hidden, into: &w.normed, weight: inputNorm, rows: count)
        attention(w.normed, layer: layer, count: count, start: start, epsilon: context.epsilon, cache: context.cache, buffers: &w.attention, scratch: context.scratch, into: &w.sublayer)
        norm.add(&w.sublayer, to: &w.hidden, weight: postAttentionNorm, rows: count)
        norm(w.hidden, into: &w.normed, weight: preFeedforwardNorm, rows: count)
        mlp(w.normed, count: count, numerics: context.numerics, scratch: context.scratch, gates: &w.gates, ups: &w.ups, into: &w.sublayer)
        norm.add(&w.sublayer, to: &w.hidden, weight: postFeedforwardNorm, rows: count)
    }
}
