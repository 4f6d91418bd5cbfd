import StrictJSON

extension ModelConfiguration {
    /// Reads a Hugging Face `config.json` object (a text config, or a multimodal one with `text_config`).
    /// - Throws: ``TensorSourceError`` (`.invalidConfiguration`) for unknown model types or bad fields.
    public init(huggingFace root: JSONObject, file: String) throws {
        let text = root["text_config"]?.objectValue ?? root
        let modelType = text["model_type"]?.stringValue ?? root["model_type"]?.stringValue ?? ""
        func fail(_ reason: String) -> TensorSourceError { .invalidConfiguration(file: file, reason) }
        let architecture: Architecture
        switch modelType {
        case "gemma3_text", "gemma3": architecture = .gemma3
        case "gemma3n_text", "gemma3n": architecture = .gemma3n
        case "gemma4_text", "gemma4": architecture = .gemma4
        default: throw fail("unsupported model_type \"\(modelType)\" (supported: gemma3_text, gemma3n_text, gemma4_text)")
        }
        func int(_ key: String, _ fallback: Int? = nil) throws -> Int {
            if let value = text[key], value != .null {
                guard let number = value.intValue else { throw fail("\(key) is not an integer") }
                return number
            }
            guard let fallback else { throw fail("missing \(key)") }
            return fallback
        }
        func double(_ key: String) -> Double? { text[key]?.doubleValue }

        let layers = try int("num_hidden_layers")
        let hidden = try int("hidden_size")
        var config = ModelConfiguration(
            architecture: architecture, modelType: modelType,
            vocabularySize: try int("vocab_size"), hiddenSize: hidden, layerCount: layers,
            headCount: try int("num_attention_heads"), keyValueHeadCount: try int("num_key_value_heads", 1),
            headDimension: try int("head_dim", 256), globalHeadDimension: text["global_head_dim"]?.intValue,
            intermediateSizes: [], layerTypes: [], slidingWindow: try int("sliding_window", 512),
            ropeTheta: 1_000_000, ropeLocalTheta: 10_000, fullAttentionRotaryFraction: 1,
            rmsNormEpsilon: double("rms_norm_eps") ?? 1e-6,
            finalLogitSoftcap: double("final_logit_softcapping"),
            queryPreAttentionScalar: architecture == .gemma3 ? (double("query_pre_attn_scalar") ?? 256) : nil,
            perLayerInputSize: text["hidden_size_per_layer_input"]?.intValue,
            perLayerVocabularySize: text["vocab_size_per_layer_input"]?.intValue,
            kvSharedLayerCount: try int("num_kv_shared_layers", 0),
            altupInputCount: architecture == .gemma3n ? try int("altup_num_inputs", 4) : nil,
            altupActiveIndex: architecture == .gemma3n ? try int("altup_active_idx", 0) : nil,
            laurelRank: architecture == .gemma3n ? try int("laurel_rank", 64) : nil,
            activationSparsity: [], tieWordEmbeddings: (root["tie_word_embeddings"] ?? text["tie_word_embeddings"])?.boolValue ?? true,
            normWeightOffset: architecture == .gemma3 ? 1 : 0)
        if config.perLayerInputSize == 0 { config.perLayerInputSize = nil }
        config.altupCorrectScale = text["altup_correct_scale"]?.boolValue ?? true

        // Layer types: explicit, else Gemma 3's sliding_window_pattern.
        if let types = text["layer_types"]?.arrayValue {
            config.layerTypes = try types.map {
                guard let name = $0.stringValue, let kind = AttentionKind(rawValue: name) else { throw fail("unknown layer type in layer_types") }
                return kind
            }
        } else {
            let pattern = try int("sliding_window_pattern", 6)
            config.layerTypes = (0..<layers).map { ($0 + 1) % pattern == 0 ? .full : .sliding }
        }
        guard config.layerTypes.count == layers else { throw fail("layer_types has \(config.layerTypes.count) entries for \(layers) layers") }

        // MLP widths: an int, or one per layer; Gemma 4 doubles the KV-shared layers' width when asked.
        if let widths = text["intermediate_size"]?.arrayValue {
            config.intermediateSizes = widths.compactMap(\.intValue)
        } else {
            config.intermediateSizes = Array(repeating: try int("intermediate_size"), count: layers)
        }
        guard config.intermediateSizes.count == layers else { throw fail("intermediate_size has the wrong number of entries") }
        if text["use_double_wide_mlp"]?.boolValue == true {
            for layer in config.firstKVSharedLayer..<layers { config.intermediateSizes[layer] *= 2 }
        }

        // RoPE: transformers 5 writes rope_parameters per layer type; older configs write rope_theta and rope_local_base_freq.
        if let parameters = text["rope_parameters"]?.objectValue {
            let full = parameters["full_attention"]?.objectValue ?? parameters
            let sliding = parameters["sliding_attention"]?.objectValue
            config.ropeTheta = full["rope_theta"]?.doubleValue ?? config.ropeTheta
            config.ropeLocalTheta = sliding?["rope_theta"]?.doubleValue ?? config.ropeLocalTheta
            if full["rope_type"]?.stringValue == "proportional" {
                config.fullAttentionRotaryFraction = full["partial_rotary_factor"]?.doubleValue ?? 1
            }
        } else {
            config.ropeTheta = double("rope_theta") ?? config.ropeTheta
            config.ropeLocalTheta = double("rope_local_base_freq") ?? config.ropeLocalTheta
        }

        // Gemma 4 writes the full-attention head size per layer (`per_layer_config: {"2": {"head_dim": 32}}`).
        if let perLayer = text["per_layer_config"]?.objectValue {
            let sizes = Set(perLayer.members.compactMap { $0.value.objectValue?["head_dim"]?.intValue })
            guard sizes.count <= 1 else { throw fail("per_layer_config gives several head sizes \(sizes.sorted())") }
            if let size = sizes.first { config.globalHeadDimension = size }
        }

        if let pattern = text["activation_sparsity_pattern"]?.arrayValue {
            config.activationSparsity = pattern.compactMap(\.doubleValue)
        }
        if config.activationSparsity.count != layers {
            config.activationSparsity = Array(repeating: 0, count: layers)
        }
        self = config
    }
}
