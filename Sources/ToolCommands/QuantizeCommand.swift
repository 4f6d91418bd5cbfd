import ArgumentParser
import Conversion
import Foundation
import Quantization
import SourceAdapters
import TensorModel
import TensorTypes

/// `lpk-quantize`: change values — quantize a checkpoint into a pack under a recipe of bit widths per tensor class.
package struct QuantizeCommand: ParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "lpk-quantize",
        abstract: "Quantize a safetensors, GGUF or pack model into a pack, with bit widths per tensor class.",
        discussion: """
            Classes: core (attention, MLP, per-layer projections and gates), ple (the per-layer embedding table, \
            quantized per (token, layer) row and laid out token-major), embed (token embedding / tied output head). \
            Norms, scalars and vectors are never quantized. Precisions: int8, int4, f32, f16, bf16, keep.
            Presets: \(Recipe.presets.keys.sorted().joined(separator: ", ")) (default \(Recipe.defaultPresetName)).
            """)

    @Argument(help: "The model to quantize (safetensors file or directory, GGUF, or pack).")
    var source: String

    @Option(name: .shortAndLong, help: "The pack to write.")
    var output: String

    @Option(help: "A named recipe.")
    var preset: String?

    @Option(help: "A recipe JSON file ({\"core\": \"int4\", \"ple\": \"int4\", \"embed\": \"int8\", \"group\": 64, \"keep\": [...]}).")
    var recipe: String?

    @Option(help: "Precision of core matrices.") var core: Recipe.Precision?
    @Option(help: "Precision of the per-layer embedding table.") var ple: Recipe.Precision?
    @Option(help: "Precision of the token embedding and output head.") var embed: Recipe.Precision?
    @Option(help: "Columns per scale for core matrices: 32, 64 or 128 (default: one scale per row).") var group: Int?
    @Option(help: "Keep tensors whose name matches this regular expression unchanged (repeatable).") var keep: [String] = []
    @Flag(help: "Search each group's scale for the least squared error instead of max/127 or max/7.") var scaleSearch = false
    @Flag(help: "Write the per-layer embedding table to a companion OUTPUT.ple file.") var splitPle = false
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
    }

    /// The recipe the flags describe.
    func resolvedRecipe() throws -> Recipe {
        var result: Recipe
        if let recipe {
            result = try Recipe.decode(json: Array(try Data(contentsOf: URL(fileURLWithPath: recipe))), file: recipe)
        } else {
            result = Recipe.presets[preset ?? Recipe.defaultPresetName]!
        }
        if let core { result.core = core }
        if let ple { result.ple = ple }
        if let embed { result.embed = embed }
        if let group { result.group = group }
        result.keep += keep
        if scaleSearch { result.rounding = .scaleSearch }
        try result.validate()
        return result
    }

    package func run() throws {
        let recipe = try resolvedRecipe()
        let model = try ModelSources.open(source)
        let bar = ProgressBar(label: "quantizing", quiet: outputOptions.quiet)
        let report = try PackConverter.convert(model, to: output,
                                               options: .init(recipe: recipe, splitPLE: splitPle, progress: bar.update))
        if outputOptions.json {
            struct Output: Encodable { var schemaVersion = 1; let recipe: Recipe; let report: PackConverter.Report }
            print(try Formatting.json(Output(recipe: recipe, report: report)))
        } else {
            print(report.rendered())
        }
    }
}

extension Recipe.Precision: ExpressibleByArgument {}
