/// The weights of a Gemma 3, 3n or 4 text model by what they are, with the names Hugging Face and llama.cpp give
/// them: the one table the inference loads by, weight comparisons match by, and GGUF exports rename by.
///
/// Hugging Face names are given without the `model.` / `model.language_model.` prefix a checkpoint adds (the output
/// head, `lm_head.weight`, has none). Gemma 3n's AltUp projections are three matrices in Hugging Face checkpoints
/// (`altup_projections.{0,1,2}.weight`) and one stacked tensor in GGUF.
public enum GemmaWeight: Hashable, Sendable, CustomStringConvertible {
    case tokenEmbedding
    case perLayerTable
    case perLayerModelProjection
    case perLayerProjectionNorm
    case finalNorm
    case outputHead
    /// Gemma 3n's AltUp projections of the streams other than the active one; `nil`: the stacked GGUF tensor.
    case altupProjection(Int?)
    case altupUnembedProjection(Int?)
    /// llama.cpp's per-pair RoPE frequency divisors of full-attention layers (Gemma 4 GGUFs).
    case ropeFrequencies
    case layer(Int, Layer)

    /// A weight of one decoder layer.
    public enum Layer: String, Hashable, Sendable, CaseIterable {
        case inputNorm, postAttentionNorm, preFeedforwardNorm, postFeedforwardNorm, postPerLayerNorm
        case query, key, value, output, queryNorm, keyNorm
        case gate, up, down
        case perLayerGate, perLayerProjection, layerScalar
        case laurelLeft, laurelRight, laurelPostNorm
        case altupRouter, altupRouterNorm, altupPrediction, altupCorrection, altupCorrectScale

        /// (Hugging Face name after `layers.N.`, GGUF name after `blk.N.`).
        var names: (huggingFace: String, gguf: String) {
            switch self {
            case .inputNorm: ("input_layernorm.weight", "attn_norm.weight")
            case .postAttentionNorm: ("post_attention_layernorm.weight", "post_attention_norm.weight")
            case .preFeedforwardNorm: ("pre_feedforward_layernorm.weight", "ffn_norm.weight")
            case .postFeedforwardNorm: ("post_feedforward_layernorm.weight", "post_ffw_norm.weight")
            case .postPerLayerNorm: ("post_per_layer_input_norm.weight", "post_norm.weight")
            case .query: ("self_attn.q_proj.weight", "attn_q.weight")
            case .key: ("self_attn.k_proj.weight", "attn_k.weight")
            case .value: ("self_attn.v_proj.weight", "attn_v.weight")
            case .output: ("self_attn.o_proj.weight", "attn_output.weight")
            case .queryNorm: ("self_attn.q_norm.weight", "attn_q_norm.weight")
            case .keyNorm: ("self_attn.k_norm.weight", "attn_k_norm.weight")
            case .gate: ("mlp.gate_proj.weight", "ffn_gate.weight")
            case .up: ("mlp.up_proj.weight", "ffn_up.weight")
            case .down: ("mlp.down_proj.weight", "ffn_down.weight")
            case .perLayerGate: ("per_layer_input_gate.weight", "inp_gate.weight")
            case .perLayerProjection: ("per_layer_projection.weight", "proj.weight")
            case .layerScalar: ("layer_scalar", "layer_output_scale.weight")
            case .laurelLeft: ("laurel.linear_left.weight", "laurel_l.weight")
            case .laurelRight: ("laurel.linear_right.weight", "laurel_r.weight")
            case .laurelPostNorm: ("laurel.post_laurel_norm.weight", "laurel_post_norm.weight")
            case .altupRouter: ("altup.modality_router.weight", "altup_router.weight")
            case .altupRouterNorm: ("altup.router_norm.weight", "altup_router_norm.weight")
            case .altupPrediction: ("altup.prediction_coefs.weight", "altup_predict_coef.weight")
            case .altupCorrection: ("altup.correction_coefs.weight", "altup_correct_coef.weight")
            case .altupCorrectScale: ("altup.correct_output_scale", "altup_correct_scale.weight")
            }
        }
    }

