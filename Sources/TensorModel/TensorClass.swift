import TensorTypes

/// The classes a recipe gives bit widths to (`lpk-quantize --core/--ple/--embed`).
///
/// `core` holds the matrices that are multiplied (attention, MLP, per-layer projections and gates, AltUp and LAuReL);
/// `ple` the per-layer embedding table, quantized per (token, layer) row; `embed` the token embedding and the output
/// head. Norms, scalars, rope frequencies, vectors and multimodal towers belong to no class and are never quantized.
public enum TensorClass: String, Sendable, Codable, CaseIterable, CustomStringConvertible {
    case core
    case ple
    case embed

    /// The class of `tensor`, or nil when it is never quantized.
    public init?(_ tensor: TensorDescriptor) {
        guard tensor.shape.rank >= 2, tensor.shape.rowLength >= 32, tensor.encoding != .file else { return nil }
        switch tensor.role {
        case .perLayerEmbedding: self = .ple
        case .tokenEmbedding, .outputHead: self = .embed
        case .attention, .mlp, .perLayerInput, .altup, .laurel, .other: self = .core
        case .norm, .layerScalar, .ropeFrequencies, .multimodalEmbedder, .visionTower, .audioTower: return nil
        }
    }

    public var description: String { rawValue }
}
