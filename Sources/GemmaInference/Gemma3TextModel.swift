// Reference: huggingface/transformers models/gemma3/modeling_gemma3.py (Gemma3ForCausalLM, text only).
import TensorModel

/// Gemma 3 text decoder: sliding-window and full attention with q/k norms, GeGLU MLP, four norms per layer,
/// tied output head. Norm weights are applied as `(offset + w)`, the offset coming from the source
/// (1 for Hugging Face checkpoints, 0 for llama.cpp GGUFs, which bake the 1 in).
public final class Gemma3TextModel: CausalLanguageModel {
    public var configuration: ModelConfiguration { context.configuration }
    public var numerics: Numerics { context.numerics }
    public private(set) var position = 0
    /// Called during ``forward(_:allLogits:)`` with each layer's output (`count × hidden` values, for each chunk of a
    /// long call), to compare a run layer by layer with another implementation's.
    public var layerOutputObserver: ((_ layer: Int, _ hidden: [Float]) -> Void)?
    let embedding: TokenEmbedding
    let layers: [DecoderBlock]
    let head: LogitsHead
    let context: LayerContext

    public init(source: any TensorSource, configuration c: ModelConfiguration, contextLength: Int, numerics: Numerics = .float32) throws {
        let weights = WeightLoader(source, numerics: numerics)
        embedding = try TokenEmbedding(weights, c)
        head = try LogitsHead(weights, c, embedding: embedding.weight)
        let scale = Float(1 / (c.queryPreAttentionScalar ?? Double(c.headDimension)).squareRoot())
        layers = try (0..<c.layerCount).map { i in
            try DecoderBlock(weights, c, layer: i, normsValues: false, attentionScale: scale, ropeDivisors: nil)
        }
        context = LayerContext(c, capacity: contextLength, numerics: numerics)
    }

    public var matrices: [LinearWeight] { LogitsHead.unique([embedding.weight] + layers.flatMap(\.matrices) + [head.weight]) }

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
        let count = tokens.count
        let w = context.workspace
        w.prepare(tokens: count)
        embedding(tokens, into: &w.hidden)
        for (index, layer) in layers.enumerated() {
            layer(layer: index, count: count, start: position, context)
            layerOutputObserver?(index, w.hidden)
        }
        position += count
        let rows = count - first
        guard rows > 0 else { return [] }
        w.takeFinal(rows: rows, of: count)
        return head(&w.final, rows: rows, output: output, scratch: context.scratch)
    }
}
