/// The bounds a configuration's numbers must keep before anything is sized or indexed by them (Formats/safetensors.md
/// and Formats/gguf.md state them too).
public enum ConfigurationLimits {
    /// The largest vocabulary (tokens and PLE rows).
    public static let maxVocabulary = 1 << 24
    /// The widest hidden state, MLP, per-layer input or head.
    public static let maxWidth = 1 << 20
    /// The most layers and heads.
    public static let maxLayers = 4096
    public static let maxHeads = 4096
    /// The most AltUp streams.
    public static let maxStreams = 16
}

extension ModelConfiguration {
    /// Checks every number that sizes or indexes anything against the others and ``ConfigurationLimits``: positive
    /// sizes within bounds, one layer type, MLP width and sparsity per layer, heads divisible by key/value heads, even
    /// head sizes, a producer for every KV-shared layer, finite positive scales.
    /// - Parameter file: the file the configuration came from, for the error.
    /// - Throws: ``TensorSourceError`` (`.invalidConfiguration`) naming the field and what was expected.
    public func validate(file: String) throws {
        func fail(_ key: String, _ message: String) -> TensorSourceError { .invalidConfiguration(file: file, key: key, message) }
        func check(_ value: Int, _ key: String, _ range: ClosedRange<Int>) throws {
            guard range.contains(value) else { throw fail(key, "\(value) is outside \(range.lowerBound)...\(range.upperBound)") }
        }
        func positive(_ value: Double?, _ key: String) throws {
            if let value, !(value.isFinite && value > 0) { throw fail(key, "\(value) is not a finite positive number") }
        }
        try check(vocabularySize, "vocab_size", 1...ConfigurationLimits.maxVocabulary)
        try check(hiddenSize, "hidden_size", 1...ConfigurationLimits.maxWidth)
        try check(layerCount, "num_hidden_layers", 1...ConfigurationLimits.maxLayers)
        try check(headCount, "num_attention_heads", 1...ConfigurationLimits.maxHeads)
        try check(keyValueHeadCount, "num_key_value_heads", 1...headCount)
        guard headCount % keyValueHeadCount == 0 else {
            throw fail("num_key_value_heads", "\(keyValueHeadCount) does not divide the \(headCount) attention heads")
        }
        if let globalKeyValueHeadCount {
            try check(globalKeyValueHeadCount, "num_global_key_value_heads", 1...headCount)
            guard headCount % globalKeyValueHeadCount == 0 else {
                throw fail("num_global_key_value_heads", "\(globalKeyValueHeadCount) does not divide the \(headCount) attention heads")
            }
        }
        for (key, size) in [("head_dim", headDimension), ("global_head_dim", globalHeadDimension ?? headDimension)] {
            try check(size, key, 2...ConfigurationLimits.maxWidth)
            guard size % 2 == 0 else { throw fail(key, "\(size) is odd: RoPE turns pairs of a head") }
        }
        guard layerTypes.count == layerCount else { throw fail("layer_types", "\(layerTypes.count) entries for \(layerCount) layers") }
        guard intermediateSizes.count == layerCount else {
            throw fail("intermediate_size", "\(intermediateSizes.count) entries for \(layerCount) layers")
        }
        for size in intermediateSizes { try check(size, "intermediate_size", 1...ConfigurationLimits.maxWidth) }
        try check(slidingWindow, "sliding_window", 1...Int(Int32.max))
        try positive(ropeTheta, "rope_theta")
        try positive(ropeLocalTheta, "rope_local_base_freq")
        try positive(fullAttentionRopeScale, "rope_parameters.factor")
        guard fullAttentionRotaryFraction > 0, fullAttentionRotaryFraction <= 1 else {
            throw fail("partial_rotary_factor", "\(fullAttentionRotaryFraction) is outside (0, 1]")
        }
        guard rmsNormEpsilon.isFinite, rmsNormEpsilon >= 0, rmsNormEpsilon < 1 else { throw fail("rms_norm_eps", "\(rmsNormEpsilon) is outside [0, 1)") }
        try positive(finalLogitSoftcap, "final_logit_softcapping")
        try positive(queryPreAttentionScalar, "query_pre_attn_scalar")
        guard normWeightOffset.isFinite else { throw fail("normWeightOffset", "is not finite") }
        if let size = perLayerInputSize { try check(size, "hidden_size_per_layer_input", 1...ConfigurationLimits.maxWidth) }
        if let rows = perLayerVocabularySize { try check(rows, "vocab_size_per_layer_input", 1...ConfigurationLimits.maxVocabulary) }
        try check(kvSharedLayerCount, "num_kv_shared_layers", 0...(layerCount - 1))
        for layer in firstKVSharedLayer..<layerCount where !(0..<firstKVSharedLayer).contains(where: { layerTypes[$0] == layerTypes[layer] }) {
            throw fail("num_kv_shared_layers", "layer \(layer) shares keys and values, but no earlier layer of its kind (\(layerTypes[layer].rawValue)) has them")
        }
        if let streams = altupInputCount {
            try check(streams, "altup_num_inputs", 2...ConfigurationLimits.maxStreams)
            try check(altupActiveIndex ?? 0, "altup_active_idx", 0...(streams - 1))
        }
        if let rank = laurelRank { try check(rank, "laurel_rank", 1...ConfigurationLimits.maxWidth) }
        guard activationSparsity.count == layerCount, activationSparsity.allSatisfy({ $0.isFinite && $0 >= 0 && $0 < 1 }) else {
            throw fail("activation_sparsity_pattern", "needs one value in [0, 1) per layer")
        }
    }
}
