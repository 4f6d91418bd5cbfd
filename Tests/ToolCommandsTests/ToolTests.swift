import ByteIO
import Foundation
import SafetensorsFormat
import StrictJSON
import Testing
import TestSupport
import Verification

/// The executables as a user runs them: output streams and exit codes.
@Suite(.serialized) struct ToolTests {
    @Test("lpk-inspect lists a GGUF file, as text and as JSON")
    func inspectsGGUF() throws {
        let path = Fixtures.path("gguf/types.gguf")
        let text = try ToolRun.run("lpk-inspect", [path])
        #expect(text.status == 0)
        #expect(text.standardOutput.contains("t.q4_k") && text.standardOutput.contains("Q4_K") && text.standardOutput.contains("By role"))
        let json = try ToolRun.run("lpk-inspect", [path, "--json"])
        let report = try #require(try JSONParser.parse(json.standardOutput).objectValue)
        #expect(report["schemaVersion"]?.intValue == 1)
        #expect(report["tensors"]?.arrayValue?.count == 20)
    }

    @Test("lpk-inspect --tensor prints gguf-py's values for the requested rows")
    func printsValues() throws {
        let run = try ToolRun.run("lpk-inspect", [Fixtures.path("gguf/types.gguf"), "--tensor", "t.q8_0", "--rows", "1:2", "--json"])
        #expect(run.status == 0)
        let values = try #require(try JSONParser.parse(run.standardOutput).objectValue?["values"]?.arrayValue?.first?.arrayValue)
        let expected = try #require(ExpectedValues.floats(try Fixtures.json("gguf/types.expected.json").objectValue?["tensors"]?
            .objectValue?["t.q8_0"]?.objectValue?["values"]))
        #expect(values.compactMap(\.doubleValue).map(Float.init) == expected[256..<512].map { Float($0) })
    }

    @Test("bad input exits 1 with the file and offset on stderr; usage errors exit 64")
    func exitCodes() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        var bytes = try MappedFile(path: Fixtures.path("gguf/types.gguf")).bytes.array
        bytes.removeLast(100)
        let truncated = try directory.write(bytes, to: "truncated.gguf")
        let bad = try ToolRun.run("lpk-inspect", [truncated])
        #expect(bad.status == 1)
        #expect(bad.standardError.contains("truncated.gguf at offset 0x"))
        #expect(bad.standardOutput.isEmpty)
        #expect(try ToolRun.run("lpk-inspect", []).status == 64)
        #expect(try ToolRun.run("lpk-inspect", [truncated, "--rows", "0:1"]).status == 64)
        #expect(try ToolRun.run("lpk-quantize", [truncated, "-o", directory.path + "/x.lpk", "--group", "48"]).status == 64)
        #expect(try ToolRun.run("lpk-verify", [truncated]).status == 64)
    }

    @Test("groups per class and per tensor: --core int4:g32, --embed int8:g64, --override; the pack stores what was asked")
    func perClassGroups() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let pack = directory.path + "/g.lpk"
        let model = Fixtures.path("models/tiny-gemma3-f32")
        let quantize = try ToolRun.run("lpk-quantize", [model, "-o", pack, "--core", "int4:g32", "--embed", "int8:g64",
                                                        "--override", #"down_proj\.weight$=int8:row"#, "--quiet", "--json"])
        #expect(quantize.status == 0, "\(quantize.standardError)")
        let recipe = try #require(try JSONParser.parse(quantize.standardOutput).objectValue?["recipe"]?.objectValue)
        #expect(recipe["embedGroup"]?.intValue == 64 && recipe["group"]?.intValue == 32)
        #expect(recipe["overrides"]?.arrayValue?.first?.objectValue?["precision"]?.stringValue == "int8:row")
        let listing = try ToolRun.run("lpk-inspect", [pack, "--json"])
        let tensors = try #require(try JSONParser.parse(listing.standardOutput).objectValue?["tensors"]?.arrayValue?.compactMap(\.objectValue))
        func storage(_ name: String) -> String? { tensors.first { $0["name"]?.stringValue == name }?["storage"]?.stringValue }
        #expect(storage("model.embed_tokens.weight") == "int8/g64")
        #expect(storage("model.layers.0.mlp.up_proj.weight") == "int4/g32")
        #expect(storage("model.layers.0.mlp.down_proj.weight") == "int8/row")
        #expect(storage("model.layers.0.input_layernorm.weight") == "F32")
        #expect(try ToolRun.run("lpk-verify", [model, pack, "--tokens", "2,17,300,45", "--max-kld", "0.05"]).status == 0)
        // A malformed override is a usage error.
        #expect(try ToolRun.run("lpk-quantize", [model, "-o", pack, "--override", "down_proj"]).status == 64)
        #expect(try ToolRun.run("lpk-quantize", [model, "-o", pack, "--override", "down_proj=int3"]).status == 64)
    }

    @Test("a safetensors export carries config.json and the tokenizer files: it runs as the checkpoint it came from")
    func safetensorsExportIsACheckpoint() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let tokens = "2,17,300,45,511,9,128,77,3,250,400,6"
        // Hugging Face source → pack → safetensors: transformers' own logits of the original, to 1e-4.
        let original = Fixtures.path("models/tiny-gemma3-f32")
        let pack = directory.path + "/a.lpk"
        #expect(try ToolRun.run("lpk-pack", [original, "-o", pack, "--quiet"]).status == 0)
        try FileManager.default.createDirectory(atPath: directory.path + "/a", withIntermediateDirectories: true)
        let export = try ToolRun.run("lpk-pack", [pack, "-o", directory.path + "/a/model.safetensors", "--json"])
        #expect(export.status == 0, "\(export.standardError)")
        let written = try JSONParser.parse(export.standardOutput).objectValue?["companionFiles"]?.arrayValue?.compactMap(\.stringValue) ?? []
        #expect(written.map { ($0 as NSString).lastPathComponent }.sorted() == ["config.json", "generation_config.json"])
        #expect(try MappedFile(path: directory.path + "/a/config.json").bytes.array == MappedFile(path: original + "/config.json").bytes.array)
        let verify = try ToolRun.run("lpk-verify", [directory.path + "/a", "--reference-logits", original + "/logits.npy",
                                                    "--tokens", tokens, "--max-abs-diff", "1e-4"])
        #expect(verify.status == 0, "\(verify.standardOutput)\(verify.standardError)")
        // An MLX checkpoint → plain floats: config.json loses its quantization entry; MLX's own logits, to 1e-4.
        let mlx = Fixtures.path("mlx/tiny-gemma3-affine4-g32")
        try FileManager.default.createDirectory(atPath: directory.path + "/b", withIntermediateDirectories: true)
        #expect(try ToolRun.run("lpk-pack", [mlx, "-o", directory.path + "/b/model.safetensors", "--quiet"]).status == 0)
        let config = try #require(try JSONParser.parse(try MappedFile(path: directory.path + "/b/config.json").bytes.array).objectValue)
        #expect(config["quantization"] == nil && config["quantization_config"] == nil && config["model_type"]?.stringValue == "gemma3_text")
        let mlxVerify = try ToolRun.run("lpk-verify", [directory.path + "/b", "--reference-logits", mlx + "/logits.npy",
                                                       "--tokens", tokens, "--max-abs-diff", "1e-4"])
        #expect(mlxVerify.status == 0, "\(mlxVerify.standardOutput)\(mlxVerify.standardError)")
    }

    @Test("quantize, check, damage one tensor: --check exits 1 naming it; the input is untouched")
    func quantizeAndCheck() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let source = Fixtures.path("gguf/llama-quantized.gguf")
        let before = try MappedFile(path: source).bytes.array
        let pack = directory.path + "/q.lpk"
        let quantize = try ToolRun.run("lpk-quantize", [source, "-o", pack, "--core", "int4", "--group", "32", "--json"])
        #expect(quantize.status == 0, "\(quantize.standardError)")
        #expect(try JSONParser.parse(quantize.standardOutput).objectValue?["recipe"]?.objectValue?["core"]?.stringValue == "int4")
        #expect(try ToolRun.run("lpk-inspect", [pack, "--check"]).status == 0)
        #expect(try MappedFile(path: source).bytes.array == before)

        var damaged = try MappedFile(path: pack).bytes.array
        damaged[4096 + 10] ^= 0x01  // inside the first tensor of the core section
        let damagedPath = try directory.write(damaged, to: "damaged.lpk")
        let check = try ToolRun.run("lpk-inspect", [damagedPath, "--check"])
        #expect(check.status == 1)
        #expect(check.standardError.contains("does not match its checksum") && check.standardError.contains("tensor '"))
    }

    @Test("lpk-pack round trips: import, compress, decompress, export")
    func packRoundTrip() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let source = Fixtures.path("gguf/llama-quantized.gguf")
        let pack = directory.path + "/a.lpk"
        #expect(try ToolRun.run("lpk-pack", [source, "-o", pack]).status == 0)
        #expect(try ToolRun.run("lpk-pack", [pack, "-o", directory.path + "/a.lpkz", "--compress", "zstd"]).status == 0)
        #expect(try ToolRun.run("lpk-pack", [directory.path + "/a.lpkz", "-o", directory.path + "/b.lpk"]).status == 0)
        #expect(try MappedFile(path: pack).bytes.array == MappedFile(path: directory.path + "/b.lpk").bytes.array)
        #expect(try ToolRun.run("lpk-pack", [pack, "-o", directory.path + "/a.gguf"]).status == 0)
        #expect(try ToolRun.run("lpk-inspect", [directory.path + "/a.gguf", "--check"]).status == 0)
        // Exported GGUF tensors are byte-identical to the source's (blocks carried verbatim).
        let exported = try ToolRun.run("lpk-inspect", [directory.path + "/a.gguf", "--tensor", "llama.q3_k", "--json"])
        let original = try ToolRun.run("lpk-inspect", [source, "--tensor", "llama.q3_k", "--json"])
        #expect(exported.standardOutput == original.standardOutput)
    }
}

