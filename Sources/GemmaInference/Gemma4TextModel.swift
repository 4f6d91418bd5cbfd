// Reference: huggingface/transformers models/gemma4/modeling_gemma4.py (Gemma4ForCausalLM, text, E2B/E4B shape).
import Foundation
import TensorModel
import TensorTypes

/// Gemma 4 text decoder with per-layer embeddings (PLE): each layer adds a gated projection of its own slice of
/// the per-layer input, then scales the residual by its `layer_scalar`. Full-attention layers have their own head
/// size and proportional RoPE; the last layers reuse the keys and values of the last earlier layer of their type.
///
/// The PLE table is read one token row at a time; from a pack that row is one contiguous record (token-major),
/// mapped from the file (or the companion `.ple` file) and dequantized on the fly.
public final class Gemma4TextModel: PerLayerEmbeddingModel {
    struct Layer {
        let inputNorm, postAttentionNorm, preFeedforwardNorm, postFeedforwardNorm, postPerLayerNorm, queryNorm: [Float]
        let keyNorm: [Float]?
        let query, output, gate, up, down, perLayerGate, perLayerProjection: LinearWeight
        let key, value: LinearWeight?
        let headDimension: Int
        let sliding: Bool
        let inverseFrequencies: [Float]
        let scalar: Float
        /// The layer whose cache this layer reads (itself unless KV-shared).
        let cacheLayer: Int
    }

    public let configuration: ModelConfiguration
    public private(set) var position = 0
    /// The 4 KiB pages of the PLE table's file that lookups have read so far (when the table is mapped).
    public private(set) var perLayerPagesRead = Set<Int>()
    let embedding, outputHead, perLayerTable, perLayerModelProjection: LinearWeight
    let finalNorm, perLayerProjectionNorm: [Float]
    let layers: [Layer]
    let embeddingScale, perLayerScale: Float
    let cache: KVCache
    let scratch: Scratch

