import TensorModel

/// The self-attention of one Gemma layer, for every generation: query and key heads RMS-normed with their weights
/// (`offset + w`: Gemma 3 from Hugging Face adds 1), optionally value heads normed without one (Gemma 3n, 4), RoPE,
/// a softmax scale (Gemma 3: `query_pre_attn_scalar^-½`; 3n, 4: 1), a sliding window on sliding layers. A KV-shared
/// layer has no keys and values of its own and attends over `cacheLayer`'s; a layer without a value projection
/// (Gemma 4's `attention_k_eq_v` full layers) takes its values from the key projection, before the key norm and RoPE.
struct GemmaAttention {
    let query, output: LinearWeight
    let key, value: LinearWeight?
    let queryNorm: [Float]
    let keyNorm: [Float]?
    let normOffset: Float
    let normsValues: Bool
    let scale: Float
    let headDimension: Int
    let heads, keyValueHeads: Int
    let window: Int?
    let inverseFrequencies: [Float]
    let cacheLayer: Int

    /// The work buffers of a forward call, kept between calls by the model that owns them.
    struct Buffers {
        var queries: [Float] = [], keys: [Float] = [], values: [Float] = [], attended: [Float] = [], scores: [Float] = []
        /// Each lane's part of a query whose positions are split between the lanes (``Attention/partialsCount(width:)``).
        var partials: [Float] = []
        /// The RoPE angles of the call's positions, kept from layer to layer.
        var angles = RotaryAngles()

        /// Every buffer as zeros for `count` tokens and the widest head layout, in the storage it already has where
        /// that is large enough.
        mutating func prepare(count: Int, widestHeads: Int, capacity: Int) {
            queries.zero(count: count * widestHeads)
            keys.zero(count: count * widestHeads)
            values.zero(count: count * widestHeads)
            attended.zero(count: count * widestHeads)
            scores.zero(count: Attention.scoresCount(capacity: capacity))
            partials.zero(count: Attention.partialsCount(width: widestHeads))
        }
    }

    /// Loads layer `i` of a model whose norms add `normOffset`, dividing full-attention RoPE frequencies by
    /// `ropeDivisors` when given.
    init(_ weights: WeightLoader, _ c: ModelConfiguration, layer i: Int, normsValues: Bool, scale: Float,
         ropeDivisors: [Float]?) throws {
        let hd = c.headDimension(layer: i), d = c.hiddenSize, kvHeads = c.keyValueHeadCount(layer: i)
        let shared = i >= c.firstKVSharedLayer
        query = try weights.matrix(layer: i, .query, rows: c.headCount * hd, columns: d)
        output = try weights.matrix(layer: i, .output, rows: d, columns: c.headCount * hd)
        key = shared ? nil : try weights.matrix(layer: i, .key, rows: kvHeads * hd, columns: d)
        value = shared || c.valuesAreKeys(layer: i) ? nil : try weights.matrix(layer: i, .value, rows: kvHeads * hd, columns: d)
        queryNorm = try weights.vector(layer: i, .queryNorm, count: hd)
        keyNorm = shared ? nil : try weights.vector(layer: i, .keyNorm, count: hd)
        normOffset = c.normWeightOffset
        self.normsValues = normsValues
        self.scale = scale
        headDimension = hd
        heads = c.headCount
        keyValueHeads = kvHeads
        window = c.layerTypes[i] == .sliding ? c.slidingWindow : nil
        inverseFrequencies = RotaryEmbedding.inverseFrequencies(c, layer: i, divisors: ropeDivisors)
        cacheLayer = c.cacheLayer(of: i)
    }

    /// The block's matrices.
    var matrices: [LinearWeight] { [query, key, value, output].compactMap { $0 } }

    /// Attends `count` normed inputs at positions `start…`, storing this layer's keys and values (`layer`) in
    /// `cache`; writes the output projection into `result`.
    func callAsFunction(_ normed: [Float], layer: Int, count: Int, start: Int, epsilon: Float,
                        cache: KVCache, buffers b: inout Buffers, scratch: Scratch, into result: inout [Float]) {
        let hd = headDimension, kvHeads = keyValueHeads
        if let key, let keyNorm {
            if let value {
                LinearWeight.multiply(normed, count: count, scratch: scratch, query, into: &b.queries, key, into: &b.keys, value, into: &b.values)
            } else {
                LinearWeight.multiply(normed, count: count, scratch: scratch, query, into: &b.queries, key, into: &b.keys)
                b.values.overwrite(with: b.keys)
            }
            Attention.normAndRotate(&b.keys, count: count, heads: kvHeads, headDimension: hd, weight: keyNorm, offset: normOffset,
                                    epsilon: epsilon, start: start, inverseFrequencies: inverseFrequencies, angles: &b.angles)
            if normsValues { Kernels.rmsNormRows(&b.values, rows: count * kvHeads, width: hd, weight: nil, epsilon: epsilon) }
            cache.store(layer: layer, start: start, count: count, keys: b.keys, values: b.values)
        } else {
            query.multiply(normed, count: count, into: &b.queries, scratch: scratch)
        }
        Attention.normAndRotate(&b.queries, count: count, heads: heads, headDimension: hd, weight: queryNorm, offset: normOffset,
                                epsilon: epsilon, start: start, inverseFrequencies: inverseFrequencies, angles: &b.angles)
        Attention.attend(queries: b.queries, keys: cache.keys[cacheLayer], values: cache.values[cacheLayer], count: count,
                         start: start, heads: heads, kvHeads: kvHeads, headDimension: hd, window: window, scale: scale,
                         into: &b.attended, scores: &b.scores, partials: &b.partials)
        output.multiply(b.attended, count: count, into: &result, scratch: scratch)
    }
}
