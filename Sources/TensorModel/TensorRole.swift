/// What a tensor is for in a Gemma-family model, decided from its name (Hugging Face or GGUF naming alike).
///
/// Roles decide how later steps treat a tensor: the per-layer embedding table is quantized row by row and kept
/// in its own section, norms and scalars are never quantized, towers are skipped by text-only steps.
public enum TensorRole: String, Sendable, CaseIterable, Codable, Comparable {
    case tokenEmbedding = "token embedding"
    case perLayerEmbedding = "per-layer embedding table"
    case perLayerInput = "per-layer projections and gates"
    case attention
    case mlp = "MLP"
    case altup = "AltUp"
    case laurel = "LAuReL"
    case norm
    case layerScalar = "layer scalar"
    case ropeFrequencies = "rope frequencies"
    case outputHead = "output head"
    case multimodalEmbedder = "multimodal embedder"
    case visionTower = "vision tower"
    case audioTower = "audio tower"
    case other

    /// Whether text-only steps (inference, quantization recipes) skip tensors of this role.
    public var isMultimodal: Bool { self == .visionTower || self == .audioTower || self == .multimodalEmbedder }

    public static func < (lhs: TensorRole, rhs: TensorRole) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }

    /// The role of the tensor called `name`.
    public init(tensorName name: String) {
        let n = name.lowercased()
        // A byte search: the standard library's `contains` builds a searcher per call, which dominated opening a
        // checkpoint of a million tensors.
        let bytes = Array(n.utf8)
        func has(_ part: String) -> Bool { Self.bytes(bytes, contain: Array(part.utf8)) }
        if has("vision_tower") || has("vision_model") || n.hasPrefix("v.") || n.hasPrefix("mm.") {
            self = .visionTower
        } else if has("audio_tower") || n.hasPrefix("a.") {
            self = .audioTower
        } else if has("embed_vision") || has("embed_audio") || has("multi_modal_projector") {
            self = .multimodalEmbedder
        } else if has("embed_tokens_per_layer") || has("per_layer_token_embd") {
            self = .perLayerEmbedding
        } else if has("embed_tokens") || has("token_embd") {
            self = .tokenEmbedding
        } else if has("lm_head") || n == "output.weight" {
            self = .outputHead
        } else if has("norm") {
            self = .norm
        } else if has("per_layer_model_proj") || has("per_layer_input_gate") || has("per_layer_projection")
                    || has(".inp_gate.") || Self.isGGUFPerLayerProjection(n) {
            self = .perLayerInput
        } else if has("altup") {
            self = .altup
        } else if has("laurel") {
            self = .laurel
        } else if has("layer_scalar") || has("layer_output_scale") {
            self = .layerScalar
        } else if has("rope_freqs") {
            self = .ropeFrequencies
        } else if has("self_attn") || has(".attn_") {
            self = .attention
        } else if has(".mlp.") || has(".ffn_") {
            self = .mlp
        } else {
            self = .other
        }
    }

    /// Whether `pattern` occurs in `text` (short patterns, short names: a plain scan).
    private static func bytes(_ text: [UInt8], contain pattern: [UInt8]) -> Bool {
        guard let first = pattern.first, pattern.count <= text.count else { return pattern.isEmpty }
        var start = 0
        while start + pattern.count <= text.count {
            if text[start] == first && text[start..<(start + pattern.count)].elementsEqual(pattern) { return true }
            start += 1
        }
        return false
    }

    /// `blk.N.proj.weight`: llama.cpp's name for a layer's per-layer projection.
    private static func isGGUFPerLayerProjection(_ name: String) -> Bool {
        name.hasPrefix("blk.") && name.hasSuffix(".proj.weight")
    }
}
