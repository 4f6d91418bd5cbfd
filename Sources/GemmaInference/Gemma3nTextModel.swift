// Reference: huggingface/transformers models/gemma3n/modeling_gemma3n.py (Gemma3nForCausalLM, text only).
import TensorModel

/// Gemma 3n text decoder: the hidden state travels as `altup_num_inputs` streams (``AltUp``). Each layer predicts all
/// streams from a learned mix, runs attention and MLP on the active one (with a LAuReL low-rank side path and,
/// on the first layers, gaussian top-k activation sparsity), corrects every stream by the innovation, and adds the
/// gated projection of its per-layer input to the other streams. The last layers reuse the keys and values of
/// the last earlier layer of their type. Norms multiply by `w`; attention has no 1/√d scale.
///
/// The PLE table is read one token record at a time (token ids past its vocabulary read row 0, as transformers
/// does); from a pack that record is mapped and dequantized on the fly.
public final class Gemma3nTextModel: PerLayerEmbeddingModel {
    struct Layer {
        let inputNorm, postAttentionNorm, preFeedforwardNorm, postFeedforwardNorm, laurelPostNorm: [Float]
        let attention: GemmaAttention
        let mlp: GemmaMLP
        let perLayer: PerLayerInputs.Gate
        let altUp: AltUp
        let laurelLeft, laurelRight: LinearWeight
    }

    /// The streams and the other buffers only Gemma 3n's forward call needs, kept between calls (a class, like
    /// ``Workspace``, so that two of its buffers can be passed `inout` at once).
    final class StreamBuffers {
        var streams: [[Float]] = [], predictions: [[Float]] = []
        var laurel: [Float] = [], low: [Float] = [], modalities: [Float] = [], activated: [Float] = [], mix: [Float] = []

        func prepare(tokens: Int, _ c: ModelConfiguration, streams n: Int) {
            let d = c.hiddenSize
            if streams.count != n { streams = Array(repeating: [], count: n) }
            if predictions.count != n { predictions = Array(repeating: [], count: n) }
            for s in 0..<n {
                streams[s].zero(count: tokens * d)
                predictions[s].zero(count: tokens * d)
            }
            laurel.zero(count: tokens * d)
            activated.zero(count: tokens * d)
            low.zero(count: tokens * (c.laurelRank ?? 1))
            modalities.zero(count: tokens * n)
            mix.zero(count: n * n)
        }
    }

    public var configuration: ModelConfiguration { context.configuration }
    public var numerics: Numerics { context.numerics }
    public private(set) var position = 0
    public var perLayerPagesRead: Set<Int> { inputs.pagesRead }
    public func holdTableInMemory() { _ = inputs.table.touchEveryPage() }
    public var ablatedTableLayers: Set<Int> {
        get { inputs.ablatedLayers }
        set { inputs.ablatedLayers = newValue }
    }
    let inputs: PerLayerInputs
    let streamProjections, streamUnprojections: StreamProjections
    let layers: [Layer]
    let head: LogitsHead
    let streamCount, activeStream: Int
    let context: LayerContext
    private let buffers = StreamBuffers()

