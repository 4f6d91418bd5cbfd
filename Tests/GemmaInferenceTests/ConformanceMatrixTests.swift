import ByteIO
import Conversion
import Foundation
import GemmaInference
import SourceAdapters
import StrictJSON
import TensorModel
import TensorTypes
import TestSupport
import Testing
import Verification

/// The conformance matrix (Fixtures/conformance, written by Fixtures/scripts/make_conformance_models.py): twelve
/// small Gemma 3/3n/4 configurations drawn to cover the configuration space, each stored by transformers as f32, bf16
/// and f16 safetensors and as three shards, plus llama.cpp's GGUF where its converter accepts the configuration.
/// Every storage must give transformers' float64 logits, full-sequence and token by token, within
/// ``toleranceFactor`` times the gap between transformers' own float32 and float64 runs.
@Suite struct ConformanceMatrixTests {
    /// How far from float64 we may be, in units of transformers' own f32-vs-f64 gap on the same configuration.
    static let toleranceFactor: Float = 2

    /// The configurations (the fixture directories).
    static let configurations: [String] = FileSystem.contents(ofDirectory: Fixtures.path("conformance"))
        .filter { FileSystem.exists(Fixtures.path("conformance/\($0)/reference.json")) }.sorted()

    /// One configuration's fixtures.
    struct Case {
        let directory: String
        let reference: JSONObject
        let tokens: [Int]
        let logits: [Float]
        let incrementalLogits: [Float]
        /// The float64 gap of transformers' float32 run times ``toleranceFactor``.
        let tolerance: Float

        init(_ name: String) throws {
            directory = Fixtures.path("conformance/" + name)
            reference = try #require(try Fixtures.json("conformance/\(name)/reference.json").objectValue)
            tokens = reference["tokens"]?.arrayValue?.compactMap(\.intValue) ?? []
            logits = try NumpyArray(path: directory + "/logits.npy").values
            incrementalLogits = try NumpyArray(path: directory + "/logits-incremental.npy").values
            let object = reference
            let gaps = ["max_abs_diff_f32_vs_f64", "max_abs_diff_f32_incremental_vs_f64"].compactMap { object[$0]?.doubleValue }
            tolerance = Float(try #require(gaps.max())) * ConformanceMatrixTests.toleranceFactor
        }

        /// The storages to check: f32, bf16, f16, sharded, and llama.cpp's GGUF when it describes the model faithfully.
        var storages: [(name: String, path: String)] {
            var list = [("f32", directory), ("bf16", directory + "/bf16"), ("f16", directory + "/f16"), ("sharded", directory + "/sharded")]
            if reference["gguf"]?.boolValue == true, reference["gguf_faithful"]?.boolValue == true {
                list.append(("gguf", directory + "/model.gguf"))
            }
            return list
        }

        /// Full-sequence logits and token-by-token logits of `source`.
        func run(_ source: any TensorSource) throws -> (full: [Float], incremental: [Float]) {
            let model = try ModelRegistry.model(for: source, contextLength: tokens.count)
            let full = try model.forward(tokens, allLogits: true)
            model.reset()
            var incremental: [Float] = []
            for token in tokens { incremental += try model.forward([token], allLogits: false) }
            return (full, incremental)
        }
    }

    static func maxDifference(_ a: [Float], _ b: [Float]) -> Float {
        guard a.count == b.count else { return .infinity }
        return zip(a, b).map { abs($0 - $1) }.max() ?? 0
    }

    @Test("every storage (f32, bf16, f16, sharded, lossless pack, GGUF) gives float64 transformers' logits, full and token by token",
          arguments: configurations)
    func storagesMatchFloat64(configuration: String) throws {
        let cell = try Case(configuration)
        let scratch = try TemporaryDirectory()
        defer { scratch.remove() }
        var storages = cell.storages
        let pack = scratch.path + "/lossless.lpk"
        _ = try PackConverter.convert(try ModelSources.open(cell.directory), to: pack, options: .init())
        storages.append(("lossless pack", pack))
        var seen: [String: [Float]] = [:]
        for (name, path) in storages {
            let (full, incremental) = try cell.run(try ModelSources.open(path))
            let fullGap = Self.maxDifference(full, cell.logits), incrementalGap = Self.maxDifference(incremental, cell.incrementalLogits)
            #expect(fullGap <= cell.tolerance, "\(configuration) \(name): full-sequence logits \(fullGap) from float64 (tolerance \(cell.tolerance))")
            #expect(incrementalGap <= cell.tolerance,
                    "\(configuration) \(name): token-by-token logits \(incrementalGap) from float64 (tolerance \(cell.tolerance))")
            seen[name] = full
        }
        // The same values however stored: bf16, f16, f32 and sharded give the very same logits.
        let f32 = try #require(seen["f32"])
        for name in ["bf16", "f16", "sharded", "lossless pack"] {
            #expect(seen[name] == f32, "\(configuration): \(name) storage changes the logits by \(Self.maxDifference(seen[name] ?? [], f32))")
        }
    }

    @Test("quantized packs compute exactly what their own dequantized values stored as f32 compute", arguments: configurations)
    func quantizedPacksMatchTheirValues(configuration: String) throws {
        let cell = try Case(configuration)
        let scratch = try TemporaryDirectory()
        defer { scratch.remove() }
        let source = try ModelSources.open(cell.directory)
        for preset in ["int8", "int4", "int4-mixed", "mobile"] {
            let pack = scratch.path + "/\(preset).lpk"
            _ = try PackConverter.convert(source, to: pack, options: .init(recipe: Recipe.presets[preset]))
            let dequantized = scratch.path + "/\(preset)-f32"
            try FileManager.default.createDirectory(atPath: dequantized, withIntermediateDirectories: true)
            _ = try Exporter.exportSafetensors(try PackSource(path: pack), to: dequantized + "/model.safetensors", dtype: .f32)
            try FileManager.default.copyItem(atPath: cell.directory + "/config.json", toPath: dequantized + "/config.json")
            let packed = try cell.run(try PackSource(path: pack))
            let plain = try cell.run(try ModelSources.open(dequantized))
            // The integer kernels that multiply one token at a time sum in another order than a dense f32 product;
            // the dequantized model's own full-sequence and token-by-token runs (both f32, products ordered
            // differently) show how much reordering moves this model, and the pack may differ by at most four times
            // that (or 1e-5 of the largest logit); the worst cell, a Gemma 3n whose sparsity threshold amplifies
            // rounding, is at twice.
            let reordering = Self.maxDifference(plain.full, plain.incremental)
            let tolerance = max(1e-5 * max(1, plain.full.map(abs).max() ?? 1), 4 * reordering)
            // A full sequence decodes rows and multiplies them as f32 rows are multiplied: the very same numbers.
            #expect(packed.full == plain.full,
                    "\(configuration) \(preset): \(Self.maxDifference(packed.full, plain.full)) from its dequantized f32 values")
            #expect(Self.maxDifference(packed.incremental, plain.incremental) <= tolerance,
                    "\(configuration) \(preset) token by token: \(Self.maxDifference(packed.incremental, plain.incremental)) (tolerance \(tolerance))")
        }
    }
}
