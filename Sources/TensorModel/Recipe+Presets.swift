extension Recipe {
    /// A named recipe, with what it measured on the float Gemma 3 270M (`make bench`: KL divergence from the bf16
    /// original over an evaluation text never used for calibration, beside the peer recipe of its size).
    public struct Preset: Sendable {
        public let name: String
        public let recipe: Recipe
        /// One line for `--help` and README: what it stores and how it measured.
        public let summary: String
        /// Whether `lpk-quantize` refuses it without `--calibrate` (as llama.cpp refuses its 2-bit types without an
        /// importance matrix): uncalibrated, it would lose to the peer recipe of its size.
        public let needsCalibration: Bool
    }

    /// The presets, in the order `--help` lists them.
    public static let presetList: [Preset] = [
        Preset(name: "lossless", recipe: Recipe(core: .keep, ple: .keep, embed: .keep),
               summary: "every tensor as the source stores it", needsCalibration: false),
        Preset(name: "int8", recipe: Recipe(core: .int8, ple: .int8, embed: .int8, group: 32, embedGroup: 32, rounding: .scaleSearch),
               summary: "int8 g32 everywhere, searched scales: 291.6 MB, KLD 0.00084 (llama.cpp Q8_0: 291.5 MB, 0.00089); "
                   + "calibrated (GPTQ) 0.00026", needsCalibration: false),
        Preset(name: "int4", recipe: Recipe(core: .int4, ple: .int4, embed: .int8, group: 32, embedGroup: 64, rounding: .scaleSearch),
               summary: "int4 g32 core, int8 g64 embedding: 236 MB, KLD 0.143 (Q4_0: 241 MB, 0.155); calibrated (GPTQ) 0.044 "
                   + "(Q4_0 with an importance matrix: 0.098)", needsCalibration: false),
        Preset(name: "int4-mixed", recipe: mixed,
               summary: "int4 g32 core with attn_k, attn_v and ffn_down in int8 g32, int8 g64 embedding, calibrated (GPTQ): "
                   + "251 MB, KLD 0.019 (Q4_K_M with an importance matrix: 253 MB, 0.022); needs --calibrate", needsCalibration: true),
        Preset(name: "mobile", recipe: Recipe(core: .int4, ple: .int4, embed: .int4, group: 64, embedGroup: 64, rounding: .scaleSearch),
               summary: "int4 g64 everywhere, calibrated (GPTQ): 149 MB, KLD 0.088 (MLX 4-bit g64: 151 MB, 0.265); needs --calibrate",
               needsCalibration: true),
    ]

    /// `int4` with the matrices llama.cpp's Q4_K_M also gives more bits (keys, values, MLP down projections) in int8,
    /// under their llama.cpp and Hugging Face names.
    private static let mixed: Recipe = {
        var recipe = Recipe(core: .int4, ple: .int4, embed: .int8, group: 32, embedGroup: 64, rounding: .scaleSearch)
        recipe.overrides = [Override(pattern: #"(attn_[kv]|ffn_down|[kv]_proj|down_proj)\.weight$"#, precision: "int8:g32")]
        return recipe
    }()

    /// Named recipes.
    public static let presets: [String: Recipe] = Dictionary(uniqueKeysWithValues: presetList.map { ($0.name, $0.recipe) })

    /// The default recipe of `lpk-quantize`.
    public static let defaultPresetName = "int8"
}
