// Reference: huggingface/transformers models/gemma4/modeling_gemma4.py (Gemma4ForCausalLM, text, E2B/E4B shape).
import Foundation
import TensorModel

/// Gemma 4 text decoder with per-layer embeddings (PLE): each layer adds a gated projection of its own slice of
/// the per-layer input, then scales the residual by its `layer_scalar`. Full-attention layers have their own head
/// size and proportional RoPE; the last layers reuse the keys and values of the last earlier layer of their type.
///
/// The PLE table is read one token row at a time; from a pack that row is one contiguous record (token-major),
/// mapped from the file (or the companion `.ple` file) and dequantized on the fly.
public final class Gemma4TextModel: PerLayerEmbeddingModel {
    struct Layer {
        let inputNorm, postAttentionNorm, preFeedforwardNorm, postFeedforwardNorm, postPerLayerNorm: [Float]
        let attention: PerLayerSelfAttention
        let gate, up, down, perLayerGate, perLayerProjection: LinearWeight
        let scalar: Float
    }

    public let configuration: ModelConfiguration
    public let numerics: Numerics
    public private(set) var position = 0
    public var perLayerPagesRead: Set<Int> { inputs.pagesRead }
    let inputs: PerLayerInputs
    let finalNorm: [Float]
    let layers: [Layer]
    let cache: KVCache
    let scratch: Scratch
    private var activations = Activations()

    /// The activations of a forward call, kept between calls: each array keeps its storage, so that decoding
    /// allocates nothing per token but the logits it returns.
    struct Activations {
        var hidden: [Float] = [], perLayer: [Float] = [], normed: [Float] = [], sublayer: [Float] = []
        var gates: [Float] = [], ups: [Float] = [], gated: [Float] = [], final: [Float] = []
        var attention = PerLayerSelfAttention.Buffers()
    }

