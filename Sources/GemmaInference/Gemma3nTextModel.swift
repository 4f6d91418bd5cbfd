// Reference: huggingface/transformers models/gemma3n/modeling_gemma3n.py (Gemma3nForCausalLM, text only).
import Foundation
import TensorModel
import TensorTypes

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
        let queryNorm, routerNorm, laurelPostNorm, correctOutputScale: [Float]
        let keyNorm: [Float]?
        let query, output, gate, up, down, perLayerGate, perLayerProjection, laurelLeft, laurelRight, router: LinearWeight
        let key, value: LinearWeight?
        /// AltUp coefficients from the router's modalities: prediction `[n·n, n]`, correction `[n, n]`.
        let predictionCoefficients, correctionCoefficients: [Float]
        let sliding: Bool
        let inverseFrequencies: [Float]
        /// Standard deviations above the mean below which gate activations are zeroed (nil: dense layer).
        let sparsityCutoff: Float?
        /// The layer whose cache this layer reads (itself unless KV-shared).
        let cacheLayer: Int
    }

    public let configuration: ModelConfiguration
    public private(set) var position = 0
    /// The 4 KiB pages of the PLE table's file that lookups have read so far (when the table is mapped).
    public private(set) var perLayerPagesRead = Set<Int>()
    let embedding, outputHead, perLayerTable, perLayerModelProjection: LinearWeight
    let streamProjections, streamUnprojections: StreamProjections
    let finalNorm, perLayerProjectionNorm: [Float]
    let layers: [Layer]
    let streamCount, activeStream: Int
    let embeddingScale, perLayerScale: Float
    let cache: KVCache
    let scratch: Scratch

    public init(source: any TensorSource, configuration c: ModelConfiguration, contextLength: Int) throws {
        configuration = c
        guard let ple = c.perLayerInputSize, let n = c.altupInputCount, let rank = c.laurelRank else {
            throw InferenceError.unsupportedArchitecture("gemma3n without per-layer inputs, AltUp or LAuReL")
        }
        streamCount = n
        activeStream = c.altupActiveIndex ?? 0
        let names = TensorNames(source)
        let d = c.hiddenSize, layerCount = c.layerCount, hd = c.headDimension
        embedding = try names.matrix(hf: "embed_tokens.weight", gguf: "token_embd.weight", rows: c.vocabularySize, columns: d)
        outputHead = embedding
        perLayerTable = try names.matrix(hf: "embed_tokens_per_layer.weight", gguf: "per_layer_token_embd.weight",
                                         rows: c.perLayerVocabularySize ?? c.vocabularySize, columns: layerCount * ple)
        perLayerTable.adviseRandomAccess()  // a lookup table: one record per token, no read-ahead
        perLayerModelProjection = try names.matrix(hf: "per_layer_model_projection.weight", gguf: "per_layer_model_proj.weight",
                                                   rows: layerCount * ple, columns: d)
        perLayerProjectionNorm = try names.vector(hf: "per_layer_projection_norm.weight", gguf: "per_layer_proj_norm.weight", count: ple)
        finalNorm = try names.vector(hf: "norm.weight", gguf: "output_norm.weight", count: d)
        streamProjections = try StreamProjections(names, hf: "altup_projections", gguf: "altup_proj.weight", streams: n, width: d)
        streamUnprojections = try StreamProjections(names, hf: "altup_unembed_projections", gguf: "altup_unembd_proj.weight",
                                                    streams: n, width: d)
        let firstShared = c.firstKVSharedLayer
        layers = try (0..<layerCount).map { i in
            let p = "layers.\(i).", g = "blk.\(i)."
            let sliding = c.layerTypes[i] == .sliding
            let shared = i >= firstShared
            let producer = shared ? (0..<firstShared).last { c.layerTypes[$0] == c.layerTypes[i] } ?? i : i
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
                queryNorm: try names.vector(hf: p + "self_attn.q_norm.weight", gguf: g + "attn_q_norm.weight", count: hd),
                routerNorm: try names.vector(hf: p + "altup.router_norm.weight", gguf: g + "altup_router_norm.weight", count: d),
                laurelPostNorm: try names.vector(hf: p + "laurel.post_laurel_norm.weight", gguf: g + "laurel_post_norm.weight", count: d),
                correctOutputScale: c.altupCorrectScale
                    ? try names.vector(hf: p + "altup.correct_output_scale", gguf: g + "altup_correct_scale.weight", count: d)
                    : [Float](repeating: 1, count: d),
                keyNorm: shared ? nil : try names.vector(hf: p + "self_attn.k_norm.weight", gguf: g + "attn_k_norm.weight", count: hd),
                query: try names.matrix(hf: p + "self_attn.q_proj.weight", gguf: g + "attn_q.weight", rows: c.headCount * hd, columns: d),
                output: try names.matrix(hf: p + "self_attn.o_proj.weight", gguf: g + "attn_output.weight", rows: d, columns: c.headCount * hd),
                gate: try names.matrix(hf: p + "mlp.gate_proj.weight", gguf: g + "ffn_gate.weight", rows: c.intermediateSizes[i], columns: d),
                up: try names.matrix(hf: p + "mlp.up_proj.weight", gguf: g + "ffn_up.weight", rows: c.intermediateSizes[i], columns: d),
                down: try names.matrix(hf: p + "mlp.down_proj.weight", gguf: g + "ffn_down.weight", rows: d, columns: c.intermediateSizes[i]),
                perLayerGate: try names.matrix(hf: p + "per_layer_input_gate.weight", gguf: g + "inp_gate.weight", rows: ple, columns: d),
                perLayerProjection: try names.matrix(hf: p + "per_layer_projection.weight", gguf: g + "proj.weight", rows: d, columns: ple),
                laurelLeft: try names.matrix(hf: p + "laurel.linear_left.weight", gguf: g + "laurel_l.weight", rows: rank, columns: d),
                laurelRight: try names.matrix(hf: p + "laurel.linear_right.weight", gguf: g + "laurel_r.weight", rows: d, columns: rank),
                router: try names.matrix(hf: p + "altup.modality_router.weight", gguf: g + "altup_router.weight", rows: n, columns: d),
                key: shared ? nil : try names.matrix(hf: p + "self_attn.k_proj.weight", gguf: g + "attn_k.weight", rows: c.keyValueHeadCount * hd, columns: d),
                value: shared ? nil : try names.matrix(hf: p + "self_attn.v_proj.weight", gguf: g + "attn_v.weight", rows: c.keyValueHeadCount * hd, columns: d),
                predictionCoefficients: try coefficients(hf: "altup.prediction_coefs.weight", gguf: "altup_predict_coef.weight", count: n * n * n),
                correctionCoefficients: try coefficients(hf: "altup.correction_coefs.weight", gguf: "altup_correct_coef.weight", count: n * n),
                sliding: sliding, inverseFrequencies: frequencies,
                sparsityCutoff: sparsity > 0 ? Float(Kernels.standardNormalQuantile(Double(Float(sparsity)))) : nil,
                cacheLayer: producer)
        }
        let embeddingBF16 = try source.descriptor(try names.resolve(hf: "embed_tokens.weight", gguf: "token_embd.weight")).encoding == .plain(.bf16)
        func scale(_ value: Double) -> Float {
            embeddingBF16 ? FloatConversion.float(fromBFloat16: FloatConversion.bfloat16(from: Float(value))) : Float(value)
        }
        embeddingScale = scale(Double(d).squareRoot())
        perLayerScale = scale(Double(ple).squareRoot())
        cache = KVCache(capacity: contextLength, widths: (0..<layerCount).map { $0 < firstShared ? c.keyValueHeadCount * hd : 0 })
        let widest = max(d, c.intermediateSizes.max() ?? d, c.headCount * hd, layerCount * ple)
        scratch = Scratch(workers: max(1, min(8, ProcessInfo.processInfo.activeProcessorCount)), width: widest)
    }

    public func reset() { position = 0 }

    public func forward(_ tokens: [Int], allLogits: Bool) throws -> [Float] {
        let c = configuration
        let count = tokens.count, d = c.hiddenSize, ple = c.perLayerInputSize!, layerCount = c.layerCount
        guard position + count <= cache.capacity else { throw InferenceError.contextFull(capacity: cache.capacity) }
        for token in tokens where token < 0 || token >= c.vocabularySize {
            throw InferenceError.tokenOutOfRange(token, vocabulary: c.vocabularySize)
        }
        let epsilon = Float(c.rmsNormEpsilon)
        var embedded = [Float](repeating: 0, count: count * d)
        var perLayer = [Float](repeating: 0, count: count * layerCount * ple)
        embedded.withUnsafeMutableBufferPointer { h in
            perLayer.withUnsafeMutableBufferPointer { p in
                for (t, token) in tokens.enumerated() {
                    embedding.decodeRow(token, into: h.baseAddress! + t * d)
                    for i in 0..<d { h[t * d + i] *= embeddingScale }
                    let row = token < perLayerTable.rows ? token : 0  // transformers reads row 0 past the PLE vocabulary
                    perLayerTable.decodeRow(row, into: p.baseAddress! + t * layerCount * ple)
                    if let range = perLayerTable.fileRange(ofRow: row) {
                        for page in (range.lowerBound / 4096)...((range.upperBound - 1) / 4096) { perLayerPagesRead.insert(page) }
                    }
                }
            }
        }
        // Per-layer inputs: (rmsnorm(W·e / sqrt(D)) + table row · sqrt(ple)) / sqrt(2).
        var projected = [Float](repeating: 0, count: count * layerCount * ple)
        perLayerModelProjection.multiply(embedded, count: count, into: &projected, scratch: scratch)
        let projectionScale = Float(1 / Double(d).squareRoot()), combineScale = Float(1 / 2.0.squareRoot())
        projected.withUnsafeMutableBufferPointer { x in
            for slice in 0..<(count * layerCount) {
                let start = x.baseAddress! + slice * ple
                for i in 0..<ple { start[i] *= projectionScale }
                Kernels.rmsNorm(start, ple, weight: perLayerProjectionNorm, offset: 0, epsilon: epsilon)
            }
        }
        for i in perLayer.indices { perLayer[i] = (projected[i] + perLayer[i] * perLayerScale) * combineScale }

        // The streams: the embedding, and its projections rescaled to the embedding's magnitude.
        var streams = [[Float]](repeating: embedded, count: streamCount)
        streamProjections.apply(embedded, count: count, scratch: scratch, into: &streams)
        matchMagnitudes(of: &streams, to: embedded, count: count)

        var predictions = streams
        var normed = [Float](repeating: 0, count: count * d)
        var sublayer = [Float](repeating: 0, count: count * d)
        var laurel = [Float](repeating: 0, count: count * d)
        var low = [Float](repeating: 0, count: count * (c.laurelRank ?? 1))
        var queries = [Float](repeating: 0, count: count * c.headCount * c.headDimension)
        var keys = [Float](repeating: 0, count: count * c.keyValueHeadCount * c.headDimension)
        var values = keys
        var attended = queries
        let widest = c.intermediateSizes.max() ?? d
        var gates = [Float](repeating: 0, count: count * widest)
        var ups = gates
        var gated = [Float](repeating: 0, count: count * ple)
        var modalities = [Float](repeating: 0, count: count * streamCount)
        var scores = [Float](repeating: 0, count: cache.capacity)
        var activated = [Float](repeating: 0, count: count * d)
        var mix = [Float](repeating: 0, count: streamCount * streamCount)

        for (index, layer) in layers.enumerated() {
            let hd = c.headDimension, heads = c.headCount, kvHeads = c.keyValueHeadCount
            routerModalities(layer, streams[activeStream], count: count, into: &modalities, normed: &normed)
            predict(layer, streams: streams, modalities: modalities, count: count, mix: &mix, into: &predictions)
            let active = predictions[activeStream]

            normed.overwrite(with: active)
            Kernels.rmsNormRows(&normed, rows: count, width: d, weight: layer.inputNorm, epsilon: epsilon)
            // LAuReL: x + norm(R·L·x), on the normed input.
            layer.laurelLeft.multiply(normed, count: count, into: &low, scratch: scratch)
            layer.laurelRight.multiply(low, count: count, into: &laurel, scratch: scratch)
            Kernels.rmsNormRows(&laurel, rows: count, width: d, weight: layer.laurelPostNorm, epsilon: epsilon)
            for i in 0..<(count * d) { laurel[i] += normed[i] }

            layer.query.multiply(normed, count: count, into: &queries, scratch: scratch)
            if let key = layer.key, let value = layer.value, let keyNorm = layer.keyNorm {
                key.multiply(normed, count: count, into: &keys, scratch: scratch)
                value.multiply(normed, count: count, into: &values, scratch: scratch)
                keys.withUnsafeMutableBufferPointer { k in values.withUnsafeMutableBufferPointer { v in
                    for t in 0..<count {
                        for h in 0..<kvHeads {
                            let head = k.baseAddress! + (t * kvHeads + h) * hd
                            Kernels.rmsNorm(head, hd, weight: keyNorm, offset: 0, epsilon: epsilon)
                            Kernels.rope(head, headDimension: hd, position: position + t, inverseFrequencies: layer.inverseFrequencies)
                            Kernels.rmsNorm(v.baseAddress! + (t * kvHeads + h) * hd, hd, weight: nil, offset: 0, epsilon: epsilon)
                        }
                        cache.store(layer: index, position: position + t, key: k.baseAddress! + t * kvHeads * hd, value: v.baseAddress! + t * kvHeads * hd)
                    }
                } }
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
            Attention.attend(queries: queries, keys: cache.keys[layer.cacheLayer], values: cache.values[layer.cacheLayer],
                             count: count, start: position, heads: heads, kvHeads: kvHeads, headDimension: hd,
                             window: layer.sliding ? c.slidingWindow : nil, scale: 1, into: &attended, scores: &scores)
            layer.output.multiply(attended, count: count, into: &sublayer, scratch: scratch)
            Kernels.rmsNormRows(&sublayer, rows: count, width: d, weight: layer.postAttentionNorm, epsilon: epsilon)
            // (active + attention + laurel) / √2
            activated.overwrite(with: active)
            let root2 = Float(2.0.squareRoot())
            for i in 0..<(count * d) { activated[i] = ((activated[i] + sublayer[i]) + laurel[i]) / root2 }

            normed.overwrite(with: activated)
            Kernels.rmsNormRows(&normed, rows: count, width: d, weight: layer.preFeedforwardNorm, epsilon: epsilon)
            let width = c.intermediateSizes[index]
            layer.gate.multiply(normed, count: count, into: &gates, scratch: scratch)
            layer.up.multiply(normed, count: count, into: &ups, scratch: scratch)
            if let cutoff = layer.sparsityCutoff { Kernels.gaussianTopK(&gates, rows: count, width: width, cutoff: cutoff) }
            for i in 0..<(count * width) { gates[i] = Kernels.gelu(gates[i]) * ups[i] }
            layer.down.multiply(gates, count: count, into: &sublayer, scratch: scratch)
            Kernels.rmsNormRows(&sublayer, rows: count, width: d, weight: layer.postFeedforwardNorm, epsilon: epsilon)
            for i in 0..<(count * d) { activated[i] += sublayer[i] }

            routerModalities(layer, activated, count: count, into: &modalities, normed: &normed)
            correct(layer, predictions: predictions, activated: activated, modalities: modalities, count: count, into: &streams)

            // The layer's own slice of the per-layer input, gated by the scaled active stream, feeds the other streams.
            for i in 0..<(count * d) { normed[i] = streams[activeStream][i] * layer.correctOutputScale[i % d] }
            layer.perLayerGate.multiply(normed, count: count, into: &gated, scratch: scratch)
            for t in 0..<count {
                for i in 0..<ple { gated[t * ple + i] = Kernels.gelu(gated[t * ple + i]) * perLayer[(t * layerCount + index) * ple + i] }
            }
            layer.perLayerProjection.multiply(gated, count: count, into: &sublayer, scratch: scratch)
            Kernels.rmsNormRows(&sublayer, rows: count, width: d, weight: layer.postPerLayerNorm, epsilon: epsilon)
            for s in 0..<streamCount where s != activeStream {
                for i in 0..<(count * d) { streams[s][i] += sublayer[i] }
            }
        }
        position += count

        // Back to one state: the other streams unprojected, rescaled to the active one's magnitude, then averaged.
        let reference = streams[activeStream]
        streamUnprojections.apply(streams, count: count, scratch: scratch, into: &predictions)
        predictions[activeStream] = reference
        matchMagnitudes(of: &predictions, to: reference, count: count)
        let first = allLogits ? 0 : count - 1
        let rows = count - first
        var final = [Float](repeating: 0, count: rows * d)
        for i in 0..<(rows * d) {
            var sum: Float = 0
            for s in 0..<streamCount { sum += predictions[s][first * d + i] }
            final[i] = sum / Float(streamCount)
        }
        Kernels.rmsNormRows(&final, rows: rows, width: d, weight: finalNorm, epsilon: epsilon)
        var logits = [Float](repeating: 0, count: rows * c.vocabularySize)
        outputHead.multiply(final, count: rows, into: &logits, scratch: scratch)
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
/// one stacked `[n−1, D, D]` tensor in GGUF.
enum StreamProjections {
    case separate([LinearWeight])
    case stacked(LinearWeight)

    init(_ names: TensorNames, hf: String, gguf: String, streams: Int, width d: Int) throws {
        if names.has(hf: hf + ".0.weight", gguf: "") {
            self = .separate(try (0..<(streams - 1)).map { try names.matrix(hf: "\(hf).\($0).weight", gguf: "", rows: d, columns: d) })
        } else {
            self = .stacked(try names.matrix(hf: hf, gguf: gguf, rows: (streams - 1) * d, columns: d))
        }
    }

    /// outputs[k] = W_k · input for k = 1 ..< n (stream 0, the active one, is left alone).
    func apply(_ input: [Float], count: Int, scratch: Scratch, into outputs: inout [[Float]]) {
        apply({ _ in input }, count: count, scratch: scratch, into: &outputs)
    }

    /// outputs[k] = W_k · inputs[k] for k = 1 ..< n.
    func apply(_ inputs: [[Float]], count: Int, scratch: Scratch, into outputs: inout [[Float]]) {
        apply({ inputs[$0] }, count: count, scratch: scratch, into: &outputs)
    }

    private func apply(_ input: (Int) -> [Float], count: Int, scratch: Scratch, into outputs: inout [[Float]]) {
        switch self {
        case .separate(let weights):
            for (k, weight) in weights.enumerated() { weight.multiply(input(k + 1), count: count, into: &outputs[k + 1], scratch: scratch) }
        case .stacked(let weight):
            let d = weight.columns, n = weight.rows / d + 1
            var all = [Float](repeating: 0, count: count * weight.rows)
            for k in 1..<n {
                weight.multiply(input(k), count: count, into: &all, scratch: scratch)
                for t in 0..<count {
                    for i in 0..<d { outputs[k][t * d + i] = all[t * weight.rows + (k - 1) * d + i] }
                }
            }
        }
    }
}