    public init(source: any TensorSource, configuration c: ModelConfiguration, contextLength: Int) throws {
        configuration = c
        guard let ple = c.perLayerInputSize else { throw InferenceError.unsupportedArchitecture("gemma4 without per-layer inputs") }
        let names = TensorNames(source)
        let d = c.hiddenSize, layerCount = c.layerCount
        embedding = try names.matrix(hf: "embed_tokens.weight", gguf: "token_embd.weight", rows: c.vocabularySize, columns: d)
        outputHead = embedding
        perLayerTable = try names.matrix(hf: "embed_tokens_per_layer.weight", gguf: "per_layer_token_embd.weight",
                                         rows: c.perLayerVocabularySize ?? c.vocabularySize, columns: layerCount * ple)
        perLayerTable.adviseRandomAccess()  // a lookup table: one record per token, no read-ahead
        perLayerModelProjection = try names.matrix(hf: "per_layer_model_projection.weight", gguf: "per_layer_model_proj.weight",
                                                   rows: layerCount * ple, columns: d)
        perLayerProjectionNorm = try names.vector(hf: "per_layer_projection_norm.weight", gguf: "per_layer_proj_norm.weight", count: ple)
        finalNorm = try names.vector(hf: "norm.weight", gguf: "output_norm.weight", count: d)
        let firstShared = c.firstKVSharedLayer
        layers = try (0..<layerCount).map { i in
            let p = "layers.\(i).", g = "blk.\(i)."
            let sliding = c.layerTypes[i] == .sliding
            let hd = c.headDimension(layer: i)
            let shared = i >= firstShared
            let producer = shared ? (0..<firstShared).last { c.layerTypes[$0] == c.layerTypes[i] } ?? i : i
            let theta = sliding ? c.ropeLocalTheta : c.ropeTheta
            // Proportional RoPE: only the first fraction·hd/2 frequencies turn, with exponents over the full head size.
            let rotating = sliding ? hd / 2 : Int(c.fullAttentionRotaryFraction * Double(hd) / 2)
            let frequencies = (0..<(hd / 2)).map { $0 < rotating ? Float(pow(theta, -Double(2 * $0) / Double(hd))) : 0 }
            let scalarName = try names.resolve(hf: p + "layer_scalar", gguf: g + "layer_output_scale.weight")
            let scalar = try source.floats(scalarName)
            return Layer(
                inputNorm: try names.vector(hf: p + "input_layernorm.weight", gguf: g + "attn_norm.weight", count: d),
                postAttentionNorm: try names.vector(hf: p + "post_attention_layernorm.weight", gguf: g + "post_attention_norm.weight", count: d),
                preFeedforwardNorm: try names.vector(hf: p + "pre_feedforward_layernorm.weight", gguf: g + "ffn_norm.weight", count: d),
                postFeedforwardNorm: try names.vector(hf: p + "post_feedforward_layernorm.weight", gguf: g + "post_ffw_norm.weight", count: d),
                postPerLayerNorm: try names.vector(hf: p + "post_per_layer_input_norm.weight", gguf: g + "post_norm.weight", count: d),
                queryNorm: try names.vector(hf: p + "self_attn.q_norm.weight", gguf: g + "attn_q_norm.weight", count: hd),
                keyNorm: shared ? nil : try names.vector(hf: p + "self_attn.k_norm.weight", gguf: g + "attn_k_norm.weight", count: hd),
                query: try names.matrix(hf: p + "self_attn.q_proj.weight", gguf: g + "attn_q.weight", rows: c.headCount * hd, columns: d),
                output: try names.matrix(hf: p + "self_attn.o_proj.weight", gguf: g + "attn_output.weight", rows: d, columns: c.headCount * hd),
                gate: try names.matrix(hf: p + "mlp.gate_proj.weight", gguf: g + "ffn_gate.weight", rows: c.intermediateSizes[i], columns: d),
                up: try names.matrix(hf: p + "mlp.up_proj.weight", gguf: g + "ffn_up.weight", rows: c.intermediateSizes[i], columns: d),
                down: try names.matrix(hf: p + "mlp.down_proj.weight", gguf: g + "ffn_down.weight", rows: d, columns: c.intermediateSizes[i]),
                perLayerGate: try names.matrix(hf: p + "per_layer_input_gate.weight", gguf: g + "inp_gate.weight", rows: ple, columns: d),
                perLayerProjection: try names.matrix(hf: p + "per_layer_projection.weight", gguf: g + "proj.weight", rows: d, columns: ple),
                key: shared ? nil : try names.matrix(hf: p + "self_attn.k_proj.weight", gguf: g + "attn_k.weight", rows: c.keyValueHeadCount * hd, columns: d),
                value: shared ? nil : try names.matrix(hf: p + "self_attn.v_proj.weight", gguf: g + "attn_v.weight", rows: c.keyValueHeadCount * hd, columns: d),
                headDimension: hd, sliding: sliding, inverseFrequencies: frequencies,
                scalar: scalar.first ?? 1, cacheLayer: producer)
        }
        let embeddingBF16 = try source.descriptor(try names.resolve(hf: "embed_tokens.weight", gguf: "token_embd.weight")).encoding == .plain(.bf16)
        func scale(_ value: Double) -> Float {
            embeddingBF16 ? FloatConversion.float(fromBFloat16: FloatConversion.bfloat16(from: Float(value))) : Float(value)
        }
        embeddingScale = scale(Double(d).squareRoot())
        perLayerScale = scale(Double(ple).squareRoot())
        cache = KVCache(capacity: contextLength, widths: (0..<layerCount).map { $0 < firstShared ? c.keyValueHeadCount * c.headDimension(layer: $0) : 0 })
        let widest = max(d, c.intermediateSizes.max() ?? d, c.headCount * (c.globalHeadDimension ?? c.headDimension), layerCount * ple)
        scratch = Scratch(workers: max(1, min(8, ProcessInfo.processInfo.activeProcessorCount)), width: widest)
    }

    public func reset() { position = 0 }