    public init(source: any TensorSource, configuration c: ModelConfiguration, contextLength: Int, numerics: Numerics = .exact) throws {
        self.numerics = numerics
        configuration = c
        guard let ple = c.perLayerInputSize else { throw InferenceError.unsupportedArchitecture("gemma4 without per-layer inputs") }
        let names = TensorNames(source, numerics: numerics)
        let d = c.hiddenSize, layerCount = c.layerCount
        inputs = try PerLayerInputs(names, c, width: ple)
        finalNorm = try names.vector(hf: "norm.weight", gguf: "output_norm.weight", count: d)
        let firstShared = c.firstKVSharedLayer
        layers = try (0..<layerCount).map { i in
            let p = "layers.\(i).", g = "blk.\(i)."
            let sliding = c.layerTypes[i] == .sliding
            let hd = c.headDimension(layer: i)
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
                attention: try PerLayerSelfAttention(names, c, layer: i, headDimension: hd, inverseFrequencies: frequencies),
                gate: try names.matrix(hf: p + "mlp.gate_proj.weight", gguf: g + "ffn_gate.weight", rows: c.intermediateSizes[i], columns: d),
                up: try names.matrix(hf: p + "mlp.up_proj.weight", gguf: g + "ffn_up.weight", rows: c.intermediateSizes[i], columns: d),
                down: try names.matrix(hf: p + "mlp.down_proj.weight", gguf: g + "ffn_down.weight", rows: d, columns: c.intermediateSizes[i]),
                perLayerGate: try names.matrix(hf: p + "per_layer_input_gate.weight", gguf: g + "inp_gate.weight", rows: ple, columns: d),
                perLayerProjection: try names.matrix(hf: p + "per_layer_projection.weight", gguf: g + "proj.weight", rows: d, columns: ple),
                scalar: scalar.first ?? 1)
        }
        cache = KVCache(capacity: contextLength, widths: (0..<layerCount).map { $0 < firstShared ? c.keyValueHeadCount * c.headDimension(layer: $0) : 0 })
        let widest = max(d, c.intermediateSizes.max() ?? d, c.headCount * (c.globalHeadDimension ?? c.headDimension), layerCount * ple)
        scratch = Scratch(workers: WorkerPool.shared.participants, width: widest)
    }

    public func reset() { position = 0 }

    public func forward(_ tokens: [Int], allLogits: Bool) throws -> [Float] {
        let c = configuration
        let count = tokens.count, d = c.hiddenSize, ple = c.perLayerInputSize!
        guard position + count <= cache.capacity else { throw InferenceError.contextFull(capacity: cache.capacity) }
        let pleRows = inputs.table.rows
        for token in tokens where token < 0 || token >= c.vocabularySize || token >= pleRows {
            throw InferenceError.tokenOutOfRange(token, vocabulary: min(c.vocabularySize, pleRows))
        }
        let epsilon = Float(c.rmsNormEpsilon)
        var a = activations
        activations = Activations()  // so that `a` holds the only reference and writes do not copy
        defer { activations = a }
        inputs(tokens, tableRow: { $0 }, epsilon: epsilon, scratch: scratch, embedded: &a.hidden, perLayer: &a.perLayer)
        let widest = c.intermediateSizes.max() ?? d
        a.normed.zero(count: count * d)
        a.sublayer.zero(count: count * d)
        a.gates.zero(count: count * widest)
        a.ups.zero(count: count * widest)
        a.gated.zero(count: count * ple)
        a.attention.prepare(count: count, widestHeads: c.headCount * (c.globalHeadDimension ?? c.headDimension), capacity: cache.capacity)

        for (index, layer) in layers.enumerated() {
            normRows(from: a.hidden, into: &a.normed, weight: layer.inputNorm, count: count, width: d)
            layer.attention(a.normed, layer: index, count: count, start: position, heads: c.headCount, kvHeads: c.keyValueHeadCount,
                            epsilon: epsilon, cache: cache, buffers: &a.attention, scratch: scratch, into: &a.sublayer)
            addNormed(&a.hidden, &a.sublayer, layer.postAttentionNorm, count: count)

            normRows(from: a.hidden, into: &a.normed, weight: layer.preFeedforwardNorm, count: count, width: d)
            let width = c.intermediateSizes[index]
            layer.gate.multiply(a.normed, count: count, into: &a.gates, scratch: scratch)
            layer.up.multiply(a.normed, count: count, into: &a.ups, scratch: scratch)
            Kernels.geglu(&a.gates, by: a.ups, count: count * width, numerics: numerics)
            layer.down.multiply(a.gates, count: count, into: &a.sublayer, scratch: scratch)
            addNormed(&a.hidden, &a.sublayer, layer.postFeedforwardNorm, count: count)

            // The layer's own slice of the per-layer input, gated by the hidden state.
            layer.perLayerGate.multiply(a.hidden, count: count, into: &a.gated, scratch: scratch)
            inputs.gate(&a.gated, by: a.perLayer, layer: index, count: count, numerics: numerics)
            layer.perLayerProjection.multiply(a.gated, count: count, into: &a.sublayer, scratch: scratch)
            addNormed(&a.hidden, &a.sublayer, layer.postPerLayerNorm, count: count)
            for i in 0..<(count * d) { a.hidden[i] *= layer.scalar }
        }
        position += count

        let first = allLogits ? 0 : count - 1
        let rows = count - first
        a.final.removeAll(keepingCapacity: true)
        a.final.append(contentsOf: a.hidden[(first * d)...])
        Kernels.rmsNormRows(&a.final, rows: rows, width: d, weight: finalNorm, epsilon: epsilon)
        var logits = [Float](repeating: 0, count: rows * c.vocabularySize)
        inputs.embedding.multiply(a.final, count: rows, into: &logits, scratch: scratch)
        if let cap = c.finalLogitSoftcap.map(Float.init) {
            for i in logits.indices { logits[i] = cap * tanh(logits[i] / cap) }
        }
        return logits
    }

    private func normRows(from source: [Float], into target: inout [Float], weight: [Float], count: Int, width: Int) {
        target.overwrite(with: source)
        Kernels.rmsNormRows(&target, rows: count, width: width, weight: weight, epsilon: Float(configuration.rmsNormEpsilon))
    }

    private func addNormed(_ x: inout [Float], _ y: inout [Float], _ weight: [Float], count: Int) {
        let d = configuration.hiddenSize
        Kernels.rmsNormRows(&y, rows: count, width: d, weight: weight, epsilon: Float(configuration.rmsNormEpsilon))
        for i in 0..<(count * d) { x[i] += y[i] }
    }
}
