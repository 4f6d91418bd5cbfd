// Reference: huggingface/transformers models/gemma3/modeling_gemma3.py (Gemma3ForCausalLM, text only).
import Foundation
import TensorModel
import TensorTypes

/// Gemma 3 text decoder: sliding-window and full attention with q/k norms, GeGLU MLP, four norms per layer,
/// tied output head. Norm weights are applied as `(offset + w)`, the offset coming from the source
/// (1 for Hugging Face checkpoints, 0 for llama.cpp GGUFs, which bake the 1 in).
public final class Gemma3TextModel: CausalLanguageModel {
    struct Layer {
        let inputNorm, postAttentionNorm, preFeedforwardNorm, postFeedforwardNorm, queryNorm, keyNorm: [Float]
        let query, key, value, output, gate, up, down: LinearWeight
        let sliding: Bool
        let inverseFrequencies: [Float]
        let intermediate: Int
    }

    public let configuration: ModelConfiguration
    public let numerics: Numerics
    public private(set) var position = 0
    /// Called during ``forward(_:allLogits:)`` with each layer's output (`count × hidden` values), to compare a run
    /// layer by layer with another implementation's.
    public var layerOutputObserver: ((_ layer: Int, _ hidden: [Float]) -> Void)?
    let embedding: LinearWeight
    let outputHead: LinearWeight
    let finalNorm: [Float]
    let layers: [Layer]
    let embeddingScale: Float
    let attentionScale: Float
    let cache: KVCache
    let scratch: Scratch
    private var activations = Activations()

    /// The activations of a forward call, kept between calls: each array keeps its storage, so that decoding
    /// allocates nothing per token but the logits it returns.
    struct Activations {
        var hidden: [Float] = [], normed: [Float] = [], queries: [Float] = [], keys: [Float] = [], values: [Float] = []
        var attended: [Float] = [], projected: [Float] = [], gates: [Float] = [], ups: [Float] = [], scores: [Float] = []
        var final: [Float] = []

        /// Every buffer as zeros for `tokens` tokens of the given widths, in the storage it already has where that is
        /// large enough.
        mutating func prepare(tokens: Int, hidden d: Int, queries q: Int, keys k: Int, intermediate: Int, scores s: Int) {
            hidden.zero(count: tokens * d)
            normed.zero(count: tokens * d)
            projected.zero(count: tokens * d)
            queries.zero(count: tokens * q)
            attended.zero(count: tokens * q)
            keys.zero(count: tokens * k)
            values.zero(count: tokens * k)
            gates.zero(count: tokens * intermediate)
            ups.zero(count: tokens * intermediate)
            scores.zero(count: s)
        }
    }