    public func forward(_ tokens: [Int], allLogits: Bool) throws -> [Float] {
        let c = configuration
        let count = tokens.count, d = c.hiddenSize, ple = c.perLayerInputSize!, layerCount = c.layerCount
        guard position + count <= cache.capacity else { throw InferenceError.contextFull(capacity: cache.capacity) }
        let pleRows = perLayerTable.rows
        for token in tokens where token < 0 || token >= c.vocabularySize || token >= pleRows {
            throw InferenceError.tokenOutOfRange(token, vocabulary: min(c.vocabularySize, pleRows))
        }
        let epsilon = Float(c.rmsNormEpsilon)
        var hidden = [Float](repeating: 0, count: count * d)
        var perLayer = [Float](repeating: 0, count: count * layerCount * ple)
        hidden.withUnsafeMutableBufferPointer { h in
            perLayer.withUnsafeMutableBufferPointer { p in
                for (t, token) in tokens.enumerated() {
                    embedding.decodeRow(token, into: h.baseAddress! + t * d)
                    for i in 0..<d { h[t * d + i] *= embeddingScale }
                    perLayerTable.decodeRow(token, into: p.baseAddress! + t * layerCount * ple)  // one record per token
                    if let range = perLayerTable.fileRange(ofRow: token) {
                        for page in (range.lowerBound / 4096)...((range.upperBound - 1) / 4096) { perLayerPagesRead.insert(page) }
                    }
                }
            }
        }
        // Per-layer inputs: (rmsnorm(W·e / sqrt(D)) + table row · sqrt(ple)) / sqrt(2).
        var projected = [Float](repeating: 0, count: count * layerCount * ple)
        perLayerModelProjection.multiply(hidden, count: count, into: &projected, scratch: scratch)
        let projectionScale = Float(1 / Double(d).squareRoot()), combineScale = Float(1 / 2.0.squareRoot())
        projected.withUnsafeMutableBufferPointer { x in
            for slice in 0..<(count * layerCount) {
                let start = x.baseAddress! + slice * ple
                for i in 0..<ple { start[i] *= projectionScale }
                Kernels.rmsNorm(start, ple, weight: perLayerProjectionNorm, offset: 0, epsilon: epsilon)
            }
        }
        for i in perLayer.indices { perLayer[i] = (projected[i] + perLayer[i] * perLayerScale) * combineScale }

        var normed = [Float](repeating: 0, count: count * d)
        var sublayer = [Float](repeating: 0, count: count * d)
        let widestHeads = c.headCount * (c.globalHeadDimension ?? c.headDimension)
        var queries = [Float](repeating: 0, count: count * widestHeads)
        var keys = [Float](repeating: 0, count: count * widestHeads)
        var values = [Float](repeating: 0, count: count * widestHeads)
        var attended = [Float](repeating: 0, count: count * widestHeads)
        let widest = c.intermediateSizes.max() ?? d
        var gates = [Float](repeating: 0, count: count * widest)
        var ups = [Float](repeating: 0, count: count * widest)
        var gated = [Float](repeating: 0, count: count * ple)
        var scores = [Float](repeating: 0, count: cache.capacity)

        for (index, layer) in layers.enumerated() {
            let hd = layer.headDimension, heads = c.headCount, kvHeads = c.keyValueHeadCount
            normRows(from: hidden, into: &normed, weight: layer.inputNorm, count: count, width: d)
            layer.query.multiply(normed, count: count, into: &queries, scratch: scratch)
            if let key = layer.key, let value = layer.value, let keyNorm = layer.keyNorm {
                key.multiply(normed, count: count, into: &keys, scratch: scratch)
                value.multiply(normed, count: count, into: &values, scratch: scratch)
                for t in 0..<count {
                    keys.withUnsafeMutableBufferPointer { k in values.withUnsafeMutableBufferPointer { v in
                        for h in 0..<kvHeads {
                            let head = k.baseAddress! + (t * kvHeads + h) * hd
                            Kernels.rmsNorm(head, hd, weight: keyNorm, offset: 0, epsilon: epsilon)
                            Kernels.rope(head, headDimension: hd, position: position + t, inverseFrequencies: layer.inverseFrequencies)
                            Kernels.rmsNorm(v.baseAddress! + (t * kvHeads + h) * hd, hd, weight: nil, offset: 0, epsilon: epsilon)
                        }
                        cache.store(layer: index, position: position + t, key: k.baseAddress! + t * kvHeads * hd, value: v.baseAddress! + t * kvHeads * hd)
                    } }
                }
            }
            queries.withUnsafeMutableBufferPointer { q in
                for t in 0..<count {
                    for h in 0..<heads {
                        let head = q.baseAddress! + (t * heads + h) * hd
                        Kernels.rmsNorm(head, hd, weight: layer.queryNorm, offset: 0, epsilon: epsilon)
                        Kernels.rope(head, headDimension: hd, position: position + t, inverseFrequencies: layer.inverseFrequencies)
                    }
                }
            }
            attend(cacheLayer: layer.cacheLayer, sliding: layer.sliding, headDimension: hd, queries: queries, count: count,
                   into: &attended, scores: &scores)
            layer.output.multiply(attended, count: count, into: &sublayer, scratch: scratch)
            addNormed(&hidden, &sublayer, layer.postAttentionNorm, count: count)

            normRows(from: hidden, into: &normed, weight: layer.preFeedforwardNorm, count: count, width: d)
            let width = c.intermediateSizes[index]
            layer.gate.multiply(normed, count: count, into: &gates, scratch: scratch)
            layer.up.multiply(normed, count: count, into: &ups, scratch: scratch)
            for i in 0..<(count * width) { gates[i] = Kernels.gelu(gates[i]) * ups[i] }
            layer.down.multiply(gates, count: count, into: &sublayer, scratch: scratch)
            addNormed(&hidden, &sublayer, layer.postFeedforwardNorm, count: count)

            // The layer's own slice of the per-layer input, gated by the hidden state.
            layer.perLayerGate.multiply(hidden, count: count, into: &gated, scratch: scratch)
            for t in 0..<count {
                for i in 0..<ple { gated[t * ple + i] = Kernels.gelu(gated[t * ple + i]) * perLayer[(t * layerCount + index) * ple + i] }
            }
            layer.perLayerProjection.multiply(gated, count: count, into: &sublayer, scratch: scratch)
            addNormed(&hidden, &sublayer, layer.postPerLayerNorm, count: count)
            for i in 0..<(count * d) { hidden[i] *= layer.scalar }
        }
        position += count

        let first = allLogits ? 0 : count - 1
        let rows = count - first
        var final = Array(hidden[(first * d)...])
        normRows(from: final, into: &final, weight: finalNorm, count: rows, width: d)
        var logits = [Float](repeating: 0, count: rows * c.vocabularySize)
        outputHead.multiply(final, count: rows, into: &logits, scratch: scratch)
        if let cap = c.finalLogitSoftcap.map(Float.init) {
            for i in logits.indices { logits[i] = cap * tanh(logits[i] / cap) }
        }
        return logits
    }