/// lpk-verify as a CI gate on the tiny Gemma 3 that transformers wrote.
@Suite(.serialized) struct VerifyGateTests {
    let model = Fixtures.path("models/tiny-gemma3-f32")
    let tokens = "2,17,300,45,511,9,128,77,3,250,400,6"

    @Test("weights are compared by what they are: a GGUF against the safetensors it was converted from, norms as applied")
    func weightsByMapping() throws {
        let directory = Fixtures.path("conformance/gemma3-hd8-mha-window3-tied")
        let run = try ToolRun.run("lpk-verify", [directory, directory + "/model.gguf", "--tokens", "2,5,9", "--json"])
        #expect(run.status == 0, "\(run.standardError)")
        let weights = try #require(try JSONParser.parse(run.standardOutput).objectValue?["weights"]?.objectValue)
        let tensors = try #require(weights["tensors"]?.arrayValue)
        #expect(weights["unmatched"]?.arrayValue?.isEmpty == true)
        #expect(tensors.count > 20)
        // llama.cpp's converter writes f32 values as they are, and Gemma 3's norms as 1 + w: every error is zero.
        for tensor in tensors {
            let object = try #require(tensor.objectValue)
            #expect(object["relativeRMSE"]?.doubleValue == 0, "\(object["name"]?.stringValue ?? "?")")
        }
        let norm = tensors.compactMap(\.objectValue).first { $0["name"]?.stringValue == "model.norm.weight" }
        #expect(norm?["candidateName"]?.stringValue == "output_norm.weight")
    }

