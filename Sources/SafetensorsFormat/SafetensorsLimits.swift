/// Caps on what a safetensors header may claim; callers can tighten them.
public struct SafetensorsLimits: Sendable {
    /// The largest header accepted, in bytes (the reference implementation's limit).
    public var maxHeaderBytes = 100_000_000
    /// The most tensors one file may declare.
    public var maxTensors = 1_000_000
    /// The deepest JSON nesting accepted in a header.
    public var maxJSONDepth = 8

    public init() {}
}