    private func normRows(from source: [Float], into target: inout [Float], weight: [Float], count: Int, width: Int) {
        target.overwrite(with: source)
        target.withUnsafeMutableBufferPointer { x in
            for t in 0..<count {
                Kernels.rmsNorm(x.baseAddress! + t * width, width, weight: weight, offset: 0, epsilon: Float(configuration.rmsNormEpsilon))
            }
        }
    }

    private func addNormed(_ x: inout [Float], _ y: inout [Float], _ weight: [Float], count: Int) {
        let d = configuration.hiddenSize
        y.withUnsafeMutableBufferPointer { y in
            for t in 0..<count {
                Kernels.rmsNorm(y.baseAddress! + t * d, d, weight: weight, offset: 0, epsilon: Float(configuration.rmsNormEpsilon))
            }
            for i in 0..<(count * d) { x[i] += y[i] }
        }
    }

    /// Causal attention (windowed on sliding layers) over the cache of `cacheLayer`, with softmax scale 1.
    private func attend(cacheLayer: Int, sliding: Bool, headDimension hd: Int, queries: [Float], count: Int,
                        into output: inout [Float], scores: inout [Float]) {
        Attention.attend(queries: queries, keys: cache.keys[cacheLayer], values: cache.values[cacheLayer], count: count,
                         start: position, heads: configuration.headCount, kvHeads: configuration.keyValueHeadCount,
                         headDimension: hd, window: sliding ? configuration.slidingWindow : nil, scale: 1,
                         into: &output, scores: &scores)
    }
}
