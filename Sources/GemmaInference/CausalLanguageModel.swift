import ByteIO
import TensorModel

/// A text model that turns token ids into next-token logits, keeping a KV cache between calls.
public protocol CausalLanguageModel: AnyObject {
    /// The model's description.
    var configuration: ModelConfiguration { get }
    /// How it rounds activations.
    var numerics: Numerics { get }
    /// Tokens processed so far (the next token's position).
    var position: Int { get }
    /// Runs `tokens` at positions `position ..< position + count` and returns what `output` asks for.
    func forward(_ tokens: [Int], output: ForwardOutput) throws -> [Float]
    /// Every matrix the model multiplies by, the output head included (a tied embedding appears once).
    var matrices: [LinearWeight] { get }
    /// The output head: the tied embedding, or the model's own head.
    var outputHead: LinearWeight { get }
    /// Empties the KV cache.
    func reset()
}

/// What a forward call returns.
public enum ForwardOutput: Sendable, Equatable {
    /// The logits of tokens `first..<count` (`(count − first) × vocabulary` values; none when `first == count`,
    /// which skips the output head).
    case logits(from: Int)
    /// Every token's final hidden state after the final norm (`count × hidden` values): the inputs of the output
    /// head, without the product (what a calibration of the head needs).
    case finalStates

    /// Tokens one pass through the layers takes at most; a longer forward call runs in chunks.
    public static let chunkTokens = 256

    /// The first token whose row is returned.
    func first(of count: Int) -> Int {
        switch self {
        case .logits(let first): first
        case .finalStates: 0
        }
    }
}

extension CausalLanguageModel {
    /// Runs `tokens`; returns the logits of tokens `first..<count` (none when `first == count`).
    public func forward(_ tokens: [Int], logitsFrom first: Int) throws -> [Float] {
        try forward(tokens, output: .logits(from: first))
    }

    /// Runs `tokens`; returns logits for every token (`count × vocabulary`) or only the last one.
    public func forward(_ tokens: [Int], allLogits: Bool) throws -> [Float] {
        try forward(tokens, logitsFrom: allLogits ? 0 : tokens.count - 1)
    }

    /// Runs a forward call of `tokens` through `run` in chunks of at most ``ForwardOutput/chunkTokens`` tokens (as even
    /// as possible, so that no chunk is small enough to take the one-input product path), concatenating what each
    /// returns: a long text's activations then take memory for one chunk, not the whole call. The result is the one
    /// call's: every product, norm and attention is worked out token by token over the same cache.
    func inChunks(_ tokens: [Int], output: ForwardOutput, _ run: ([Int], ForwardOutput) throws -> [Float]) rethrows -> [Float] {
        let chunks = (tokens.count + ForwardOutput.chunkTokens - 1) / ForwardOutput.chunkTokens
        guard chunks > 1 else { return try run(tokens, output) }
        let first = output.first(of: tokens.count)
        var result: [Float] = []
        var start = 0
        for index in 0..<chunks {
            let end = tokens.count * (index + 1) / chunks
            let piece = Array(tokens[start..<end])
            switch output {
            case .finalStates: result += try run(piece, .finalStates)
            case .logits: result += try run(piece, .logits(from: min(piece.count, max(0, first - start))))
            }
            start = end
        }
        return result
    }

    /// Checks a forward call: every token id below `vocabulary`, room for the tokens in a context of `capacity`, and
    /// logits asked from a token the call has.
    func checkInput(_ tokens: [Int], logitsFrom first: Int, vocabulary: Int, capacity: Int) throws {
        guard first >= 0, first <= tokens.count else {
            throw InferenceError(.invalidRequest, "logits from token \(first) of a call with \(tokens.count) tokens")
        }
        guard position + tokens.count <= capacity else {
            throw InferenceError(.contextFull, "\(tokens.count) more tokens after \(position) do not fit in the context of \(capacity) tokens")
        }
        for token in tokens where token < 0 || token >= vocabulary {
            throw InferenceError(.tokenOutOfRange, "token id \(token) is outside the vocabulary of \(vocabulary)")
        }
    }
}

/// Why a model could not be built from a source or run: the kind, the file, the tensor or key, and what is wrong.
public struct InferenceError: LayerPackError {
    /// What kind of problem.
    public enum Kind: Sendable, Equatable {
        /// No implementation for the source's architecture, or a configuration that lacks what it needs.
        case unsupportedArchitecture
        /// The source has no configuration at all.
        case noConfiguration
        /// A weight the architecture needs is missing.
        case missingTensor
        /// A weight's shape disagrees with the configuration.
        case shapeMismatch
        /// The tokens do not fit in the context the model was built for.
        case contextFull
        /// A token id outside the vocabulary.
        case tokenOutOfRange
        /// A call that asks for what it cannot have (logits of tokens it does not run).
        case invalidRequest
    }

    public let kind: Kind
    public let path: String?
    public let location: ErrorLocation?
    public let message: String

    public init(_ kind: Kind, path: String? = nil, location: ErrorLocation? = nil, _ message: String) {
        self.kind = kind
        self.path = path
        self.location = location
        self.message = message
    }
}

/// A model with a per-layer embedding (PLE) table, read one token record at a time.
public protocol PerLayerEmbeddingModel: CausalLanguageModel {
    /// The pages (of the system's size) of the PLE table's file that lookups have read so far (empty when the table is
    /// in memory).
    var perLayerPagesRead: Set<Int> { get }
    /// Layers whose slice of the table is read as zeros (an ablation: how much the model leans on its table);
    /// empty normally.
    var ablatedTableLayers: Set<Int> { get set }
    /// Reads every page of the table, so that it is held in this process's memory rather than read on demand.
    func holdTableInMemory()
}
