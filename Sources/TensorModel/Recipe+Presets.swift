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
        Preset(name: "int8", recipe: Recipe(core: .int8, ple: .int8, embed: .int8, group: 32, embedGroup: 64, rounding: .scaleSearch),
               summary: "int8 g32 core, int8 g64 embedding, searched scales: 286 MB, KLD 0.0018 (llama.cpp Q8_0: 292 MB, 0.0022); "
                   + "calibrated 0.0004", needsCalibration: false),
        Preset(name: "int4", recipe: Recipe(core: .int4, ple: .int4, embed: .int8, group: 32, embedGroup: 64, rounding: .scaleSearch),
               summary: "int4 g32 core, int8 g64 embedding: 236 MB, KLD 0.18 (Q4_0: 241 MB, 1.19); calibrated (GPTQ) 0.058 "
                   + "(Q4_0 with an importance matrix: 0.126)", needsCalibration: false),
        Preset(name: "mobile", recipe: Recipe(core: .int4, ple: .int4, embed: .int4, group: 64, embedGroup: 64, rounding: .scaleSearch),
               summary: "int4 g64 everywhere, calibrated (GPTQ): 149 MB (MLX 4-bit g64: 151 MB, KLD 0.43); needs --calibrate",
               needsCalibration: true),
    ]

    /// Named recipes.
    public static let presets: [String: Recipe] = Dictionary(uniqueKeysWithValues: presetList.map { ($0.name, $0.recipe) })

    /// The default recipe of `lpk-quantize`.
    public static let defaultPresetName = "int8"
}
