// Reference: huggingface/transformers models/gemma3n/modeling_gemma3n.py (Gemma3nForCausalLM, text only).
import Foundation
import TensorModel

/// Gemma 3n text decoder: the hidden state travels as `altup_num_inputs` streams (AltUp). Each layer predicts all
/// streams from a learned mix, runs attention and MLP on the active one (with a LAuReL low-rank side path and,
/// on the first layers, gaussian top-k activation sparsity), corrects every stream by the innovation, and adds the
/// gated projection of its per-layer input to the other streams. The last layers reuse the keys and values of
/// the last earlier layer of their type. Norms multiply by `w`; attention has no 1/√d scale.
///
/// The PLE table is read one token record at a time (token ids past its vocabulary read row 0, as transformers
/// does); from a pack that record is mapped and dequantized on the fly.
public final class Gemma3nTextModel: PerLayerEmbeddingModel {
    struct Layer {
        let inputNorm, postAttentionNorm, preFeedforwardNorm, postFeedforwardNorm, postPerLayerNorm: [Float]
        let routerNorm, laurelPostNorm, correctOutputScale: [Float]
        let attention: PerLayerSelfAttention
        let gate, up, down, perLayerGate, perLayerProjection, laurelLeft, laurelRight, router: LinearWeight
        /// AltUp coefficients from the router's modalities: prediction `[n·n, n]`, correction `[n, n]`.
        let predictionCoefficients, correctionCoefficients: [Float]
        /// Standard deviations above the mean below which gate activations are zeroed (nil: dense layer).
        let sparsityCutoff: Float?
    }

    public let configuration: ModelConfiguration
    public let numerics: Numerics
    public private(set) var position = 0
    public var perLayerPagesRead: Set<Int> { inputs.pagesRead }
    let inputs: PerLayerInputs
    let streamProjections, streamUnprojections: StreamProjections
    let finalNorm: [Float]
    let layers: [Layer]
    let streamCount, activeStream: Int
    let cache: KVCache
    let scratch: Scratch
    private var activations = Activations()

    /// The activations of a forward call, kept between calls: each array keeps its storage, so that decoding
    /// allocates nothing per token but the logits it returns.
    struct Activations {
        var embedded: [Float] = [], perLayer: [Float] = [], streams: [[Float]] = [], predictions: [[Float]] = []
        var normed: [Float] = [], sublayer: [Float] = [], laurel: [Float] = [], low: [Float] = [], gates: [Float] = []
        var ups: [Float] = [], gated: [Float] = [], modalities: [Float] = [], activated: [Float] = [], mix: [Float] = []
        var final: [Float] = []
        var attention = PerLayerSelfAttention.Buffers()

        /// Every buffer as zeros for `tokens` tokens, in the storage it already has where that is large enough
        /// (the embeddings and per-layer inputs are written by ``PerLayerInputs``).
        mutating func prepare(tokens: Int, _ c: ModelConfiguration, streams n: Int, capacity: Int) {
            let d = c.hiddenSize
            if streams.count != n { streams = Array(repeating: [], count: n) }
            if predictions.count != n { predictions = Array(repeating: [], count: n) }
            for s in 0..<n {
                streams[s].zero(count: tokens * d)
                predictions[s].zero(count: tokens * d)
            }
            normed.zero(count: tokens * d)
            sublayer.zero(count: tokens * d)
            laurel.zero(count: tokens * d)
            activated.zero(count: tokens * d)
            low.zero(count: tokens * (c.laurelRank ?? 1))
            gates.zero(count: tokens * (c.intermediateSizes.max() ?? d))
            ups.zero(count: tokens * (c.intermediateSizes.max() ?? d))
            gated.zero(count: tokens * (c.perLayerInputSize ?? 0))
            modalities.zero(count: tokens * n)
            mix.zero(count: n * n)
            attention.prepare(count: tokens, widestHeads: c.headCount * c.headDimension, capacity: capacity)
        }
    }