    public init(source: any TensorSource, configuration c: ModelConfiguration, contextLength: Int, numerics: Numerics = .float32) throws {
        guard let ple = c.perLayerInputSize, let n = c.altupInputCount, let rank = c.laurelRank else {
            throw InferenceError(.unsupportedArchitecture, path: source.path, "a gemma3n configuration without per-layer inputs, AltUp or LAuReL")
        }
        streamCount = n
        activeStream = c.altupActiveIndex ?? 0
        let weights = WeightLoader(source, numerics: numerics)
        let d = c.hiddenSize
        inputs = try PerLayerInputs(weights, c, width: ple)
        head = try LogitsHead(weights, c, embedding: inputs.embedding.weight)
        streamProjections = try StreamProjections(weights, unembed: false, streams: n, width: d)
        streamUnprojections = try StreamProjections(weights, unembed: true, streams: n, width: d)
        layers = try (0..<c.layerCount).map { i in
            Layer(inputNorm: try weights.vector(layer: i, .inputNorm, count: d),
                  postAttentionNorm: try weights.vector(layer: i, .postAttentionNorm, count: d),
                  preFeedforwardNorm: try weights.vector(layer: i, .preFeedforwardNorm, count: d),
                  postFeedforwardNorm: try weights.vector(layer: i, .postFeedforwardNorm, count: d),
                  laurelPostNorm: try weights.vector(layer: i, .laurelPostNorm, count: d),
                  attention: try GemmaAttention(weights, c, layer: i, normsValues: true, scale: 1, ropeDivisors: nil),
                  mlp: try GemmaMLP(weights, c, layer: i),
                  perLayer: try PerLayerInputs.Gate(weights, c, layer: i),
                  altUp: try AltUp(weights, c, layer: i, streams: n),
                  laurelLeft: try weights.matrix(layer: i, .laurelLeft, rows: rank, columns: d),
                  laurelRight: try weights.matrix(layer: i, .laurelRight, rows: d, columns: rank))
        }
        context = LayerContext(c, capacity: contextLength, numerics: numerics)
    }

    public var matrices: [LinearWeight] {
        LogitsHead.unique(inputs.matrices + streamProjections.weights + streamUnprojections.weights
            + layers.flatMap { $0.attention.matrices + $0.mlp.matrices + $0.perLayer.matrices + $0.altUp.matrices + [$0.laurelLeft, $0.laurelRight] }
            + [head.weight])
    }

    public var outputHead: LinearWeight { head.weight }

    public func reset() { position = 0 }

    public func forward(_ tokens: [Int], output: ForwardOutput) throws -> [Float] {
        let first = output.first(of: tokens.count)
        try checkInput(tokens, logitsFrom: first, vocabulary: configuration.vocabularySize, capacity: context.cache.capacity)
        return try inChunks(tokens, output: output) { try run($0, output: $1) }
    }

    /// One pass of `tokens` (checked) through the layers.
    private func run(_ tokens: [Int], output: ForwardOutput) throws -> [Float] {
        let first = output.first(of: tokens.count)
        let c = configuration
        let count = tokens.count, d = c.hiddenSize, scratch = context.scratch
        // transformers reads PLE row 0 for ids past the PLE vocabulary.
        let pleRows = inputs.table.rows
        let w = context.workspace
        w.prepare(tokens: count)
        buffers.prepare(tokens: count, c, streams: streamCount)
        try inputs(tokens, tableRow: { $0 < pleRows ? $0 : 0 }, epsilon: context.epsilon, scratch: scratch, embedded: &w.hidden,
               perLayer: &w.perLayer)

        // The streams: the embedding, and its projections rescaled to the embedding's magnitude.
        for s in 0..<streamCount { buffers.streams[s].overwrite(with: w.hidden) }
        streamProjections.apply(w.hidden, count: count, scratch: scratch, into: &buffers.streams)
        AltUp.matchMagnitudes(of: &buffers.streams, to: w.hidden, active: activeStream, count: count, width: d)

        for (index, layer) in layers.enumerated() {
            self.layer(layer, index: index, count: count, workspace: w)
        }
        position += count

        // Back to one state: the other streams unprojected, rescaled to the active one's magnitude, then averaged.
        streamUnprojections.apply(buffers.streams, count: count, scratch: scratch, into: &buffers.predictions)
        buffers.predictions[activeStream].overwrite(with: buffers.streams[activeStream])
        AltUp.matchMagnitudes(of: &buffers.predictions, to: buffers.streams[activeStream], active: activeStream, count: count, width: d)
        let rows = count - first
        guard rows > 0 else { return [] }
        // The mean of the streams, each element summed from 0 in stream order.
        w.final.zero(count: rows * d)
        w.final.withUnsafeMutableBufferPointer { final in
            for s in 0..<streamCount {
                buffers.predictions[s].withUnsafeBufferPointer { stream in for i in 0..<(rows * d) { final[i] += stream[first * d + i] } }
            }
            for i in 0..<(rows * d) { final[i] = final[i] / Float(streamCount) }
        }
        return head(&w.final, rows: rows, output: output, scratch: scratch)
    }

