import StrictJSON

extension ModelConfiguration {
    /// Reads a Hugging Face `config.json` object (a text config, or a multimodal one with `text_config`).
    /// - Throws: ``TensorSourceError`` (`.invalidConfiguration`) for unknown model types or bad fields.
    public init(huggingFace root: JSONObject, file: String) throws {
        let text = root["text_config"]?.objectValue ?? root
        let modelType = text["model_type"]?.stringValue ?? root["model_type"]?.stringValue ?? ""
        func fail(_ reason: String, key: String? = nil) -> TensorSourceError { .invalidConfiguration(file: file, key: key, reason) }
        let architecture: Architecture
        switch modelType {
        case "gemma3_text", "gemma3": architecture = .gemma3
        case "gemma3n_text", "gemma3n": architecture = .gemma3n
        case "gemma4_text", "gemma4": architecture = .gemma4
        default: throw fail("unsupported model_type \"\(modelType)\" (supported: gemma3_text, gemma3n_text, gemma4_text)")
        }
        func int(_ key: String, _ fallback: Int? = nil) throws -> Int {
            if let number = try optionalInt(key) { return number }
            guard let fallback else { throw fail("is missing", key: key) }
            return fallback
        }
        /// A present key must hold an integer; absent or null: nil.
        func optionalInt(_ key: String) throws -> Int? {
            guard let value = text[key], value != .null else { return nil }
            guard let number = value.intValue else { throw fail("is not an integer", key: key) }
            return number
        }
        /// A present key must hold a number; absent or null: nil.
        func double(_ key: String) throws -> Double? {
            guard let value = text[key], value != .null else { return nil }
            guard let number = value.doubleValue, number.isFinite else { throw fail("is not a finite number", key: key) }
            return number
        }
        func bool(_ key: String, in object: JSONObject) throws -> Bool? {
            guard let value = object[key], value != .null else { return nil }
            guard let flag = value.boolValue else { throw fail("is not true or false", key: key) }
            return flag
        }

        let layers = try int("num_hidden_layers")
        // Per-layer lists are sized by this, so it is bounded before any of them is read.
        guard (1...ConfigurationLimits.maxLayers).contains(layers) else {
            throw fail("is \(layers); it must lie in 1...\(ConfigurationLimits.maxLayers)", key: "num_hidden_layers")
        }
        let hidden = try int("hidden_size")
        var config = ModelConfiguration(
            architecture: architecture, modelType: modelType,
            vocabularySize: try int("vocab_size"), hiddenSize: hidden, layerCount: layers,
            headCount: try int("num_attention_heads"), keyValueHeadCount: try int("num_key_value_heads", 1),
            headDimension: try int("head_dim", 256), globalHeadDimension: try optionalInt("global_head_dim"),
            intermediateSizes: [], layerTypes: [], slidingWindow: try int("sliding_window", 512),
            ropeTheta: 1_000_000, ropeLocalTheta: 10_000, fullAttentionRotaryFraction: 1,
            rmsNormEpsilon: try double("rms_norm_eps") ?? 1e-6,
            finalLogitSoftcap: try double("final_logit_softcapping"),
            queryPreAttentionScalar: architecture == .gemma3 ? (try double("query_pre_attn_scalar") ?? 256) : nil,
            perLayerInputSize: try optionalInt("hidden_size_per_layer_input"),
            perLayerVocabularySize: try optionalInt("vocab_size_per_layer_input"),
            kvSharedLayerCount: try int("num_kv_shared_layers", 0),
            altupInputCount: architecture == .gemma3n ? try int("altup_num_inputs", 4) : nil,
            altupActiveIndex: architecture == .gemma3n ? try int("altup_active_idx", 0) : nil,
            laurelRank: architecture == .gemma3n ? try int("laurel_rank", 64) : nil,
            activationSparsity: [], tieWordEmbeddings: try bool("tie_word_embeddings", in: root) ?? bool("tie_word_embeddings", in: text) ?? true,
            normWeightOffset: architecture == .gemma3 ? 1 : 0)
        if config.perLayerInputSize == 0 { config.perLayerInputSize = nil }
        config.altupCorrectScale = try bool("altup_correct_scale", in: text) ?? true

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
        guard config.layerTypes.count == layers else { throw fail("has \(config.layerTypes.count) entries for \(layers) layers", key: "layer_types") }

        // MLP widths: an int, or one per layer; Gemma 4 doubles the KV-shared layers' width when asked.
        if let widths = text["intermediate_size"]?.arrayValue {
            config.intermediateSizes = widths.compactMap(\.intValue)
            guard config.intermediateSizes.count == widths.count else { throw fail("holds a value that is not an integer", key: "intermediate_size") }
        } else {
            config.intermediateSizes = Array(repeating: try int("intermediate_size"), count: max(0, layers))
        }
        guard config.intermediateSizes.count == layers else {
            throw fail("has \(config.intermediateSizes.count) entries for \(layers) layers", key: "intermediate_size")
        }
        if try bool("use_double_wide_mlp", in: text) == true {
            guard (0...layers).contains(config.kvSharedLayerCount) else { throw fail("exceeds the layer count", key: "num_kv_shared_layers") }
            for layer in config.firstKVSharedLayer..<layers { config.intermediateSizes[layer] *= 2 }
        }

        // RoPE: transformers 5 writes rope_parameters per layer type; older configs write rope_theta and rope_local_base_freq.
        if let parameters = text["rope_parameters"]?.objectValue {
            let full = parameters["full_attention"]?.objectValue ?? parameters
            let sliding = parameters["sliding_attention"]?.objectValue
            config.ropeTheta = try Self.number(full, "rope_theta", file: file) ?? config.ropeTheta
            config.ropeLocalTheta = try sliding.flatMap { try Self.number($0, "rope_theta", file: file) } ?? config.ropeLocalTheta
            try config.applyRopeType(full, file: file)
        } else {
            config.ropeTheta = try double("rope_theta") ?? config.ropeTheta
            config.ropeLocalTheta = try double("rope_local_base_freq") ?? config.ropeLocalTheta
            if let scaling = text["rope_scaling"]?.objectValue { try config.applyRopeType(scaling, file: file) }
        }

        // Gemma 4: full-attention layers may take values from their keys and have their own head size and KV heads,
        // written per layer (`per_layer_config: {"2": {"head_dim": 32, "num_key_value_heads": 1}}`) or, by older
        // writers, as `global_head_dim` and `num_global_key_value_heads` (the latter used only with
        // `attention_k_eq_v`, as transformers does).
        if architecture == .gemma4 {
            config.fullAttentionValuesAreKeys = try bool("attention_k_eq_v", in: text) ?? false
            if config.fullAttentionValuesAreKeys { config.globalKeyValueHeadCount = try optionalInt("num_global_key_value_heads") }
            if let perLayer = text["per_layer_config"]?.objectValue { try config.applyPerLayerConfig(perLayer, file: file) }
        }

        if let pattern = text["activation_sparsity_pattern"]?.arrayValue {
            config.activationSparsity = pattern.compactMap(\.doubleValue)
            guard config.activationSparsity.count == pattern.count, pattern.count == layers else {
                throw fail("needs one number per layer (\(layers))", key: "activation_sparsity_pattern")
            }
        } else {
            config.activationSparsity = Array(repeating: 0, count: max(0, layers))
        }
        try config.validate(file: file)
        self = config
    }
}