    public init(source: any TensorSource, configuration c: ModelConfiguration, contextLength: Int, numerics: Numerics = .exact) throws {
        self.numerics = numerics
        configuration = c
        guard let ple = c.perLayerInputSize, let n = c.altupInputCount, let rank = c.laurelRank else {
            throw InferenceError.unsupportedArchitecture("gemma3n without per-layer inputs, AltUp or LAuReL")
        }
        streamCount = n
        activeStream = c.altupActiveIndex ?? 0
        let names = TensorNames(source, numerics: numerics)
        let d = c.hiddenSize, layerCount = c.layerCount, hd = c.headDimension
        inputs = try PerLayerInputs(names, c, width: ple)
        finalNorm = try names.vector(hf: "norm.weight", gguf: "output_norm.weight", count: d)
        streamProjections = try StreamProjections(names, hf: "altup_projections", gguf: "altup_proj.weight", streams: n, width: d)
        streamUnprojections = try StreamProjections(names, hf: "altup_unembed_projections", gguf: "altup_unembd_proj.weight",
                                                    streams: n, width: d)
        let firstShared = c.firstKVSharedLayer
        layers = try (0..<layerCount).map { i in
            let p = "layers.\(i).", g = "blk.\(i)."
            let sliding = c.layerTypes[i] == .sliding
            let theta = sliding ? c.ropeLocalTheta : c.ropeTheta
            let frequencies = (0..<(hd / 2)).map { Float(pow(theta, -Double(2 * $0) / Double(hd))) }
            let sparsity = i < c.activationSparsity.count ? c.activationSparsity[i] : 0
            func coefficients(hf: String, gguf: String, count: Int) throws -> [Float] {
                let name = try names.resolve(hf: p + hf, gguf: g + gguf)
                let values = try source.floats(name)
                guard values.count == count else { throw InferenceError.shapeMismatch(tensor: name, expected: [count], actual: [values.count]) }
                return values
            }
            return Layer(
                inputNorm: try names.vector(hf: p + "input_layernorm.weight", gguf: g + "attn_norm.weight", count: d),
                postAttentionNorm: try names.vector(hf: p + "post_attention_layernorm.weight", gguf: g + "post_attention_norm.weight", count: d),
                preFeedforwardNorm: try names.vector(hf: p + "pre_feedforward_layernorm.weight", gguf: g + "ffn_norm.weight", count: d),
                postFeedforwardNorm: try names.vector(hf: p + "post_feedforward_layernorm.weight", gguf: g + "post_ffw_norm.weight", count: d),
                postPerLayerNorm: try names.vector(hf: p + "post_per_layer_input_norm.weight", gguf: g + "post_norm.weight", count: d),
                routerNorm: try names.vector(hf: p + "altup.router_norm.weight", gguf: g + "altup_router_norm.weight", count: d),
                laurelPostNorm: try names.vector(hf: p + "laurel.post_laurel_norm.weight", gguf: g + "laurel_post_norm.weight", count: d),
                correctOutputScale: c.altupCorrectScale
                    ? try names.vector(hf: p + "altup.correct_output_scale", gguf: g + "altup_correct_scale.weight", count: d)
                    : [Float](repeating: 1, count: d),
                attention: try PerLayerSelfAttention(names, c, layer: i, headDimension: hd, inverseFrequencies: frequencies),
                gate: try names.matrix(hf: p + "mlp.gate_proj.weight", gguf: g + "ffn_gate.weight", rows: c.intermediateSizes[i], columns: d),
                up: try names.matrix(hf: p + "mlp.up_proj.weight", gguf: g + "ffn_up.weight", rows: c.intermediateSizes[i], columns: d),
                down: try names.matrix(hf: p + "mlp.down_proj.weight", gguf: g + "ffn_down.weight", rows: d, columns: c.intermediateSizes[i]),
                perLayerGate: try names.matrix(hf: p + "per_layer_input_gate.weight", gguf: g + "inp_gate.weight", rows: ple, columns: d),
                perLayerProjection: try names.matrix(hf: p + "per_layer_projection.weight", gguf: g + "proj.weight", rows: d, columns: ple),
                laurelLeft: try names.matrix(hf: p + "laurel.linear_left.weight", gguf: g + "laurel_l.weight", rows: rank, columns: d),
                laurelRight: try names.matrix(hf: p + "laurel.linear_right.weight", gguf: g + "laurel_r.weight", rows: d, columns: rank),
                router: try names.matrix(hf: p + "altup.modality_router.weight", gguf: g + "altup_router.weight", rows: n, columns: d),
                predictionCoefficients: try coefficients(hf: "altup.prediction_coefs.weight", gguf: "altup_predict_coef.weight", count: n * n * n),
                correctionCoefficients: try coefficients(hf: "altup.correction_coefs.weight", gguf: "altup_correct_coef.weight", count: n * n),
                sparsityCutoff: sparsity > 0 ? Float(Kernels.standardNormalQuantile(Double(Float(sparsity)))) : nil)
        }
        cache = KVCache(capacity: contextLength, widths: (0..<layerCount).map { $0 < firstShared ? c.keyValueHeadCount * hd : 0 })
        let widest = max(d, c.intermediateSizes.max() ?? d, c.headCount * hd, layerCount * ple)
        scratch = Scratch(workers: WorkerPool.shared.participants, width: widest)
    }

