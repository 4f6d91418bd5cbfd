import ByteIO
import Conversion
import Foundation
import GGUFFormat
import Planning
import SourceAdapters
import StrictJSON
import TensorModel
import TensorTypes
import TestSupport
import Testing

/// `lpk-plan`, the in-memory QuantizedView its measurements run on, sensitivities, ablations and budgets.
@Suite struct PlanTests {
    /// The tiny Gemma 3n (random weights, vocabulary 512) with a BPE tokenizer cut to its vocabulary (the tiny-bpe
    /// fixture's first 512 tokens and the merges among them), so texts can be scored on it.
    static func tokenizedTinyGemma3n(in directory: TemporaryDirectory) throws -> String {
        let model = directory.path + "/tiny-gemma3n"
        try FileManager.default.createDirectory(atPath: model, withIntermediateDirectories: true)
        for name in ["config.json", "model.safetensors"] {
            try FileManager.default.copyItem(atPath: Fixtures.path("models/tiny-gemma3n-f32/" + name), toPath: model + "/" + name)
        }
        let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("tokenizers/tiny-bpe/tokenizer.json")))
        var tokenizer = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        var bpe = try #require(tokenizer["model"] as? [String: Any])
        let vocabulary = try #require(bpe["vocab"] as? [String: Int]).filter { $0.value < 512 }
        let merges = try #require(bpe["merges"] as? [Any]).filter { merge in
            let parts = (merge as? String)?.split(separator: " ").map(String.init) ?? (merge as? [String]) ?? []
            return parts.count == 2 && vocabulary[parts[0]] != nil && vocabulary[parts[1]] != nil && vocabulary[parts[0] + parts[1]] != nil
        }
        bpe["vocab"] = vocabulary
        bpe["merges"] = merges
        tokenizer["model"] = bpe
        tokenizer["added_tokens"] = (tokenizer["added_tokens"] as? [[String: Any]] ?? []).filter { ($0["id"] as? Int ?? 512) < 512 }
        try JSONSerialization.data(withJSONObject: tokenizer).write(to: URL(fileURLWithPath: model + "/tokenizer.json"))
        return model
    }

    @Test("a plan's bytes per tensor are what the converter writes, preset by preset; the table's record is its stride")
    func plannedBytesMatchPacks() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let source = try ModelSources.open(Fixtures.path("models/tiny-gemma3n-f32"))
        for preset in Recipe.presetList {
            let path = directory.path + "/\(preset.name).lpk"
            _ = try PackConverter.convert(source, to: path, options: .init(recipe: preset.recipe))
            let pack = try ModelSources.open(path)
            for tensor in source.tensors {
                let planned = try PackConverter.plannedStorage(of: tensor, recipe: preset.recipe, pleGroup: source.configuration?.perLayerInputSize)
                let written = try pack.descriptor(tensor.name)
                #expect(planned.bytes == written.byteCount && planned.encoding == written.encoding, "\(preset.name) \(tensor.name)")
            }
            let plan = try ResidencyPlan(source: source, recipe: preset.recipe, label: preset.name, contextTokens: 64)
            let table = try #require(pack.tensors.first { $0.role == .perLayerEmbedding })
            #expect(plan.lookupBytesPerToken == table.byteCount / table.shape.rowCount)
            #expect(plan.storageBytes == table.byteCount)
            #expect(plan.tensorBytes == pack.tensors.filter { $0.encoding != .file }.map(\.byteCount).reduce(0, +))
            #expect(plan.lookupPages.allSatisfy { $0.pagesPerToken >= 1 && $0.pagesPerToken <= 2 })
        }
    }

    @Test("a QuantizedView holds, tensor for tensor, the bytes lpk-quantize writes (int2 table and embedding included)")
    func viewEqualsPack() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let source = try ModelSources.open(Fixtures.path("models/tiny-gemma3n-f32"))
        var recipe = Recipe(core: .int4, ple: .int2, embed: .int2, group: 32, embedGroup: 32, rounding: .scaleSearch)
        recipe.overrides = [.init(pattern: "layers\\.1\\.", precision: "int8:g32")]
        _ = try PackConverter.convert(source, to: directory.path + "/m.lpk", options: .init(recipe: recipe))
        let pack = try ModelSources.open(directory.path + "/m.lpk")
        let view = try QuantizedView(source, recipe: recipe)
        for tensor in view.tensors where tensor.encoding != .file {
            #expect(try view.storedBytes(tensor.name).array == pack.storedBytes(tensor.name).array, "\(tensor.name)")
            #expect(try view.floats(tensor.name) == pack.floats(tensor.name), "\(tensor.name)")
        }
    }

    @Test("sensitivity: more bits never measure worse, the model as stored scores 0, zeroing the whole table costs most")
    func sensitivityAndAblation() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let model = try Self.tokenizedTinyGemma3n(in: directory)
        let run = try ToolRun.run("lpk-plan", [model, "--sensitivity", Fixtures.path("imatrix/heldout.txt"), "--eval-context", "64",
                                               "--settings", "int8:g32,int4:g32,int2:g32", "--json", "--svg", directory.path + "/s.svg"])
        #expect(run.status == 0, "\(run.standardError)")
        let report = try JSONParser.parse(Array(run.standardOutput.utf8))
        let classes = try #require(report["classes"]?.arrayValue)
        func kld(_ scope: String, _ setting: String) throws -> Double {
            try #require(classes.first { $0["scope"]?.stringValue == scope && $0["setting"]?.stringValue == setting }?["meanKLD"]?.doubleValue)
        }
        for scope in ["core", "embed", "ple"] {
            #expect(try kld(scope, "int8:g32") <= kld(scope, "int4:g32"))
            #expect(try kld(scope, "int4:g32") <= kld(scope, "int2:g32"))
        }
        let layers = try #require(report["layers"]?.arrayValue)
        #expect(layers.count == 5 * 3)  // 5 layers × 3 settings
        let ablations = try #require(report["ablations"]?.arrayValue)
        #expect(ablations.count == 5 + 1)
        let whole = try #require(ablations.last?["meanKLD"]?.doubleValue)
        #expect(ablations.dropLast().allSatisfy { ($0["meanKLD"]?.doubleValue ?? .infinity) <= whole + 1e-9 } && whole > 0)
        let svg = try String(contentsOfFile: directory.path + "/s.svg", encoding: .utf8)
        #expect(svg.hasPrefix("<svg") && svg.contains("whole PLE table zeroed"))
    }

    @Test("--max-kld picks a smaller model than int8 whose written pack measures within the budget; --max-size stays within its bytes")
    func budget() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let model = try Self.tokenizedTinyGemma3n(in: directory)
        let text = Fixtures.path("imatrix/heldout.txt")
        let run = try ToolRun.run("lpk-quantize", [model, "-o", directory.path + "/b.lpk", "--max-kld", "0.03", "--evaluate", text,
                                                   "--eval-context", "64", "--json", "--quiet"])
        #expect(run.status == 0, "\(run.standardError)")
        let report = try JSONParser.parse(Array(run.standardOutput.utf8))
        let reached = try #require(report["reachedKLD"]?["meanKLD"]?["value"]?.doubleValue)
        #expect(reached <= 0.03)
        let int8 = try ToolRun.run("lpk-quantize", [model, "-o", directory.path + "/i8.lpk", "--quiet"])
        #expect(int8.status == 0)
        let budgetBytes = try MappedFile(path: directory.path + "/b.lpk").count, int8Bytes = try MappedFile(path: directory.path + "/i8.lpk").count
        #expect(budgetBytes < int8Bytes)
        let sized = try ToolRun.run("lpk-quantize", [model, "-o", directory.path + "/s.lpk", "--max-size", "300K", "--evaluate", text,
                                                     "--eval-context", "64", "--json", "--quiet"])
        #expect(sized.status == 0, "\(sized.standardError)")
        let tensorBytes = try #require(try JSONParser.parse(Array(sized.standardOutput.utf8))["budget"]?["tensorBytes"]?.intValue)
        #expect(tensorBytes <= 300_000)
        // A budget without a text to measure on is refused up front.
        let refused = try ToolRun.run("lpk-quantize", [model, "-o", directory.path + "/r.lpk", "--max-kld", "0.01"])
        #expect(refused.status == 64 && refused.standardError.contains("--evaluate"))
    }

    @Test("lpk-plan on a split int4 pack: parts add up, the table is storage, given device figures drive the projection")
    func planReport() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let pack = directory.path + "/m.lpk"
        #expect(try ToolRun.run("lpk-quantize", [Fixtures.path("models/tiny-gemma4-f32"), "-o", pack, "--preset", "int4", "--split-ple", "--quiet"]).status == 0)
        let run = try ToolRun.run("lpk-plan", [pack, "--preset", "int8", "--context", "100", "--memory-bandwidth", "50",
                                               "--storage-latency-us", "100", "--storage-bandwidth", "2", "--json"])
        #expect(run.status == 0, "\(run.standardError)")
        let report = try JSONParser.parse(Array(run.standardOutput.utf8))
        let row = try #require(report["rows"]?.arrayValue?.first)
        let plan = try #require(row["plan"])
        let parts = try #require(plan["parts"]?.arrayValue)
        let resident = parts.filter { $0["placement"]?.stringValue == "resident" }.compactMap { $0["bytes"]?.intValue }.reduce(0, +)
        #expect(resident == plan["residentBytes"]?.intValue)
        #expect(parts.contains { $0["name"]?.stringValue == "per-layer embedding table" && $0["placement"]?.stringValue == "storage" })
        let cost = try #require(row["cost"])
        let memorySeconds = try #require(cost["memorySeconds"]?.doubleValue)
        let streamed = Double(plan["streamedWeightBytesPerToken"]?.intValue ?? 0) + Double(plan["kvBytesPerToken"]?.intValue ?? 0)
        #expect(abs(memorySeconds - streamed / 50e9) < 1e-12)
        // latency + b / bandwidth = 0.1/0.9 · memorySeconds.
        let maxBytes = try #require(cost["maxLookupBytesPerToken"]?.doubleValue)
        #expect(abs(max(0, (memorySeconds / 9 - 100e-6) * 2e9) - maxBytes) < 1e-3)
        #expect(try ToolRun.run("lpk-plan", [pack, "--storage-share", "1.5"]).status == 64)
    }
}