extension ModelConfiguration {
    /// Applies Gemma 4's `per_layer_config`: per-layer `head_dim` and `num_key_value_heads`. LayerPack keeps one
    /// value per attention kind, so full layers must agree with each other and sliding layers with the top-level
    /// values.
    mutating func applyPerLayerConfig(_ perLayer: JSONObject, file: String) throws {
        func fail(_ reason: String) -> TensorSourceError { .invalidConfiguration(file: file, key: "per_layer_config", reason) }
        var fullHeads: Set<Int> = [], fullKVHeads: Set<Int> = []
        for member in perLayer.members {
            guard let layer = Int(member.key), layerTypes.indices.contains(layer), let entry = member.value.objectValue else {
                throw fail("entry \"\(member.key)\" is not a layer index below \(layerCount) holding an object")
            }
            var sizes: [String: Int] = [:]
            for key in ["head_dim", "num_key_value_heads"] {
                guard let value = entry[key], value != .null else { continue }
                guard let number = value.intValue else { throw fail("layer \(layer): \(key) is not an integer") }
                sizes[key] = number
            }
            if layerTypes[layer] == .full {
                sizes["head_dim"].map { _ = fullHeads.insert($0) }
                sizes["num_key_value_heads"].map { _ = fullKVHeads.insert($0) }
            } else if sizes["head_dim"].map({ $0 != headDimension }) == true
                        || sizes["num_key_value_heads"].map({ $0 != keyValueHeadCount }) == true {
                throw fail("sliding layer \(layer) overrides head_dim or num_key_value_heads, which LayerPack does not support")
            }
        }
        guard fullHeads.count <= 1, fullKVHeads.count <= 1 else {
            throw fail("full-attention layers differ in head_dim \(fullHeads.sorted()) or num_key_value_heads \(fullKVHeads.sorted())")
        }
        if let size = fullHeads.first { globalHeadDimension = size }
        if let heads = fullKVHeads.first { globalKeyValueHeadCount = heads == keyValueHeadCount ? nil : heads }
    }

    /// Applies the full-attention RoPE type of a `rope_parameters` (or legacy `rope_scaling`) object: `default`,
    /// `linear` (positions divided by `factor`) or `proportional` (only `partial_rotary_factor` of the head turns).
    /// - Throws: for RoPE types LayerPack does not implement, naming the type.
    mutating func applyRopeType(_ parameters: JSONObject, file: String) throws {
        switch parameters["rope_type"]?.stringValue ?? parameters["type"]?.stringValue ?? "default" {
        case "default": break
        case "linear": fullAttentionRopeScale = try Self.number(parameters, "factor", file: file) ?? 1
        case "proportional": fullAttentionRotaryFraction = try Self.number(parameters, "partial_rotary_factor", file: file) ?? 1
        case let other:
            throw TensorSourceError.invalidConfiguration(file: file, key: "rope_type", "RoPE type \"\(other)\" is not implemented (default, linear, proportional are)")
        }
    }

    /// A number of a nested object, when present: anything else is refused by name.
    static func number(_ object: JSONObject, _ key: String, file: String) throws -> Double? {
        guard let value = object[key], value != .null else { return nil }
        guard let number = value.doubleValue, number.isFinite else {
            throw TensorSourceError.invalidConfiguration(file: file, key: key, "is not a finite number")
        }
        return number
    }
}
