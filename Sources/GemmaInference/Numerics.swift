import GGUFFormat
import TensorModel
import TensorTypes

/// How the reference inference rounds what flows between weights.
///
/// `float32` (the default, `--numerics f32`) keeps every activation in f32 and reads every weight as the exact value
/// it stores, whatever its storage type: the logits depend on the stored values, never on how they are stored (this
/// is how LayerPack matches transformers' float64 run to about its own float32 run's distance).
/// `llamaCpp` rounds as llama.cpp's CPU backend does when it runs a GGUF: each matrix product first rounds its input
/// to the weight type's companion type (Q8_0 for Q4_0/Q5_0/Q8_0, Q8_K for the K-quants, f16 for f16, bf16 for bf16;
/// Q8_0 for LayerPack's int8 and int4 records in groups of 32, which are Q8_0 and Q4_0, as llama.cpp runs them once
/// exported), and GELU is read from an f16 table. It reproduces llama.cpp's hidden states to about 1e-7 (relative)
/// until a layer amplifies float-ordering noise (Gemma 3 270M's layer 14 scales an FFN output with mean square 7e-9
/// by norm weights up to 789); past such a layer it is an independent noisy run, so for comparing a model with llama.cpp's logits
/// `float32` lands closer. It is there to check, layer by layer, that a difference from llama.cpp is rounding and not
/// a bug.
public enum Numerics: String, Sendable, CaseIterable {
    case float32 = "f32"
    case llamaCpp = "llama.cpp"
}

/// What a matrix product does to its input before multiplying (see ``Numerics``).
enum InputRounding: Sendable {
    case none, q8_0, q8_1, q8_K, f16, bf16

    /// llama.cpp's rounding for a weight stored as `encoding`, or none under exact numerics.
    init(_ encoding: TensorEncoding, numerics: Numerics) {
        guard numerics == .llamaCpp else {
            self = .none
            return
        }
        switch encoding {
        case .ggml(let type): self = InputRounding(ggmlCompanionOf: type)
        case .plain(.f16): self = .f16
        case .plain(.bf16): self = .bf16
        // int8 and int4 records in groups of 32 are Q8_0 and Q4_0 (a GGUF export writes them so).
        case .rows(let scheme) where scheme.groupSize == 32 && scheme.bits != .int2: self = .q8_0
        default: self = .none
        }
    }

    /// The type ggml converts the input to for a product with a `type` weight (its `vec_dot_type`).
    private init(ggmlCompanionOf type: GGMLType) {
        switch type {
        case .q1_0, .q4_0, .q5_0, .q8_0, .iq4_NL, .mxfp4, .nvfp4: self = .q8_0
        case .q4_1, .q5_1: self = .q8_1
        case .q2_K, .q3_K, .q4_K, .q5_K, .q6_K, .iq2_XXS, .iq2_XS, .iq3_XXS, .iq1_S, .iq3_S, .iq2_S, .iq4_XS,
             .iq1_M, .tq1_0, .tq2_0: self = .q8_K
        case .f16: self = .f16
        case .bf16: self = .bf16
        default: self = .none
        }
    }
}