    public func reset() { position = 0 }

    public func forward(_ tokens: [Int], allLogits: Bool) throws -> [Float] {
        let c = configuration
        let count = tokens.count, d = c.hiddenSize
        guard position + count <= cache.capacity else { throw InferenceError.contextFull(capacity: cache.capacity) }
        for token in tokens where token < 0 || token >= c.vocabularySize {
            throw InferenceError.tokenOutOfRange(token, vocabulary: c.vocabularySize)
        }
        let epsilon = Float(c.rmsNormEpsilon)
        // transformers reads PLE row 0 for ids past the PLE vocabulary.
        let pleRows = inputs.table.rows
        var a = activations
        activations = Activations()  // so that `a` holds the only reference and writes do not copy
        defer { activations = a }
        a.prepare(tokens: count, c, streams: streamCount, capacity: cache.capacity)
        inputs(tokens, tableRow: { $0 < pleRows ? $0 : 0 }, epsilon: epsilon, scratch: scratch, embedded: &a.embedded, perLayer: &a.perLayer)

        // The streams: the embedding, and its projections rescaled to the embedding's magnitude.
        for s in 0..<streamCount { a.streams[s].overwrite(with: a.embedded) }
        streamProjections.apply(a.embedded, count: count, scratch: scratch, into: &a.streams)
        matchMagnitudes(of: &a.streams, to: a.embedded, count: count)

        for (index, layer) in layers.enumerated() {
            routerModalities(layer, a.streams[activeStream], count: count, into: &a.modalities, normed: &a.normed)
            predict(layer, streams: a.streams, modalities: a.modalities, count: count, mix: &a.mix, into: &a.predictions)

            a.normed.overwrite(with: a.predictions[activeStream])
            Kernels.rmsNormRows(&a.normed, rows: count, width: d, weight: layer.inputNorm, epsilon: epsilon)
            // LAuReL: x + norm(R·L·x), on the normed input.
            layer.laurelLeft.multiply(a.normed, count: count, into: &a.low, scratch: scratch)
            layer.laurelRight.multiply(a.low, count: count, into: &a.laurel, scratch: scratch)
            Kernels.rmsNormRows(&a.laurel, rows: count, width: d, weight: layer.laurelPostNorm, epsilon: epsilon)
            for i in 0..<(count * d) { a.laurel[i] += a.normed[i] }

            layer.attention(a.normed, layer: index, count: count, start: position, heads: c.headCount, kvHeads: c.keyValueHeadCount,
                            epsilon: epsilon, cache: cache, buffers: &a.attention, scratch: scratch, into: &a.sublayer)
            Kernels.rmsNormRows(&a.sublayer, rows: count, width: d, weight: layer.postAttentionNorm, epsilon: epsilon)
            // (active + attention + laurel) / √2
            a.activated.overwrite(with: a.predictions[activeStream])
            let root2 = Float(2.0.squareRoot())
            for i in 0..<(count * d) { a.activated[i] = ((a.activated[i] + a.sublayer[i]) + a.laurel[i]) / root2 }

            a.normed.overwrite(with: a.activated)
            Kernels.rmsNormRows(&a.normed, rows: count, width: d, weight: layer.preFeedforwardNorm, epsilon: epsilon)
            let width = c.intermediateSizes[index]
            layer.gate.multiply(a.normed, count: count, into: &a.gates, scratch: scratch)
            layer.up.multiply(a.normed, count: count, into: &a.ups, scratch: scratch)
            if let cutoff = layer.sparsityCutoff { Kernels.gaussianTopK(&a.gates, rows: count, width: width, cutoff: cutoff) }
            Kernels.geglu(&a.gates, by: a.ups, count: count * width, numerics: numerics)
            layer.down.multiply(a.gates, count: count, into: &a.sublayer, scratch: scratch)
            Kernels.rmsNormRows(&a.sublayer, rows: count, width: d, weight: layer.postFeedforwardNorm, epsilon: epsilon)
            for i in 0..<(count * d) { a.activated[i] += a.sublayer[i] }

            routerModalities(layer, a.activated, count: count, into: &a.modalities, normed: &a.normed)
            correct(layer, predictions: a.predictions, activated: a.activated, modalities: a.modalities, count: count, into: &a.streams)

            // The layer's own slice of the per-layer input, gated by the scaled active stream, feeds the other streams.
            for i in 0..<(count * d) { a.normed[i] = a.streams[activeStream][i] * layer.correctOutputScale[i % d] }
            layer.perLayerGate.multiply(a.normed, count: count, into: &a.gated, scratch: scratch)
            inputs.gate(&a.gated, by: a.perLayer, layer: index, count: count, numerics: numerics)
            layer.perLayerProjection.multiply(a.gated, count: count, into: &a.sublayer, scratch: scratch)
            Kernels.rmsNormRows(&a.sublayer, rows: count, width: d, weight: layer.postPerLayerNorm, epsilon: epsilon)
            for s in 0..<streamCount where s != activeStream {
                for i in 0..<(count * d) { a.streams[s][i] += a.sublayer[i] }
            }
        }
        position += count

        // Back to one state: the other streams unprojected, rescaled to the active one's magnitude, then averaged.
        streamUnprojections.apply(a.streams, count: count, scratch: scratch, into: &a.predictions)
        a.predictions[activeStream].overwrite(with: a.streams[activeStream])
        matchMagnitudes(of: &a.predictions, to: a.streams[activeStream], count: count)
        let first = allLogits ? 0 : count - 1
        let rows = count - first
        a.final.zero(count: rows * d)
        for i in 0..<(rows * d) {
            var sum: Float = 0
            for s in 0..<streamCount { sum += a.predictions[s][first * d + i] }
            a.final[i] = sum / Float(streamCount)
        }
        Kernels.rmsNormRows(&a.final, rows: rows, width: d, weight: finalNorm, epsilon: epsilon)
        var logits = [Float](repeating: 0, count: rows * c.vocabularySize)
        inputs.embedding.multiply(a.final, count: rows, into: &logits, scratch: scratch)
        if let cap = c.finalLogitSoftcap.map(Float.init) {
            for i in logits.indices { logits[i] = cap * tanh(logits[i] / cap) }
        }
        return logits
    }