    /// One decoder layer over the streams of `count` tokens.
    private func layer(_ layer: Layer, index: Int, count: Int, workspace w: Workspace) {
        let c = configuration, d = c.hiddenSize, norm = context.norm, scratch = context.scratch
        let altUp = layer.altUp
        altUp.modalities(buffers.streams[activeStream], count: count, norm: norm, scratch: scratch, normed: &w.normed,
                         into: &buffers.modalities)
        altUp.predict(buffers.streams, modalities: buffers.modalities, count: count, width: d, mix: &buffers.mix, into: &buffers.predictions)

        norm(buffers.predictions[activeStream], into: &w.normed, weight: layer.inputNorm, rows: count)
        // LAuReL: x + norm(R·L·x), on the normed input.
        layer.laurelLeft.multiply(w.normed, count: count, into: &buffers.low, scratch: scratch)
        layer.laurelRight.multiply(buffers.low, count: count, into: &buffers.laurel, scratch: scratch)
        norm.apply(&buffers.laurel, weight: layer.laurelPostNorm, rows: count)
        Self.add(w.normed, to: &buffers.laurel, count: count * d)

        layer.attention(w.normed, layer: index, count: count, start: position,
                        epsilon: context.epsilon, cache: context.cache, buffers: &w.attention, scratch: scratch, into: &w.sublayer)
        norm.apply(&w.sublayer, weight: layer.postAttentionNorm, rows: count)
        // (active + attention + laurel) / √2
        buffers.activated.overwrite(with: buffers.predictions[activeStream])
        let root2 = Float(2.0.squareRoot())
        buffers.activated.withUnsafeMutableBufferPointer { activated in
            w.sublayer.withUnsafeBufferPointer { attended in
                buffers.laurel.withUnsafeBufferPointer { laurel in
                    for i in 0..<(count * d) { activated[i] = ((activated[i] + attended[i]) + laurel[i]) / root2 }
                }
            }
        }

        norm(buffers.activated, into: &w.normed, weight: layer.preFeedforwardNorm, rows: count)
        layer.mlp(w.normed, count: count, numerics: numerics, scratch: scratch, gates: &w.gates, ups: &w.ups, into: &w.sublayer)
        norm.add(&w.sublayer, to: &buffers.activated, weight: layer.postFeedforwardNorm, rows: count)

        altUp.modalities(buffers.activated, count: count, norm: norm, scratch: scratch, normed: &w.normed, into: &buffers.modalities)
        altUp.correct(buffers.predictions, activated: buffers.activated, modalities: buffers.modalities, count: count, width: d,
                      into: &buffers.streams)

        // The layer's own slice of the per-layer input, gated by the scaled active stream, feeds the other streams.
        w.normed.withUnsafeMutableBufferPointer { gate in
            buffers.streams[activeStream].withUnsafeBufferPointer { active in
                altUp.correctOutputScale.withUnsafeBufferPointer { scale in
                    for t in 0..<count {
                        for e in 0..<d { gate[t * d + e] = active[t * d + e] * scale[e] }
                    }
                }
            }
        }
        layer.perLayer(w.normed, inputs, layer: index, count: count, context)
        norm.apply(&w.sublayer, weight: layer.perLayer.postNorm, rows: count)
        for s in 0..<streamCount where s != activeStream { Self.add(w.sublayer, to: &buffers.streams[s], count: count * d) }
    }

    /// target[i] += addend[i] for the first `count` values.
    private static func add(_ addend: [Float], to target: inout [Float], count: Int) {
        target.withUnsafeMutableBufferPointer { target in
            addend.withUnsafeBufferPointer { addend in for i in 0..<count { target[i] += addend[i] } }
        }
    }
}
