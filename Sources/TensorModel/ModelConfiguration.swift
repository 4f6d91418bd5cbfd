/// One description of a Gemma 3, Gemma 3n or Gemma 4 text model, read from `config.json` or GGUF metadata.
///
/// Field meanings follow Hugging Face's `Gemma3TextConfig`, `Gemma3nTextConfig` and `Gemma4TextConfig`
/// (see `ple-architecture.md`); values a source leaves out take those classes' defaults for the small models.
public struct ModelConfiguration: Sendable, Codable, Equatable {
    /// The model families LayerPack knows.
    public enum Architecture: String, Sendable, Codable {
        case gemma3, gemma3n, gemma4
    }

    /// How one decoder layer attends.
    public enum AttentionKind: String, Sendable, Codable {
        case sliding = "sliding_attention"
        case full = "full_attention"
    }

    public var architecture: Architecture
    /// The `model_type` (or GGUF `general.architecture`) as written.
    public var modelType: String
    public var vocabularySize: Int
    public var hiddenSize: Int
    public var layerCount: Int
    public var headCount: Int
    public var keyValueHeadCount: Int
    /// Head size of sliding-window layers (and of all layers unless ``globalHeadDimension`` is set).
    public var headDimension: Int
    /// Head size of full-attention layers when it differs (Gemma 4).
    public var globalHeadDimension: Int?
    /// Key/value heads of full-attention layers when they differ (Gemma 4's `num_global_key_value_heads`, or a
    /// full layer's `num_key_value_heads` in `per_layer_config`).
    public var globalKeyValueHeadCount: Int? = nil
    /// Whether full-attention layers take their values from the key projection, before its norm and RoPE (Gemma 4's
    /// `attention_k_eq_v`): those layers have no value projection.
    public var fullAttentionValuesAreKeys = false
    /// The MLP width of each layer.
    public var intermediateSizes: [Int]
    public var layerTypes: [AttentionKind]
    public var slidingWindow: Int
    public var ropeTheta: Double
    public var ropeLocalTheta: Double
    /// Fraction of a full-attention head that rotates (Gemma 4's proportional RoPE: 0.25).
    public var fullAttentionRotaryFraction: Double
    /// Linear RoPE scaling of full-attention layers: positions are divided by this (Gemma 3 4B and larger: 8).
    public var fullAttentionRopeScale: Double = 1
    public var rmsNormEpsilon: Double
    public var finalLogitSoftcap: Double?
    /// Softmax scale numerator: scores are multiplied by `queryPreAttentionScalar^-0.5` (Gemma 3), or 1 when nil.
    public var queryPreAttentionScalar: Double?
    /// Width of each layer's per-layer input (PLE), or nil for models without per-layer embeddings.
    public var perLayerInputSize: Int?
    /// Rows of the per-layer embedding table.
    public var perLayerVocabularySize: Int?
    /// The last this many layers reuse an earlier layer's keys and values.
    public var kvSharedLayerCount: Int
    public var altupInputCount: Int?
    public var altupActiveIndex: Int?
    public var laurelRank: Int?
    /// Whether Gemma 3n scales the corrected active stream by `correct_output_scale` before the per-layer gate.
    public var altupCorrectScale = true
    /// Gaussian top-k sparsity per layer (0 = dense).
    public var activationSparsity: [Double]
    public var tieWordEmbeddings: Bool
    /// Added to stored norm weights before use: 1 for Hugging Face Gemma 3 (`x·(1+w)`), 0 when the source baked it
    /// in (llama.cpp's Gemma 3 GGUFs) and for Gemma 3n / 4.
    public var normWeightOffset: Float

    /// The layers whose attention is full (not sliding-window).
    public var fullAttentionLayers: [Int] { layerTypes.indices.filter { layerTypes[$0] == .full } }

    /// The first layer that reuses another layer's keys and values.
    public var firstKVSharedLayer: Int { layerCount - kvSharedLayerCount }

    /// The layer whose keys and values `layer` attends over: itself, or for a KV-shared layer the last earlier
    /// layer of the same attention kind.
    public func cacheLayer(of layer: Int) -> Int {
        guard layer >= firstKVSharedLayer else { return layer }
        return (0..<firstKVSharedLayer).last { layerTypes[$0] == layerTypes[layer] } ?? layer
    }

    /// The key/value heads of layer `layer`.
    public func keyValueHeadCount(layer: Int) -> Int {
        layerTypes[layer] == .full ? (globalKeyValueHeadCount ?? keyValueHeadCount) : keyValueHeadCount
    }

    /// Whether layer `layer`'s values are its keys as projected (no value projection of its own).
    public func valuesAreKeys(layer: Int) -> Bool { fullAttentionValuesAreKeys && layerTypes[layer] == .full }

    /// The head size of layer `layer`.
    public func headDimension(layer: Int) -> Int {
        layerTypes[layer] == .full ? (globalHeadDimension ?? headDimension) : headDimension
    }
}