    /// tanh(router · rmsnorm(x) / D): the per-token mixing weights of AltUp (`count × streams`).
    private func routerModalities(_ layer: Layer, _ x: [Float], count: Int, into modalities: inout [Float], normed: inout [Float]) {
        let d = configuration.hiddenSize
        normed.overwrite(with: x)
        Kernels.rmsNormRows(&normed, rows: count, width: d, weight: layer.routerNorm, epsilon: Float(configuration.rmsNormEpsilon))
        let inputScale = Float(1 / Double(d))
        for i in 0..<(count * d) { normed[i] *= inputScale }
        layer.router.multiply(normed, count: count, into: &modalities, scratch: scratch)
        for i in 0..<(count * streamCount) { modalities[i] = tanh(modalities[i]) }
    }

    /// prediction_j = stream_j + Σ_i P[j·n + i] · stream_i, with P the prediction coefficients times the modalities.
    private func predict(_ layer: Layer, streams: [[Float]], modalities: [Float], count: Int, mix: inout [Float],
                         into predictions: inout [[Float]]) {
        let n = streamCount, d = configuration.hiddenSize
        for t in 0..<count {
            for k in 0..<(n * n) {
                var sum: Float = 0
                for m in 0..<n { sum += layer.predictionCoefficients[k * n + m] * modalities[t * n + m] }
                mix[k] = sum
            }
            for j in 0..<n {
                for e in (t * d)..<((t + 1) * d) {
                    var sum: Float = 0
                    for i in 0..<n { sum += streams[i][e] * mix[j * n + i] }
                    predictions[j][e] = sum + streams[j][e]
                }
            }
        }
    }