private extension JSONValue {
    /// The member `key` of an object.
    subscript(key: String) -> JSONValue? { objectValue?[key] }
}

/// int2 rows leave LayerPack only where a ggml type holds the same numbers.
@Suite struct Int2ExportTests {
    @Test("int2 rows of 2048 columns export as Q2_K, read back (by the dequantizer held to gguf-py) value for value",
          Fixtures.needsRealGemma3)
    func q2KExport() throws {
        let model = try Fixtures.requireRealGemma3()
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let pack = directory.path + "/m.lpk", gguf = directory.path + "/m.gguf"
        let quantize = try ToolRun.run("lpk-quantize", [model, "-o", pack, "--preset", "lossless", "--override", #"ffn_down=int2:row"#,
                                                        "--scale-search", "--quiet"])
        #expect(quantize.status == 0, "\(quantize.standardError)")
        let export = try ToolRun.run("lpk-pack", [pack, "-o", gguf, "--quiet"])
        #expect(export.status == 0, "\(export.standardError)")
        let packed = try ModelSources.open(pack), exported = try ModelSources.open(gguf)
        for layer in [0, 17] {
            let name = "blk.\(layer).ffn_down.weight"
            #expect(try exported.descriptor(name).encoding == .ggml(.q2_K))
            #expect(try packed.descriptor(name).encoding == .rows(RowScheme(bits: .int2)))
            #expect(try exported.floats(name) == packed.floats(name), "\(name)")
        }
        // int2 in groups of 32 shares no 256-column scale: refused unless --dequantize.
        let grouped = directory.path + "/g.lpk"
        #expect(try ToolRun.run("lpk-quantize", [model, "-o", grouped, "--preset", "lossless", "--override", #"ffn_down=int2:g32"#, "--quiet"]).status == 0)
        let refused = try ToolRun.run("lpk-pack", [grouped, "-o", directory.path + "/g.gguf", "--quiet"])
        #expect(refused.status != 0 && refused.standardError.contains("Q2_K int2 in groups of 256"))
    }
}
