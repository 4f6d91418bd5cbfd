// Reference: huggingface/transformers models/gemma4/modeling_gemma4.py (Gemma4ForCausalLM, text, E2B/E4B shape).
import TensorModel

/// Gemma 4 text decoder. With per-layer embeddings (PLE: E2B, E4B) each layer adds a gated projection of its own
/// slice of the per-layer input; every layer then scales the residual by its `layer_scalar`. Full-attention layers
/// have their own head size, KV head count and proportional RoPE, and may take their values from the key projection
/// (`attention_k_eq_v`); the last layers may reuse the keys and values of the last earlier layer of their type.
///
/// The PLE table is read one token row at a time; from a pack that row is one contiguous record (token-major),
/// mapped from the file (or the companion `.ple` file) and dequantized on the fly.
public final class Gemma4TextModel: PerLayerEmbeddingModel {
    struct Layer {
        let block: DecoderBlock
        let perLayer: PerLayerInputs.Gate?
        let scalar: Float
    }

    public var configuration: ModelConfiguration { context.configuration }
    public var numerics: Numerics { context.numerics }
    public private(set) var position = 0
    public var perLayerPagesRead: Set<Int> { inputs?.pagesRead ?? [] }
    public func holdTableInMemory() { _ = inputs?.table.touchEveryPage() }
    public var ablatedTableLayers: Set<Int> {
        get { inputs?.ablatedLayers ?? [] }
        set { inputs?.ablatedLayers = newValue }
    }
    let embedding: TokenEmbedding
    /// The per-layer inputs (with the embedding), for models with PLE.
    let inputs: PerLayerInputs?
    let layers: [Layer]
    let head: LogitsHead
    let context: LayerContext

    public init(source: any TensorSource, configuration c: ModelConfiguration, contextLength: Int, numerics: Numerics = .float32) throws {
        let weights = WeightLoader(source, numerics: numerics)
        inputs = try c.perLayerInputSize.map { try PerLayerInputs(weights, c, width: $0) }
        embedding = try inputs?.embedding ?? TokenEmbedding(weights, c)
        head = try LogitsHead(weights, c, embedding: embedding.weight)
        let fullHead = c.globalHeadDimension ?? c.headDimension
        let ropeDivisors = weights.has(.ropeFrequencies) ? try weights.vector(.ropeFrequencies, count: fullHead / 2) : nil
        layers = try (0..<c.layerCount).map { i in
            Layer(block: try DecoderBlock(weights, c, layer: i, normsValues: true, attentionScale: 1, ropeDivisors: ropeDivisors),
                  perLayer: c.perLayerInputSize == nil ? nil : try PerLayerInputs.Gate(weights, c, layer: i),
                  scalar: try weights.vector(layer: i, .layerScalar, count: 1)[0])
        }
        context = LayerContext(c, capacity: contextLength, numerics: numerics)
    }

    public var matrices: [LinearWeight] {
        LogitsHead.unique((inputs?.matrices ?? [embedding.weight]) + layers.flatMap { $0.block.matrices + ($0.perLayer?.matrices ?? []) }
                          + [head.weight])
    }

    public var outputHead: LinearWeight { head.weight }

    public func reset() { position = 0 }

    public func forward(_ tokens: [Int], output: ForwardOutput) throws -> [Float] {
        let first = output.first(of: tokens.count)
        try checkInput(tokens, logitsFrom: first, vocabulary: min(configuration.vocabularySize, inputs?.table.rows ?? .max),
                       capacity: context.cache.capacity)
        return try inChunks(tokens, output: output) { try run($0, output: $1) }
    }

    /// One pass of `tokens` (checked) through the layers.
    private func run(_ tokens: [Int], output: ForwardOutput) throws -> [Float] {
        let first = output.first(of: tokens.count)
        let count = tokens.count, d = configuration.hiddenSize
        let w = context.workspace
        w.prepare(tokens: count)
        if let inputs {
            try inputs(tokens, tableRow: { $0 }, epsilon: context.epsilon, scratch: context.scratch, embedded: &w.hidden, perLayer: &w.perLayer)
        } else {
            embedding(tokens, into: &w.hidden)
        }
        for (index, layer) in layers.enumerated() {
            layer.block(layer: index, count: count, start: position, context)
            if let inputs, let gate = layer.perLayer {
                // The layer's own slice of the per-layer input, gated by the hidden state.
                gate(w.hidden, inputs, layer: index, count: count, context)
                context.norm.add(&w.sublayer, to: &w.hidden, weight: gate.postNorm, rows: count)
            }
            let scalar = layer.scalar
            w.hidden.withUnsafeMutableBufferPointer { hidden in for i in 0..<(count * d) { hidden[i] *= scalar } }
        }
        position += count
        let rows = count - first
        guard rows > 0 else { return [] }
        w.takeFinal(rows: rows, of: count)
        return head(&w.final, rows: rows, output: output, scratch: context.scratch)
    }
}