    /// stream_j = prediction_j + (activated − prediction_active) · (1 + C_j · modalities).
    private func correct(_ layer: Layer, predictions: [[Float]], activated: [Float], modalities: [Float], count: Int,
                         into streams: inout [[Float]]) {
        let n = streamCount, d = configuration.hiddenSize
        for t in 0..<count {
            for j in 0..<n {
                var coefficient: Float = 0
                for m in 0..<n { coefficient += layer.correctionCoefficients[j * n + m] * modalities[t * n + m] }
                coefficient += 1
                for e in (t * d)..<((t + 1) * d) {
                    streams[j][e] = (activated[e] - predictions[activeStream][e]) * coefficient + predictions[j][e]
                }
            }
        }
    }

    /// Rescales every stream but the active one so each token's RMS equals `reference`'s (floored at √1e-5).
    private func matchMagnitudes(of streams: inout [[Float]], to reference: [Float], count: Int) {
        let d = configuration.hiddenSize
        for t in 0..<count {
            let target = Kernels.rootMeanSquare(reference, from: t * d, count: d)
            for s in 0..<streamCount where s != activeStream {
                var meanSquare: Float = 0
                for i in (t * d)..<((t + 1) * d) { meanSquare += streams[s][i] * streams[s][i] }
                let magnitude = max(meanSquare / Float(d), 1e-5).squareRoot()
                for i in (t * d)..<((t + 1) * d) { streams[s][i] = streams[s][i] * target / magnitude }
            }
        }
    }
}

/// The AltUp projections of the streams other than the active one: one `[D, D]` matrix each in safetensors,
/// one stacked `[n−1, D, D]` tensor in GGUF (split here into its matrices).
struct StreamProjections {
    let weights: [LinearWeight]

    init(_ names: TensorNames, hf: String, gguf: String, streams: Int, width d: Int) throws {
        if names.has(hf: hf + ".0.weight", gguf: "") {
            weights = try (0..<(streams - 1)).map { try names.matrix(hf: "\(hf).\($0).weight", gguf: "", rows: d, columns: d) }
        } else {
            let stacked = try names.matrix(hf: hf, gguf: gguf, rows: (streams - 1) * d, columns: d)
            weights = (0..<(streams - 1)).map { stacked.rows(($0 * d)..<(($0 + 1) * d)) }
        }
    }

    /// outputs[k] = W_k · input for k = 1 ..< n (stream 0, the active one, is left alone).
    func apply(_ input: [Float], count: Int, scratch: Scratch, into outputs: inout [[Float]]) {
        for (k, weight) in weights.enumerated() { weight.multiply(input, count: count, into: &outputs[k + 1], scratch: scratch) }
    }

    /// outputs[k] = W_k · inputs[k] for k = 1 ..< n.
    func apply(_ inputs: [[Float]], count: Int, scratch: Scratch, into outputs: inout [[Float]]) {
        for (k, weight) in weights.enumerated() { weight.multiply(inputs[k + 1], count: count, into: &outputs[k + 1], scratch: scratch) }
    }
}