    public init(source: any TensorSource, configuration c: ModelConfiguration, contextLength: Int, numerics: Numerics = .exact) throws {
        self.numerics = numerics
        configuration = c
        let names = TensorNames(source, numerics: numerics)
        let d = c.hiddenSize, hd = c.headDimension
        embedding = try names.matrix(hf: "embed_tokens.weight", gguf: "token_embd.weight", rows: c.vocabularySize, columns: d)
        outputHead = names.has(hf: "lm_head.weight", gguf: "output.weight")
            ? try names.matrix(hf: "lm_head.weight", gguf: "output.weight", rows: c.vocabularySize, columns: d) : embedding
        finalNorm = try names.vector(hf: "norm.weight", gguf: "output_norm.weight", count: d)
        layers = try (0..<c.layerCount).map { i in
            let p = "layers.\(i).", g = "blk.\(i)."
            let sliding = c.layerTypes[i] == .sliding
            let theta = sliding ? c.ropeLocalTheta : c.ropeTheta
            return Layer(
                inputNorm: try names.vector(hf: p + "input_layernorm.weight", gguf: g + "attn_norm.weight", count: d),
                postAttentionNorm: try names.vector(hf: p + "post_attention_layernorm.weight", gguf: g + "post_attention_norm.weight", count: d),
                preFeedforwardNorm: try names.vector(hf: p + "pre_feedforward_layernorm.weight", gguf: g + "ffn_norm.weight", count: d),
                postFeedforwardNorm: try names.vector(hf: p + "post_feedforward_layernorm.weight", gguf: g + "post_ffw_norm.weight", count: d),
                queryNorm: try names.vector(hf: p + "self_attn.q_norm.weight", gguf: g + "attn_q_norm.weight", count: hd),
                keyNorm: try names.vector(hf: p + "self_attn.k_norm.weight", gguf: g + "attn_k_norm.weight", count: hd),
                query: try names.matrix(hf: p + "self_attn.q_proj.weight", gguf: g + "attn_q.weight", rows: c.headCount * hd, columns: d),
                key: try names.matrix(hf: p + "self_attn.k_proj.weight", gguf: g + "attn_k.weight", rows: c.keyValueHeadCount * hd, columns: d),
                value: try names.matrix(hf: p + "self_attn.v_proj.weight", gguf: g + "attn_v.weight", rows: c.keyValueHeadCount * hd, columns: d),
                output: try names.matrix(hf: p + "self_attn.o_proj.weight", gguf: g + "attn_output.weight", rows: d, columns: c.headCount * hd),
                gate: try names.matrix(hf: p + "mlp.gate_proj.weight", gguf: g + "ffn_gate.weight", rows: c.intermediateSizes[i], columns: d),
                up: try names.matrix(hf: p + "mlp.up_proj.weight", gguf: g + "ffn_up.weight", rows: c.intermediateSizes[i], columns: d),
                down: try names.matrix(hf: p + "mlp.down_proj.weight", gguf: g + "ffn_down.weight", rows: d, columns: c.intermediateSizes[i]),
                sliding: sliding,
                inverseFrequencies: (0..<(hd / 2)).map { Float(pow(theta, -Double(2 * $0) / Double(hd))) },
                intermediate: c.intermediateSizes[i])
        }
        // Hugging Face multiplies by sqrt(hidden) cast to the embedding's dtype; llama.cpp by the f32 sqrt.
        let scale = Float(Double(d).squareRoot())
        let embeddingName = try names.resolve(hf: "embed_tokens.weight", gguf: "token_embd.weight")
        embeddingScale = try source.descriptor(embeddingName).encoding == .plain(.bf16)
            ? FloatConversion.float(fromBFloat16: FloatConversion.bfloat16(from: scale)) : scale
        attentionScale = Float(1 / (c.queryPreAttentionScalar ?? Double(hd)).squareRoot())
        cache = KVCache(capacity: contextLength, widths: Array(repeating: c.keyValueHeadCount * hd, count: c.layerCount))
        let widest = max(d, c.intermediateSizes.max() ?? d, c.headCount * hd)
        scratch = Scratch(workers: WorkerPool.shared.participants, width: widest)
    }

    public func reset() { position = 0 }