    /// The Hugging Face name without its `model.` prefix, or nil where Hugging Face has no such tensor.
    public var huggingFaceName: String? {
        switch self {
        case .tokenEmbedding: "embed_tokens.weight"
        case .perLayerTable: "embed_tokens_per_layer.weight"
        case .perLayerModelProjection: "per_layer_model_projection.weight"
        case .perLayerProjectionNorm: "per_layer_projection_norm.weight"
        case .finalNorm: "norm.weight"
        case .outputHead: "lm_head.weight"
        case .altupProjection(let index): index.map { "altup_projections.\($0).weight" }
        case .altupUnembedProjection(let index): index.map { "altup_unembed_projections.\($0).weight" }
        case .ropeFrequencies: nil
        case .layer(let layer, let weight): "layers.\(layer)." + weight.names.huggingFace
        }
    }

    /// llama.cpp's name, or nil where llama.cpp has no such tensor.
    public var ggufName: String? {
        switch self {
        case .tokenEmbedding: "token_embd.weight"
        case .perLayerTable: "per_layer_token_embd.weight"
        case .perLayerModelProjection: "per_layer_model_proj.weight"
        case .perLayerProjectionNorm: "per_layer_proj_norm.weight"
        case .finalNorm: "output_norm.weight"
        case .outputHead: "output.weight"
        case .altupProjection(let index): index == nil ? "altup_proj.weight" : nil
        case .altupUnembedProjection(let index): index == nil ? "altup_unembd_proj.weight" : nil
        case .ropeFrequencies: "rope_freqs.weight"
        case .layer(let layer, let weight): "blk.\(layer)." + weight.names.gguf
        }
    }

    /// The names a source may store this weight under, most specific first.
    public var candidateNames: [String] {
        var names: [String] = []
        if let hf = huggingFaceName { names += ["model.language_model." + hf, "model." + hf, hf] }
        if let gguf = ggufName { names.append(gguf) }
        return names
    }

    public var description: String { huggingFaceName ?? ggufName ?? "?" }

    /// The weight a tensor name (Hugging Face or GGUF, with or without prefixes) stands for, or nil for names the
    /// table does not know.
    public init?(tensorName name: String) {
        var stripped = name
        for prefix in ["model.language_model.", "model."] where stripped.hasPrefix(prefix) {
            stripped.removeFirst(prefix.count)
            break
        }
        if let weight = Self.byName[stripped] {
            self = weight
            return
        }
        // Layers: "layers.N.rest" or "blk.N.rest".
        for (prefix, huggingFace) in [("layers.", true), ("blk.", false)] where stripped.hasPrefix(prefix) {
            let rest = stripped.dropFirst(prefix.count)
            guard let dot = rest.firstIndex(of: "."), let layer = Int(rest[..<dot]) else { return nil }
            let suffix = String(rest[rest.index(after: dot)...])
            guard let weight = (huggingFace ? Self.layerByHuggingFaceName : Self.layerByGGUFName)[suffix] else { return nil }
            self = .layer(layer, weight)
            return
        }
        return nil
    }

    private static let byName: [String: GemmaWeight] = {
        var table: [String: GemmaWeight] = [:]
        let globals: [GemmaWeight] = [.tokenEmbedding, .perLayerTable, .perLayerModelProjection, .perLayerProjectionNorm,
                                      .finalNorm, .outputHead, .altupProjection(nil), .altupUnembedProjection(nil), .ropeFrequencies]
            + (0..<8).flatMap { [GemmaWeight.altupProjection($0), .altupUnembedProjection($0)] }
        for weight in globals {
            if let name = weight.huggingFaceName { table[name] = weight }
            if let name = weight.ggufName { table[name] = weight }
        }
        return table
    }()
    private static let layerByHuggingFaceName = Dictionary(uniqueKeysWithValues: Layer.allCases.map { ($0.names.huggingFace, $0) })
    private static let layerByGGUFName = Dictionary(uniqueKeysWithValues: Layer.allCases.map { ($0.names.gguf, $0) })
}
