/// Caps on what a GGUF file may claim; callers can tighten them. Every count is also bounded by the bytes left.
public struct GGUFLimits: Sendable {
    /// The most dimensions a tensor may have (ggml's `GGML_MAX_DIMS`).
    public var maxDimensions = 4
    /// The longest tensor name in bytes (ggml's `GGML_MAX_NAME` less the terminator).
    public var maxTensorNameBytes = 63
    /// The longest metadata key in bytes.
    public var maxKeyBytes = 65_535
    /// The deepest nesting of arrays inside arrays.
    public var maxArrayDepth = 4

    public init() {}
}
