import TensorModel

/// The self-attention of a Gemma 3n or Gemma 4 layer: query and key heads RMS-normed with their weights (`x·w`),
/// value heads normed without one, RoPE, softmax scale 1, a sliding window on sliding layers. A KV-shared layer
/// has no keys and values of its own and attends over `cacheLayer`'s.
struct PerLayerSelfAttention {
    let query, output: LinearWeight
    let key, value: LinearWeight?
    let queryNorm: [Float]
    let keyNorm: [Float]?
    let headDimension: Int
    let window: Int?
    let inverseFrequencies: [Float]
    let cacheLayer: Int

    /// The work buffers of a forward call, kept between calls by the model that owns them.
    struct Buffers {
        var queries: [Float] = [], keys: [Float] = [], values: [Float] = [], attended: [Float] = [], scores: [Float] = []

        /// Every buffer as zeros for `count` tokens and the widest head layout, in the storage it already has where
        /// that is large enough.
        mutating func prepare(count: Int, widestHeads: Int, capacity: Int) {
            queries.zero(count: count * widestHeads)
            keys.zero(count: count * widestHeads)
            values.zero(count: count * widestHeads)
            attended.zero(count: count * widestHeads)
            scores.zero(count: Attention.scoresCount(capacity: capacity))
        }
    }

    /// Loads layer `i` (Hugging Face `layers.i.self_attn.*` or GGUF `blk.i.attn_*`) with head size `hd`.
    init(_ names: TensorNames, _ c: ModelConfiguration, layer i: Int, headDimension hd: Int, inverseFrequencies: [Float]) throws {
        let p = "layers.\(i).self_attn.", g = "blk.\(i).", d = c.hiddenSize
        let shared = i >= c.firstKVSharedLayer
        query = try names.matrix(hf: p + "q_proj.weight", gguf: g + "attn_q.weight", rows: c.headCount * hd, columns: d)
        output = try names.matrix(hf: p + "o_proj.weight", gguf: g + "attn_output.weight", rows: d, columns: c.headCount * hd)
        key = shared ? nil : try names.matrix(hf: p + "k_proj.weight", gguf: g + "attn_k.weight", rows: c.keyValueHeadCount * hd, columns: d)
        value = shared ? nil : try names.matrix(hf: p + "v_proj.weight", gguf: g + "attn_v.weight", rows: c.keyValueHeadCount * hd, columns: d)
        queryNorm = try names.vector(hf: p + "q_norm.weight", gguf: g + "attn_q_norm.weight", count: hd)
        keyNorm = shared ? nil : try names.vector(hf: p + "k_norm.weight", gguf: g + "attn_k_norm.weight", count: hd)
        headDimension = hd
        window = c.layerTypes[i] == .sliding ? c.slidingWindow : nil
        self.inverseFrequencies = inverseFrequencies
        cacheLayer = c.cacheLayer(of: i)
    }

    /// Attends `count` normed inputs at positions `start…`, storing this layer's keys and values (`layer`) in
    /// `cache`; writes the output projection into `result`.
    func callAsFunction(_ normed: [Float], layer: Int, count: Int, start: Int, heads: Int, kvHeads: Int, epsilon: Float,
                        cache: KVCache, buffers b: inout Buffers, scratch: Scratch, into result: inout [Float]) {
        let hd = headDimension
        query.multiply(normed, count: count, into: &b.queries, scratch: scratch)
        if let key, let value, let keyNorm {
            key.multiply(normed, count: count, into: &b.keys, scratch: scratch)
            value.multiply(normed, count: count, into: &b.values, scratch: scratch)
            Attention.normAndRotate(&b.keys, count: count, heads: kvHeads, headDimension: hd, weight: keyNorm, offset: 0,
                                    epsilon: epsilon, start: start, inverseFrequencies: inverseFrequencies)
            Kernels.rmsNormRows(&b.values, rows: count * kvHeads, width: hd, weight: nil, epsilon: epsilon)
            cache.store(layer: layer, start: start, count: count, keys: b.keys, values: b.values)
        }
        Attention.normAndRotate(&b.queries, count: count, heads: heads, headDimension: hd, weight: queryNorm, offset: 0,
                                epsilon: epsilon, start: start, inverseFrequencies: inverseFrequencies)
        Attention.attend(queries: b.queries, keys: cache.keys[cacheLayer], values: cache.values[cacheLayer], count: count,
                         start: start, heads: heads, kvHeads: kvHeads, headDimension: hd, window: window, scale: 1,
                         into: &b.attended, scores: &b.scores)
        output.multiply(b.attended, count: count, into: &result, scratch: scratch)
    }
}
