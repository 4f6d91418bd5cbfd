import TensorModel

/// A text model that turns token ids into next-token logits, keeping a KV cache between calls.
public protocol CausalLanguageModel: AnyObject {
    /// The model's description.
    var configuration: ModelConfiguration { get }
    /// How it rounds activations.
    var numerics: Numerics { get }
    /// Tokens processed so far (the next token's position).
    var position: Int { get }
    /// Runs `tokens` at positions `position ..< position + count`; returns logits for every token
    /// (`count × vocabulary`) or only the last one.
    func forward(_ tokens: [Int], allLogits: Bool) throws -> [Float]
    /// Empties the KV cache.
    func reset()
}

extension CausalLanguageModel {
    /// Checks a forward call's tokens: every id below `vocabulary`, and room for them in a context of `capacity`.
    func checkInput(_ tokens: [Int], vocabulary: Int, capacity: Int) throws {
        guard position + tokens.count <= capacity else { throw InferenceError.contextFull(capacity: capacity) }
        for token in tokens where token < 0 || token >= vocabulary { throw InferenceError.tokenOutOfRange(token, vocabulary: vocabulary) }
    }
}

/// Errors of building or running a model.
public enum InferenceError: Error, CustomStringConvertible {
    case unsupportedArchitecture(String)
    case missingTensor(String, source: String)
    case shapeMismatch(tensor: String, expected: [Int], actual: [Int])
    case contextFull(capacity: Int)
    case tokenOutOfRange(Int, vocabulary: Int)
    case noConfiguration(String)

    public var description: String {
        switch self {
        case .unsupportedArchitecture(let name): "no reference implementation for architecture '\(name)'"
        case .missingTensor(let name, let source): "\(source): missing tensor \(name)"
        case .shapeMismatch(let tensor, let expected, let actual): "tensor '\(tensor)': shape \(actual), expected \(expected)"
        case .contextFull(let capacity): "the context of \(capacity) tokens is full"
        case .tokenOutOfRange(let token, let vocabulary): "token id \(token) is outside the vocabulary of \(vocabulary)"
        case .noConfiguration(let path): "\(path): no model configuration (config.json or GGUF metadata) to build a model from"
        }
    }
}

/// A model with a per-layer embedding (PLE) table, read one token record at a time.
public protocol PerLayerEmbeddingModel: CausalLanguageModel {
    /// The 4 KiB pages of the PLE table's file that lookups have read so far (empty when the table is in memory).
    var perLayerPagesRead: Set<Int> { get }
}