    @Test("a good int8 conversion passes the gate; a damaged tensor fails it, naming the threshold")
    func greenAndRed() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let pack = directory.path + "/good.lpk"
        #expect(try ToolRun.run("lpk-quantize", [model, "-o", pack, "--quiet"]).status == 0)
        let good = try ToolRun.run("lpk-verify", [model, pack, "--tokens", tokens, "--max-kld", "0.01", "--min-top1", "0.9", "--json"])
        #expect(good.status == 0, "\(good.standardError)")
        let report = try #require(try JSONParser.parse(good.standardOutput).objectValue)
        #expect((report["logits"]?.objectValue?["meanKLD"]?.doubleValue ?? 1) < 0.01)
        #expect(report["weights"]?.objectValue?["roles"]?.arrayValue?.isEmpty == false)

        // Damage: flip the sign of every value of one attention matrix in a safetensors copy.
        let export = directory.path + "/bad.safetensors"
        #expect(try ToolRun.run("lpk-pack", [model, "-o", export, "--dtype", "f32", "--quiet"]).status == 0)
        let file = try SafetensorsFile(path: export)
        let tensor = try file.tensor(named: "model.layers.0.self_attn.q_proj.weight")
        var bytes = try MappedFile(path: export).bytes.array
        for index in stride(from: tensor.data.fileOffset + 3, to: tensor.data.fileOffset + tensor.data.count, by: 4) { bytes[index] ^= 0x80 }
        try directory.write(bytes, to: "bad.safetensors")
        try directory.write(try MappedFile(path: model + "/config.json").bytes.array, to: "config.json")
        let bad = try ToolRun.run("lpk-verify", [model, export, "--tokens", tokens, "--max-kld", "0.01", "--min-top1", "0.9"])
        #expect(bad.status == 1)
        #expect(bad.standardError.contains("exceeds --max-kld") || bad.standardError.contains("below --min-top1"))
        #expect(bad.standardOutput.contains("verdict: FAIL"))
    }

    @Test("a prompt of several blocks is compared block by block with the figures of one comparison of all its logits, saved whole")
    func blockwiseComparison() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let pack = directory.path + "/m.lpk", referenceFile = directory.path + "/reference.npy", candidateFile = directory.path + "/candidate.npy"
        #expect(try ToolRun.run("lpk-quantize", [model, "-o", pack, "--preset", "int4", "--quiet"]).status == 0)
        let ids = ([2] + (1..<300).map { ($0 * 37 + 5) % 512 }).map(String.init).joined(separator: ",")  // three blocks of 128
        let both = try ToolRun.run("lpk-verify", [model, pack, "--tokens", ids, "--save-logits", referenceFile, "--json", "--no-weights"])
        #expect(both.status == 0, "\(both.standardError)")
        let saved = try ToolRun.run("lpk-verify", [pack, "--reference-logits", referenceFile, "--tokens", ids, "--save-logits", candidateFile, "--json"])
        #expect(saved.status == 0, "\(saved.standardError)")
        let reference = try NumpyArray(path: referenceFile), candidate = try NumpyArray(path: candidateFile)
        #expect(reference.shape == [300, 512] && candidate.shape == [300, 512])
        let whole = LogitComparison(reference: reference.values, candidate: candidate.values, vocabulary: 512)
        #expect(whole.meanKLD > 0)
        for run in [both, saved] {
            let logits = try #require(try JSONParser.parse(run.standardOutput).objectValue?["logits"]?.objectValue)
            #expect(logits["positions"]?.intValue == 300)
            for (key, value) in [("meanKLD", whole.meanKLD), ("p99KLD", whole.p99KLD), ("top1Agreement", whole.top1Agreement),
                                 ("meanLogitCosine", whole.meanLogitCosine), ("maxAbsoluteDifference", whole.maxAbsoluteDifference)] {
                let reported = try #require(logits[key]?.doubleValue)
                #expect(abs(reported - value) <= 1e-12 * max(1, abs(value)), "\(key): \(reported) vs \(value)")
            }
        }
    }

    @Test("--reference-logits compares one model with logits transformers saved")
    func referenceLogits() throws {
        let run = try ToolRun.run("lpk-verify", [model, "--reference-logits", model + "/logits.npy", "--tokens", tokens,
                                                 "--max-abs-diff", "0.0001", "--min-top1", "1"])
        #expect(run.status == 0, "\(run.standardError)")
        #expect(run.standardOutput.contains("same top token 100.00%"))
        #expect(try ToolRun.run("lpk-verify", [model, "--reference-logits", model + "/logits.npy"]).status == 64)
    }

    @Test("--numerics llama.cpp runs with llama.cpp's roundings (here its f16 GELU table) and says so; f32 is the default, 'exact' its old name; a bad value is a usage error")
    func numerics() throws {
        let arguments = [model, "--reference-logits", model + "/logits.npy", "--tokens", tokens, "--json"]
        let exact = try #require(try JSONParser.parse(try ToolRun.run("lpk-verify", arguments).standardOutput).objectValue)
        let named = try #require(try JSONParser.parse(try ToolRun.run("lpk-verify", arguments + ["--numerics", "exact"]).standardOutput).objectValue)
        let run = try ToolRun.run("lpk-verify", arguments + ["--numerics", "llama.cpp"])
        #expect(run.status == 0, "\(run.standardError)")
        let rounded = try #require(try JSONParser.parse(run.standardOutput).objectValue)
        #expect(exact["numerics"]?.stringValue == "f32" && named["numerics"]?.stringValue == "f32" && rounded["numerics"]?.stringValue == "llama.cpp")
        let exactDifference = try #require(exact["logits"]?.objectValue?["maxAbsoluteDifference"]?.doubleValue)
        let roundedDifference = try #require(rounded["logits"]?.objectValue?["maxAbsoluteDifference"]?.doubleValue)
        #expect(exactDifference <= 1e-4 && roundedDifference > 1e-4 && roundedDifference < 0.05, "\(exactDifference) \(roundedDifference)")
        #expect(try ToolRun.run("lpk-verify", arguments + ["--numerics", "fast"]).status == 64)
    }

    @Test("--save-logits writes our logits as a NumPy file that reads back as transformers' numbers")
    func saveLogits() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let saved = directory.path + "/ours.npy"
        let run = try ToolRun.run("lpk-verify", [model, "--reference-logits", model + "/logits.npy", "--tokens", tokens, "--save-logits", saved])
        #expect(run.status == 0, "\(run.standardError)")
        let bytes = try MappedFile(path: saved).bytes.array
        let headerEnd = 10 + Int(bytes[8]) + Int(bytes[9]) << 8
        #expect(headerEnd % 64 == 0 && bytes[headerEnd - 1] == UInt8(ascii: "\n"))  // NumPy's own header layout
        let ours = try NumpyArray(path: saved), theirs = try NumpyArray(path: model + "/logits.npy")
        #expect(ours.shape == theirs.shape)
        #expect(zip(ours.values, theirs.values).allSatisfy { abs($0 - $1) <= 1e-4 })
    }
}