    public func forward(_ tokens: [Int], allLogits: Bool) throws -> [Float] {
        let c = configuration
        let count = tokens.count
        guard position + count <= cache.capacity else { throw InferenceError.contextFull(capacity: cache.capacity) }
        for token in tokens where token < 0 || token >= c.vocabularySize { throw InferenceError.tokenOutOfRange(token, vocabulary: c.vocabularySize) }
        let d = c.hiddenSize, hd = c.headDimension, heads = c.headCount, kvHeads = c.keyValueHeadCount
        let epsilon = Float(c.rmsNormEpsilon), offset = c.normWeightOffset
        var a = activations
        activations = Activations()  // so that `a` holds the only reference and writes do not copy
        defer { activations = a }
        let widest = c.intermediateSizes.max() ?? d
        a.prepare(tokens: count, hidden: d, queries: heads * hd, keys: kvHeads * hd, intermediate: widest,
                  scores: Attention.scoresCount(capacity: cache.capacity))
        a.hidden.withUnsafeMutableBufferPointer { h in
            for (t, token) in tokens.enumerated() {
                embedding.decodeRow(token, into: h.baseAddress! + t * d)
                for i in 0..<d { h[t * d + i] *= embeddingScale }
            }
        }

        for (index, layer) in layers.enumerated() {
            // Attention.
            a.normed.overwrite(with: a.hidden)
            a.normed.withUnsafeMutableBufferPointer { x in
                for t in 0..<count { Kernels.rmsNorm(x.baseAddress! + t * d, d, weight: layer.inputNorm, offset: offset, epsilon: epsilon) }
            }
            layer.query.multiply(a.normed, count: count, into: &a.queries, scratch: scratch)
            layer.key.multiply(a.normed, count: count, into: &a.keys, scratch: scratch)
            layer.value.multiply(a.normed, count: count, into: &a.values, scratch: scratch)
            Attention.normAndRotate(&a.queries, count: count, heads: heads, headDimension: hd, weight: layer.queryNorm, offset: offset,
                                    epsilon: epsilon, start: position, inverseFrequencies: layer.inverseFrequencies)
            Attention.normAndRotate(&a.keys, count: count, heads: kvHeads, headDimension: hd, weight: layer.keyNorm, offset: offset,
                                    epsilon: epsilon, start: position, inverseFrequencies: layer.inverseFrequencies)
            cache.store(layer: index, start: position, count: count, keys: a.keys, values: a.values)
            attend(layer: index, sliding: layer.sliding, queries: a.queries, count: count, into: &a.attended, scores: &a.scores)
            layer.output.multiply(a.attended, count: count, into: &a.projected, scratch: scratch)
            addNormed(&a.hidden, &a.projected, layer.postAttentionNorm, count: count)

            // MLP.
            a.normed.overwrite(with: a.hidden)
            a.normed.withUnsafeMutableBufferPointer { x in
                for t in 0..<count { Kernels.rmsNorm(x.baseAddress! + t * d, d, weight: layer.preFeedforwardNorm, offset: offset, epsilon: epsilon) }
            }
            let width = layer.intermediate
            layer.gate.multiply(a.normed, count: count, into: &a.gates, scratch: scratch)
            layer.up.multiply(a.normed, count: count, into: &a.ups, scratch: scratch)
            Kernels.geglu(&a.gates, by: a.ups, count: count * width, numerics: numerics)
            layer.down.multiply(a.gates, count: count, into: &a.projected, scratch: scratch)
            addNormed(&a.hidden, &a.projected, layer.postFeedforwardNorm, count: count)
            layerOutputObserver?(index, a.hidden)
        }
        position += count

        let first = allLogits ? 0 : count - 1
        let rows = count - first
        a.final.removeAll(keepingCapacity: true)
        a.final.append(contentsOf: a.hidden[(first * d)...])
        a.final.withUnsafeMutableBufferPointer { x in
            for t in 0..<rows { Kernels.rmsNorm(x.baseAddress! + t * d, d, weight: finalNorm, offset: offset, epsilon: epsilon) }
        }
        var logits = [Float](repeating: 0, count: rows * c.vocabularySize)
        outputHead.multiply(a.final, count: rows, into: &logits, scratch: scratch)
        if let cap = c.finalLogitSoftcap.map(Float.init) {
            for i in logits.indices { logits[i] = cap * tanh(logits[i] / cap) }
        }
        return logits
    }

    /// x += rmsnorm(y, w) for each of `count` rows.
    private func addNormed(_ x: inout [Float], _ y: inout [Float], _ weight: [Float], count: Int) {
        let d = configuration.hiddenSize
        y.withUnsafeMutableBufferPointer { y in
            for t in 0..<count {
                Kernels.rmsNorm(y.baseAddress! + t * d, d, weight: weight, offset: configuration.normWeightOffset,
                                epsilon: Float(configuration.rmsNormEpsilon))
            }
            for i in 0..<(count * d) { x[i] += y[i] }
        }
    }

    /// Causal (and for sliding layers windowed) attention of `count` new queries over the cache.
    private func attend(layer: Int, sliding: Bool, queries: [Float], count: Int, into output: inout [Float], scores: inout [Float]) {
        Attention.attend(queries: queries, keys: cache.keys[layer], values: cache.values[layer], count: count, start: position,
                         heads: configuration.headCount, kvHeads: configuration.keyValueHeadCount,
                         headDimension: configuration.headDimension, window: sliding ? configuration.slidingWindow : nil,
                         scale: attentionScale, into: &output, scores: &scores)
    }
}
