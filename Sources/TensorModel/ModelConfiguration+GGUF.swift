#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import GGUFFormat

extension ModelConfiguration {
    /// Reads llama.cpp's metadata keys (`{arch}.block_count`, …) for the `gemma3`, `gemma3n` and `gemma4`
    /// architectures; returns nil for other architectures or files without the required keys.
    /// - Throws: ``TensorSourceError`` (`.invalidConfiguration`) when a Gemma GGUF's values are out of bounds.
    public init?(gguf file: GGUFFile) throws {
        guard let arch = file.architecture, let architecture = Architecture(rawValue: arch) else { return nil }
        func value(_ key: String) -> GGUFValue? { file["\(arch).\(key)"] }
        func int(_ key: String) -> Int? { value(key)?.intValue }
        func double(_ key: String) -> Double? { value(key)?.doubleValue }
        func perLayer(_ key: String, count: Int) -> [Int]? {
            if let scalar = int(key) { return Array(repeating: scalar, count: count) }
            return (try? value(key)?.arrayValue?.integers()) ?? nil
        }
        guard let layers = int("block_count"), let hidden = int("embedding_length"),
              let heads = int("attention.head_count") ?? perLayer("attention.head_count", count: 1)?.first
        else { return nil }
        guard (1...ConfigurationLimits.maxLayers).contains(layers) else {
            throw TensorSourceError.invalidConfiguration(file: file.path, key: "\(arch).block_count", "\(layers) is outside 1...\(ConfigurationLimits.maxLayers)")
        }
        let vocabulary = file["tokenizer.ggml.tokens"]?.arrayValue?.count
            ?? (try? file.tensor(named: "token_embd.weight"))?.ne.last ?? 0
        let kvHeadsPerLayer = perLayer("attention.head_count_kv", count: layers) ?? []
        let swaKeyLength = int("attention.key_length_swa")
        let keyLength = int("attention.key_length") ?? 256
        var layerTypes: [AttentionKind]
        if let pattern = (try? value("attention.sliding_window_pattern")?.arrayValue?.bools()) ?? nil, pattern.count == layers {
            layerTypes = pattern.map { $0 ? .sliding : .full }
        } else {
            let period = architecture == .gemma3 ? 6 : 5
            layerTypes = (0..<layers).map { ($0 + 1) % period == 0 ? .full : .sliding }
        }
        let sparsity = ((try? value("activation_sparsity_scale")?.arrayValue?.doubles()) ?? nil) ?? []
        self.init(
            architecture: architecture, modelType: arch, vocabularySize: vocabulary, hiddenSize: hidden,
            layerCount: layers, headCount: heads,
            keyValueHeadCount: zip(layerTypes, kvHeadsPerLayer).first { $0.0 == .sliding }?.1 ?? kvHeadsPerLayer.first ?? 1,
            headDimension: swaKeyLength ?? keyLength, globalHeadDimension: swaKeyLength.map { _ in keyLength },
            intermediateSizes: perLayer("feed_forward_length", count: layers) ?? [], layerTypes: layerTypes,
            slidingWindow: int("attention.sliding_window") ?? 512,
            ropeTheta: double("rope.freq_base") ?? 1_000_000, ropeLocalTheta: double("rope.freq_base_swa") ?? 10_000,
            fullAttentionRotaryFraction: 1, rmsNormEpsilon: double("attention.layer_norm_rms_epsilon") ?? 1e-6,
            finalLogitSoftcap: double("final_logit_softcapping"),
            queryPreAttentionScalar: architecture == .gemma3 ? Double(keyLength) : nil,
            perLayerInputSize: int("embedding_length_per_layer_input").flatMap { $0 == 0 ? nil : $0 },  // 0: no PLE
            perLayerVocabularySize: (try? file.tensor(named: "per_layer_token_embd.weight"))?.ne.last,
            kvSharedLayerCount: int("attention.shared_kv_layers") ?? 0,
            altupInputCount: int("altup.num_inputs"), altupActiveIndex: int("altup.active_idx"),
            laurelRank: (try? file.tensor(named: "blk.0.laurel_l.weight"))?.ne.last,
            // GGUF stores the std multiplier Φ⁻¹(p); the configuration keeps p, as config.json does.
            activationSparsity: sparsity.count == layers ? sparsity.map { $0 > 0 ? 0.5 * (1 + erf($0 / 2.0.squareRoot())) : 0 }
                : Array(repeating: 0, count: layers),
            tieWordEmbeddings: !file.contains("output.weight"),
            normWeightOffset: 0)
        // Full layers with their own KV head count (an array per layer), and without a value projection (Gemma 4's
        // k_eq_v form: llama.cpp then takes values from the key projection).
        if let full = zip(layerTypes, kvHeadsPerLayer).first(where: { $0.0 == .full })?.1, full != keyValueHeadCount {
            globalKeyValueHeadCount = full
        }
        if architecture == .gemma4, let full = fullAttentionLayers.first(where: { $0 < firstKVSharedLayer }) {
            fullAttentionValuesAreKeys = !file.contains("blk.\(full).attn_v.weight") && file.contains("blk.\(full).attn_k.weight")
        }
        if value("rope.scaling.type")?.stringValue == "linear", let factor = double("rope.scaling.factor"), factor > 0 {
            fullAttentionRopeScale = factor
        }
        try Self.checkKeys(of: file, arch: arch, reading: self)
        try validate(file: file.path)
    }