/// Gemma 3n and Gemma 4 with their per-layer embedding tables quantized on their own terms and served from a separate file.
@Suite(.serialized) struct PLEVerifyTests {
    @Test("int8 and int4 PLE packs of the tiny Gemma 3n and Gemma 4, PLE in a companion file, verified against the f32 original",
          arguments: ["tiny-gemma3n-f32", "tiny-gemma4-f32"], [("int8", 0.01), ("int4", 0.05)])
    func plePacks(directory: String, ple: (precision: String, maxKLD: Double)) throws {
        let (precision, maxKLD) = ple
        let model = Fixtures.path("models/" + directory)
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let pack = directory.path + "/g4.lpk"
        let quantize = try ToolRun.run("lpk-quantize", [model, "-o", pack, "--core", "int8", "--embed", "int8", "--ple", precision, "--split-ple", "--quiet"])
        #expect(quantize.status == 0, "\(quantize.standardError)")
        #expect(FileManager.default.fileExists(atPath: pack + ".ple"))
        let run = try ToolRun.run("lpk-verify", [model, pack, "--tokens", "2,17,300,45,511,9,128,77,3,250,400,6",
                                                 "--max-kld", String(maxKLD), "--json"])
        #expect(run.status == 0, "\(run.standardError)")
        let logits = try #require(try JSONParser.parse(run.standardOutput).objectValue?["logits"]?.objectValue)
        #expect((logits["meanKLD"]?.doubleValue ?? 1) <= maxKLD)
        #expect((logits["top1Agreement"]?.doubleValue ?? 0) >= 0.75)
    }
}
