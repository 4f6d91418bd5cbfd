import TensorModel

/// Builds the reference model for a source from its architecture: one line per architecture, each pointing at the
/// file that implements it.
public enum ModelRegistry {
    /// Makes a model of one architecture from a source, its configuration, a context length and numerics.
    public typealias Constructor = @Sendable (any TensorSource, ModelConfiguration, Int, Numerics) throws -> any CausalLanguageModel

    /// The implementations, by architecture.
    static let constructors: [ModelConfiguration.Architecture: Constructor] = [
        .gemma3: { try Gemma3TextModel(source: $0, configuration: $1, contextLength: $2, numerics: $3) },
        .gemma3n: { try Gemma3nTextModel(source: $0, configuration: $1, contextLength: $2, numerics: $3) },
        .gemma4: { try Gemma4TextModel(source: $0, configuration: $1, contextLength: $2, numerics: $3) },
    ]

    /// The most memory a model's KV cache may take: a context that would need more is refused before anything is
    /// allocated (16 GiB).
    public static let maxCacheBytes = 16 << 30

    /// Refuses a context length that is not positive or whose KV cache would exceed ``maxCacheBytes``.
    static func checkCache(_ c: ModelConfiguration, contextLength: Int, source: String) throws {
        let perToken = (0..<c.firstKVSharedLayer).reduce(0) { $0 + 2 * c.keyValueHeadCount(layer: $1) * c.headDimension(layer: $1) * MemoryLayout<Float>.size }
        let (bytes, overflow) = perToken.multipliedReportingOverflow(by: max(0, contextLength))
        guard contextLength >= 1, !overflow, bytes <= maxCacheBytes else {
            throw InferenceError(.contextFull, path: source, "a context of \(contextLength) tokens needs a KV cache of "
                                 + (overflow ? "more than 2^63 bytes" : "\(bytes) bytes") + "; the limit is \(maxCacheBytes) (16 GiB)")
        }
    }

    /// Opens the right architecture for `source`, with room for `contextLength` tokens, running with `numerics`; the
    /// pages of every matrix but lookup tables are mapped in (``LinearWeight/mapIn()``).
    public static func model(for source: any TensorSource, contextLength: Int, numerics: Numerics = .float32) throws -> any CausalLanguageModel {
        guard let configuration = source.configuration else {
            throw InferenceError(.noConfiguration, path: source.path, "no model configuration (config.json or GGUF metadata) to build a model from")
        }
        try configuration.validate(file: source.path)
        try checkCache(configuration, contextLength: contextLength, source: source.path)
        guard let constructor = constructors[configuration.architecture] else {
            throw InferenceError(.unsupportedArchitecture, path: source.path, "no reference implementation for architecture '\(configuration.modelType)'")
        }
        let model = try constructor(source, configuration, contextLength, numerics)
        // Every token reads these whole: their pages are mapped in now rather than faulted in by the first token.
        for matrix in model.matrices where !matrix.isLookupTable { matrix.mapIn() }
        return model
    }
}