    /// The `{arch}.*` keys llama.cpp's converter writes for Gemma 3, 3n and 4 text models, each of which is read above
    /// or checked below.
    static let knownGGUFKeys: Set<String> = [
        "block_count", "context_length", "embedding_length", "feed_forward_length", "vocab_size",
        "attention.head_count", "attention.head_count_kv", "attention.key_length", "attention.value_length",
        "attention.key_length_swa", "attention.value_length_swa", "attention.layer_norm_rms_epsilon",
        "attention.sliding_window", "attention.sliding_window_pattern", "attention.shared_kv_layers",
        "rope.freq_base", "rope.freq_base_swa", "rope.dimension_count", "rope.dimension_count_swa", "rope.scaling.type",
        "rope.scaling.factor", "final_logit_softcapping", "embedding_length_per_layer_input", "altup.active_idx",
        "altup.num_inputs", "activation_sparsity_scale",
    ]

    /// Refuses, by name, an `{arch}.*` key the reader does not know (it could change the model: MoE experts,
    /// another attention scale…) and keys whose values contradict what the model is built from: values as long as
    /// keys, RoPE over whole heads (partial rotation comes from `rope_freqs.weight`), linear or no RoPE scaling, and
    /// a stated vocabulary size that is the model's.
    static func checkKeys(of file: GGUFFile, arch: String, reading c: ModelConfiguration) throws {
        func fail(_ key: String, _ reason: String) -> TensorSourceError {
            .invalidConfiguration(file: file.path, key: "\(arch).\(key)", reason)
        }
        for (key, _) in file.metadata where key.hasPrefix(arch + ".") {
            let name = String(key.dropFirst(arch.count + 1))
            guard knownGGUFKeys.contains(name) else {
                throw fail(name, "is not a key LayerPack's \(arch) reads; it could change the model, so the file is refused rather than misread")
            }
        }
        func int(_ key: String) -> Int? { file["\(arch).\(key)"]?.intValue }
        let fullHead = c.globalHeadDimension ?? c.headDimension
        if let length = int("attention.value_length"), length != (int("attention.key_length") ?? 256) {
            throw fail("attention.value_length", "\(length) differs from the key length: Gemma's values are as long as its keys")
        }
        if let length = int("attention.value_length_swa"), length != c.headDimension {
            throw fail("attention.value_length_swa", "\(length) differs from the sliding layers' key length \(c.headDimension)")
        }
        if let rotated = int("rope.dimension_count"), rotated != fullHead {
            throw fail("rope.dimension_count", "\(rotated) is not the full-attention head size \(fullHead): partial rotation is read from rope_freqs.weight")
        }
        if let rotated = int("rope.dimension_count_swa"), rotated != c.headDimension {
            throw fail("rope.dimension_count_swa", "\(rotated) is not the sliding layers' head size \(c.headDimension)")
        }
        if let scaling = file["\(arch).rope.scaling.type"]?.stringValue, scaling != "linear", scaling != "none" {
            throw fail("rope.scaling.type", "\"\(scaling)\" is not supported (linear and none are)")
        }
        if let size = int("vocab_size"), c.vocabularySize != 0, size != c.vocabularySize {
            throw fail("vocab_size", "\(size) is not the model's vocabulary of \(c.vocabularySize) tokens")
        }
    }
}
