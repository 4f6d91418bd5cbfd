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
        var hidden = [Float](repeating: 0, count: count * d)
        hidden.withUnsafeMutableBufferPointer { h in
            for (t, token) in tokens.enumerated() {
                embedding.decodeRow(token, into: h.baseAddress! + t * d)
                for i in 0..<d { h[t * d + i] *= embeddingScale }
            }
        }
        var normed = [Float](repeating: 0, count: count * d)
        var queries = [Float](repeating: 0, count: count * heads * hd)
        var keys = [Float](repeating: 0, count: count * kvHeads * hd)
        var values = [Float](repeating: 0, count: count * kvHeads * hd)
        var attended = [Float](repeating: 0, count: count * heads * hd)
        var projected = [Float](repeating: 0, count: count * d)
        let widest = c.intermediateSizes.max() ?? d
        var gates = [Float](repeating: 0, count: count * widest)
        var ups = [Float](repeating: 0, count: count * widest)
        var scores = [Float](repeating: 0, count: Attention.scoresCount(capacity: cache.capacity))

        for (index, layer) in layers.enumerated() {
            // Attention.
            normed.overwrite(with: hidden)
            normed.withUnsafeMutableBufferPointer { x in
                for t in 0..<count { Kernels.rmsNorm(x.baseAddress! + t * d, d, weight: layer.inputNorm, offset: offset, epsilon: epsilon) }
            }
            layer.query.multiply(normed, count: count, into: &queries, scratch: scratch)
            layer.key.multiply(normed, count: count, into: &keys, scratch: scratch)
            layer.value.multiply(normed, count: count, into: &values, scratch: scratch)
            Attention.normAndRotate(&queries, count: count, heads: heads, headDimension: hd, weight: layer.queryNorm, offset: offset,
                                    epsilon: epsilon, start: position, inverseFrequencies: layer.inverseFrequencies)
            Attention.normAndRotate(&keys, count: count, heads: kvHeads, headDimension: hd, weight: layer.keyNorm, offset: offset,
                                    epsilon: epsilon, start: position, inverseFrequencies: layer.inverseFrequencies)
            cache.store(layer: index, start: position, count: count, keys: keys, values: values)
            attend(layer: index, sliding: layer.sliding, queries: queries, count: count, into: &attended, scores: &scores)
            layer.output.multiply(attended, count: count, into: &projected, scratch: scratch)
            addNormed(&hidden, &projected, layer.postAttentionNorm, count: count)

            // MLP.
            normed.overwrite(with: hidden)
            normed.withUnsafeMutableBufferPointer { x in
                for t in 0..<count { Kernels.rmsNorm(x.baseAddress! + t * d, d, weight: layer.preFeedforwardNorm, offset: offset, epsilon: epsilon) }
            }
            let width = layer.intermediate
            layer.gate.multiply(normed, count: count, into: &gates, scratch: scratch)
            layer.up.multiply(normed, count: count, into: &ups, scratch: scratch)
            Kernels.geglu(&gates, by: ups, count: count * width, numerics: numerics)
            layer.down.multiply(gates, count: count, into: &projected, scratch: scratch)
            addNormed(&hidden, &projected, layer.postFeedforwardNorm, count: count)
            layerOutputObserver?(index, hidden)
        }
        position += count

        let first = allLogits ? 0 : count - 1
        let rows = count - first
        var final = Array(hidden[(first * d)...])
        final.withUnsafeMutableBufferPointer { x in
            for t in 0..<rows { Kernels.rmsNorm(x.baseAddress! + t * d, d, weight: finalNorm, offset: offset, epsilon: epsilon) }
        }
        var logits = [Float](repeating: 0, count: rows * c.vocabularySize)
        outputHead.multiply(final, count: rows, into: &logits, scratch: scratch)
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
