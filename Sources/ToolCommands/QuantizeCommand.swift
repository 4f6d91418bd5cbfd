import ArgumentParser
import ByteIO
import Conversion
import Foundation
import GemmaInference
import Planning
import Quantization
import SourceAdapters
import TensorModel
import TensorTypes
import Verification

/// `lpk-quantize`: change values — quantize a checkpoint into a pack under a recipe of bit widths per tensor class.
package struct QuantizeCommand: ParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "lpk-quantize",
        abstract: "Quantize a safetensors, GGUF or pack model into a pack, with bit widths per tensor class.",
        discussion: """
            Classes: core (attention, MLP, per-layer projections and gates), ple (the per-layer embedding table, \
            quantized per (token, layer) row and laid out token-major), embed (token embedding / tied output head). \
            Norms, scalars and vectors are never quantized. Precisions: int8, int4, int2 (for lookup tables), f32, f16, bf16, keep.
            Presets (measured on the float Gemma 3 270M by make bench; default \(Recipe.defaultPresetName)):
            \(Recipe.presetList.map { "  \($0.name): \($0.summary)" }.joined(separator: "\n"))
            """)

    @Argument(help: "The model to quantize (safetensors file or directory, GGUF, or pack).")
    var source: String

    @Option(name: .shortAndLong, help: "The pack to write.")
    var output: String

    @Option(help: "A named recipe.")
    var preset: String?

    @Option(help: "A recipe JSON file ({\"preset\": \"int4\", \"core\": \"int4:g32\", \"embed\": \"int8:g64\", \"ple\": \"int4\", \"rounding\": \"scale-search\", \"keep\": [...]}).")
    var recipe: String?

    @Option(help: "Precision of core matrices, optionally with its grouping: int8, int4, int4:g32, int8:row, bf16, keep…")
    var core: Recipe.ClassSetting?
    @Option(help: "Precision of the per-layer embedding table (grouped by its per-layer slices).") var ple: Recipe.Precision?
    @Option(help: "Precision of the token embedding and output head, optionally with its grouping (int8:g32, int4:g32…).")
    var embed: Recipe.ClassSetting?
    @Option(help: "Columns per scale for core matrices: 32, 64 or 128 (default: one scale per row).") var group: Int?
    @Option(help: "Keep tensors whose name matches this regular expression unchanged (repeatable).") var keep: [String] = []
    @Option(help: ArgumentHelp("Give the tensors whose name matches REGEX their own precision, e.g. 'ffn_down=int8:g32' (repeatable; first match wins).",
                               valueName: "REGEX=SETTING"))
    var override: [String] = []
    @Option(help: "How scales are chosen: nearest (max/127, max/7), scale-search (least weighted squared error), gptq (error feedback; needs --calibrate).")
    var rounding: Recipe.Rounding?
    @Flag(help: "Shorthand for --rounding scale-search.") var scaleSearch = false
    @Option(help: "A text to calibrate on: the source runs over it and each matrix's input statistics weight its quantization (GPTQ by default).")
    var calibrate: String?
    @Option(help: "With --calibrate: the most tokens to run.") var calibrationTokens = 8192
    @Option(help: "With --calibrate: tokens per chunk (each starting with BOS).") var calibrationContext = 512
    @Option(help: "Weight the scale search with an importance matrix llama.cpp wrote (GGUF or legacy .dat).") var imatrix: String?
    @Option(help: "With --calibrate: also write the importances in llama.cpp's GGUF imatrix format.") var saveImatrix: String?
    @Flag(help: "Re-quantize ggml blocks even where the source already holds the asked numbers (Q8_0 as int8:g32, Q4_0 as int4:g32) or no more bits than asked (kept as they are otherwise).")
    var requantize = false
    @Flag(help: "Write the per-layer embedding table to a companion OUTPUT.ple file.") var splitPle = false
    @Option(help: "Pick per-layer and per-class settings from measured sensitivity for the smallest model whose mean KLD over --evaluate stays at most this.")
    var maxKld: Double?
    @Option(help: "Pick settings for the least KLD within this many bytes of tensors (suffixes K, M, G: 150M).")
    var maxSize: String?
    @Option(help: "With --max-kld or --max-size: the text the KLD is measured on (default: the --calibrate text).")
    var evaluate: String?
    @Option(help: "With --max-kld or --max-size: settings to choose among, comma separated (int2 only for the embedding and PLE).")
    var budgetSettings = "int8:g32,int4:g32,int4:g64,int4:g128,int2:g32"
    @Option(help: "With --max-kld or --max-size: tokens per evaluation chunk, and chunks.") var evalContext = 512
    @Option(help: "With --max-kld or --max-size: evaluation chunks.") var evalChunks = 1
    @OptionGroup var outputOptions: OutputOptions

    package init() {}

    package func validate() throws {
        if preset != nil && recipe != nil { throw ValidationError("give --preset or --recipe, not both") }
        if let preset, Recipe.presets[preset] == nil {
            throw ValidationError("unknown preset '\(preset)' (known: \(Recipe.presets.keys.sorted().joined(separator: ", ")))")
        }
        if let group, !RowScheme.supportedGroupSizes.contains(group) {
            throw ValidationError("--group must be one of \(RowScheme.supportedGroupSizes)")
        }
        if scaleSearch && rounding != nil && rounding != .scaleSearch { throw ValidationError("--scale-search contradicts --rounding") }
        for suffix in [".gguf", ".safetensors", ".lpkz", ".ple", ".json"] where output.hasSuffix(suffix) {
            throw ValidationError("lpk-quantize writes a pack (name it OUT.lpk); to get \(suffix), run lpk-pack on the pack")
        }
        for pattern in keep { try KeepPattern.validate(pattern) }
        for text in override {
            guard let entry = Recipe.Override(text), Recipe.ClassSetting(entry.precision) != nil else {
                throw ValidationError("--override takes REGEX=SETTING with SETTING a precision such as int8, int4:g32 or bf16, not '\(text)'")
            }
            try KeepPattern.validate(entry.pattern, option: "--override")
        }
        if let saveImatrix, saveImatrix == output || saveImatrix == output + ".ple" {
            throw ValidationError("--save-imatrix and -o name the same file")
        }
        if calibrate != nil && imatrix != nil { throw ValidationError("give --calibrate or --imatrix, not both") }
        if let preset, calibrate == nil, Recipe.presetList.first(where: { $0.name == preset })?.needsCalibration == true {
            throw ValidationError("the \(preset) preset needs --calibrate TEXT: uncalibrated, it loses to the peer recipe of its size (see --help)")
        }
        if rounding == .gptq && calibrate == nil { throw ValidationError("--rounding gptq needs --calibrate TEXT (it uses the inputs' Gram matrices)") }
        if saveImatrix != nil && calibrate == nil { throw ValidationError("--save-imatrix writes what --calibrate collects; give --calibrate") }
        if maxKld != nil || maxSize != nil {
            if maxKld != nil && maxSize != nil { throw ValidationError("give --max-kld or --max-size, not both") }
            if let maxKld, !(maxKld.isFinite && maxKld > 0) { throw ValidationError("--max-kld must be a positive number") }
            if let maxSize, Self.parseSize(maxSize) == nil { throw ValidationError("--max-size takes bytes with an optional K, M or G suffix, e.g. 150M") }
            if evaluate == nil && calibrate == nil { throw ValidationError("--max-kld and --max-size measure KLD over a text: give --evaluate TEXT (or --calibrate TEXT)") }
            if SettingList.parse(budgetSettings) == nil { throw ValidationError("--budget-settings takes comma-separated integer settings such as int8:g32,int4:g64,int2:g32") }
            if !(4...VerifyCommand.maxTokens).contains(evalContext) { throw ValidationError("--eval-context must be between 4 and \(VerifyCommand.maxTokens)") }
            if !(1...1024).contains(evalChunks) { throw ValidationError("--eval-chunks must be between 1 and 1024") }
        } else if evaluate != nil {
            throw ValidationError("--evaluate goes with --max-kld or --max-size")
        }
        if !(16...VerifyCommand.maxTokens).contains(calibrationTokens) { throw ValidationError("--calibration-tokens must be between 16 and \(VerifyCommand.maxTokens)") }
        if !(4...VerifyCommand.maxTokens).contains(calibrationContext) { throw ValidationError("--calibration-context must be between 4 and \(VerifyCommand.maxTokens)") }
    }

    /// The recipe the flags describe.
    func resolvedRecipe() throws -> Recipe {
        var result: Recipe
        if let recipe {
            result = try Recipe.decode(json: try MappedFile(path: recipe).bytes.array, file: recipe)
        } else {
            result = Recipe.presets[preset ?? Recipe.defaultPresetName]!  // validate() checked the name
        }
        if let core { result.apply(core, to: .core) }
        if let ple { result.ple = ple }
        if let embed { result.apply(embed, to: .embed) }
        if let group { result.group = group }
        result.keep += keep
        let overrides = override.compactMap(Recipe.Override.init)  // validate() parsed each
        if !overrides.isEmpty { result.overrides = overrides + (result.overrides ?? []) }
        if scaleSearch { result.rounding = .scaleSearch }
        if let rounding {
            result.rounding = rounding
        } else if !scaleSearch {
            if calibrate != nil { result.rounding = .gptq } else if imatrix != nil { result.rounding = .scaleSearch }
        }
        try result.validate()
        return result
    }

    package func run() throws {
        var recipe = try resolvedRecipe()
        let model = try ModelSources.open(source)
        var calibration: Calibration?
        if let calibrate {
            let bar = ProgressBar(label: "calibrating", quiet: outputOptions.quiet)
            let text = try VerifyCommand.readText(calibrate)
            calibration = try Calibration.collect(model, text: text, textName: calibrate, context: calibrationContext,
                                                  maxTokens: calibrationTokens, gram: recipe.rounding == .gptq) { bar.update($0, $1, "chunk \($0)") }
            if let saveImatrix, let calibration {
                try OutputGuard.check(saveImatrix, inputs: model.inputFiles + [calibrate])
                try ImportanceMatrixFile.write(calibration, to: saveImatrix, dataset: (calibrate as NSString).lastPathComponent)
            }
        } else if let imatrix {
            calibration = try ImportanceMatrixFile.calibration(try ImportanceMatrixFile.read(imatrix), for: model, file: imatrix)
        }
        recipe.calibration = calibration?.record
        var budgetResult: BudgetSearch.Result?
        if maxKld != nil || maxSize != nil {
            budgetResult = try searchBudget(model, base: recipe, calibration: calibration)
            recipe = budgetResult!.recipe
            recipe.calibration = calibration?.record
        }
        let bar = ProgressBar(label: "quantizing", quiet: outputOptions.quiet)
        var options = PackConverter.Options(recipe: recipe, splitPLE: splitPle, calibration: calibration, progress: bar.update)
        options.requantize = requantize
        let report = try PackConverter.convert(model, to: output, options: options)
        var verified: TextEvaluation.Summary?
        if budgetResult != nil {
            // The pack as written, scored over the evaluation text: the KLD the budget reached.
            let probe = try budgetProbe(model)
            verified = try probe.evaluate(try ModelSources.open(output))
        }
        if outputOptions.json {
            struct Output: Encodable {
                var schemaVersion = 1
                let recipe: Recipe
                let report: PackConverter.Report
                let budget: BudgetSearch.Result?
                let reachedKLD: TextEvaluation.Summary?
            }
            print(try Formatting.json(Output(recipe: recipe, report: report, budget: budgetResult, reachedKLD: verified)))
        } else {
            print(report.rendered())
            if let budgetResult, let verified {
                print(budgetResult.rendered(reached: verified, budget: budgetDescription))
            }
        }
        if let maxKld, let verified, verified.meanKLD.value > maxKld {
            StandardError.line(String(format: "error: the written pack measured KLD %.6f, over --max-kld %g", verified.meanKLD.value, maxKld))
            throw ExitCode.failure
        }
    }

    var budgetDescription: String {
        if let maxKld { return String(format: "mean KLD ≤ %g", maxKld) }
        return "tensors ≤ \(maxSize ?? "")"
    }

    /// Bytes with an optional K, M or G (decimal) suffix.
    static func parseSize(_ text: String) -> Int? {
        let multipliers: [Character: Double] = ["K": 1e3, "M": 1e6, "G": 1e9]
        var digits = Substring(text), multiplier = 1.0
        if let last = text.last?.uppercased().first, let factor = multipliers[last] {
            digits = text.dropLast()
            multiplier = factor
        }
        guard let value = Double(digits), value.isFinite, value > 0, value * multiplier < 1e18 else { return nil }
        return Int(value * multiplier)
    }

    /// The model run once over the budget's text (--evaluate, else --calibrate), its logits kept to score tries against.
    func budgetProbe(_ model: any TensorSource) throws -> KLDProbe {
        try KLDProbe(reference: model, chunks: TextChunks.reading(evaluate ?? calibrate!, for: model, context: evalContext, limit: evalChunks,
                                                                  option: "--eval-context").chunks)
    }

    /// Measures each unit's sensitivity and searches the settings under the budget.
    func searchBudget(_ model: any TensorSource, base: Recipe, calibration: Calibration?) throws -> BudgetSearch.Result {
        let probe = try budgetProbe(model)
        let measurement = SensitivityMeasurement(source: model, probe: probe, rounding: base.rounding, calibration: calibration)
        let search = BudgetSearch(measurement: measurement, settings: SettingList.parse(budgetSettings)!)
        let bar = ProgressBar(label: "measuring", quiet: outputOptions.quiet)
        let units = try search.measureUnits(progress: bar.update)
        let budget: BudgetSearch.Budget = maxKld.map { .maxKLD($0) } ?? .maxBytes(Self.parseSize(maxSize!)!)
        return try search.search(units, budget: budget, base: base)
    }
}

extension Recipe.Precision: ExpressibleByArgument {}
extension Recipe.Rounding: ExpressibleByArgument {}

extension Recipe.ClassSetting: ExpressibleByArgument {
    public init?(argument: String) { self.init(argument) }
}
