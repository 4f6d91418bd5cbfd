import ByteIO
import Foundation
import GGUFFormat
import StrictJSON
import Testing
import TestSupport

/// GGUF exports of Hugging Face Gemma 3 and Gemma 4 checkpoints against what llama.cpp's own converter wrote for the same
/// checkpoints (Fixtures/conformance/*/model.gguf, convert_hf_to_gguf.py --outtype f32).
@Suite struct GGUFExportTests {
    @Test("a pack made from safetensors exports the converter's GGUF: llama.cpp's names, the same tensor bytes, its keys", arguments: [
        ("conformance/gemma3-hd8-mha-window3-tied", "model.gguf"), ("conformance/gemma3-hd16-gqa2-window64-untied-softcap", "model.gguf"),
        ("conformance/gemma3-gqa4-window3-ropelinear8-6layers", "model.gguf"), ("conformance/gemma3-heads6-kv3-hidden36-window5-softcap", "model.gguf"),
        ("conformance/gemma4-ghd32-prop-kvshare-dwmlp-ple8-window3", "model.gguf"), ("conformance/gemma4-ghd16-prop-nokvshare-ple16-window64-untied", "model.gguf"),
        ("conformance/gemma4-keqv-globalkv1-nople-window3", "model.gguf"),
        // A 22-layer Gemma 3n in bf16 (the converter's --outtype bf16: vectors, norms and AltUp coefficients in F32).
        ("models/tiny-gemma3n-gguf", "model-bf16.gguf"),
    ])
    func matchesTheConverter(name: String, converted: String) throws {
        let model = Fixtures.path(name)
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let pack = directory.path + "/m.lpk", export = directory.path + "/m.gguf"
        #expect(try ToolRun.run("lpk-pack", [model + (converted == "model.gguf" ? "" : "/model.safetensors"), "-o", pack, "--quiet"]).status == 0)
        let run = try ToolRun.run("lpk-pack", [pack, "-o", export, "--quiet"])
        #expect(run.status == 0, "\(run.standardError)")
        let ours = try GGUFFile(path: export), theirs = try GGUFFile(path: model + "/" + converted)
        let arch = try #require(theirs.architecture)
        #expect(ours.architecture == arch)
        #expect(Set(ours.tensors.map(\.name)) == Set(theirs.tensors.map(\.name)))
        for tensor in theirs.tensors {
            let mine = try ours.tensor(named: tensor.name)
            #expect(mine.type == tensor.type && mine.ne == tensor.ne && mine.data.array == tensor.data.array, "\(tensor.name)")
        }
        for (key, value) in theirs.metadata where key.hasPrefix(arch + ".") && key != arch + ".context_length" {
            let mine = try #require(ours[key], "\(key) missing")
            #expect(mine.intValue == value.intValue && mine.doubleValue == value.doubleValue && mine.stringValue == value.stringValue, "\(key)")
            #expect(try mine.arrayValue?.integers() == value.arrayValue?.integers(), "\(key)")
            #expect(try mine.arrayValue?.bools() == value.arrayValue?.bools(), "\(key)")
        }
        // The per-layer pattern llama.cpp reads (load_swa_pattern) says what config.json's layer_types says.
        let root = try #require(try JSONParser.parse(try MappedFile(path: model + "/config.json").bytes.array).objectValue)
        let config = root["text_config"]?.objectValue ?? root
        let types = (config["layer_types"]?.arrayValue ?? []).compactMap { $0.stringValue }
        #expect(!types.isEmpty)
        let pattern = try ours[arch + ".attention.sliding_window_pattern"]?.arrayValue?.bools()
        #expect(pattern == types.map { $0 == "sliding_attention" })
        let ids = "2,17,30,45,9,100,77,3,120,6"
        let verify = try ToolRun.run("lpk-verify", [model + "/" + converted, export, "--tokens", ids,
                                                    "--max-abs-diff", "0", "--no-weights"])
        #expect(verify.status == 0, "\(verify.standardOutput)")
    }

    @Test("what llama.cpp cannot express is refused by name: a Gemma 3 query scale other than head_dim^-0.5, Gemma 4 full layers with default RoPE")
    func refusals() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        for (model, reason) in [("conformance/gemma3-hd32-gqa2-window3-mix-qpas24", "query_pre_attn_scalar"),
                                ("conformance/gemma4-ghd16-defaultrope-kvshare-ple4-window3", "default RoPE")] {
            let pack = directory.path + "/m.lpk"
            #expect(try ToolRun.run("lpk-pack", [Fixtures.path(model), "-o", pack, "--quiet"]).status == 0)
            let run = try ToolRun.run("lpk-pack", [pack, "-o", directory.path + "/m.gguf"])
            #expect(run.status == 1 && run.standardError.contains(reason), "\(model): \(run.standardError)")
            #expect(!FileManager.default.fileExists(atPath: directory.path + "/m.gguf"))
        }
    }

    /// Fixtures/llama-export (make_llama_export_fixtures.py): llama.cpp's logits on exports these commands wrote.
    static let llamaCases: [JSONObject] = {
        let cases = (try? Fixtures.json("llama-export/cases.json"))?.objectValue?["cases"]?.arrayValue ?? []
        return cases.compactMap { $0.objectValue }
    }()

    @Test("llama.cpp runs the exports: as far from our logits as from float64 on its converter's file; Q8_0/Q4_0 within 0.05 of our llama.cpp numerics, the pack itself within 1e-4",
          arguments: 0..<9)
    func llamaCppRunsTheExport(index: Int) throws {
        #expect(Self.llamaCases.count == 9)
        let fixture = try #require(Self.llamaCases.dropFirst(index).first)
        let name = try #require(fixture["name"]?.stringValue), model = try #require(fixture["model"]?.stringValue)
        let commands = (fixture["commands"]?.arrayValue ?? []).compactMap { $0.stringValue }
        try #require(commands.count == 2)
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        // The first command makes m.lpk from the model; the second exports it. Paths are the repository's.
        var first = commands[0].split(separator: " ").map(String.init)
        let tool = first.removeFirst()
        first = first.map { $0 == model ? Fixtures.repositoryRoot + "/" + model : $0 == "m.lpk" ? directory.path + "/m.lpk" : $0 }
        #expect(try ToolRun.run(tool, first).status == 0)
        let export = directory.path + "/\(name).gguf"
        #expect(try ToolRun.run("lpk-pack", [directory.path + "/m.lpk", "-o", export, "--dequantize", "--quiet"]).status == 0)
        #expect(try MappedFile(path: export).bytes.array == MappedFile(path: Fixtures.path("llama-export/\(name).gguf")).bytes.array,
                "the export differs from the one llama.cpp ran: regenerate Fixtures/llama-export")
        let tokens = try #require(try Fixtures.json(String(model.dropFirst("Fixtures/".count)) + "/tokens.json").arrayValue)
        let ids = tokens.compactMap { $0.intValue }.map(String.init).joined(separator: ",")
        let logits = Fixtures.path("llama-export/\(name).llama.npy")
        let quantized = name.hasSuffix(".int8") || name.hasSuffix(".int4")
        let gate = quantized ? ["--numerics", "llama.cpp", "--max-abs-diff", "0.05", "--min-top1", "1"]
            : ["--max-abs-diff", String(1.01 * (fixture["llama_on_converter_gguf_vs_f64"]?.doubleValue ?? 0) + 1e-5)]
        let run = try ToolRun.run("lpk-verify", [export, "--reference-logits", logits, "--tokens", ids] + gate)
        #expect(run.status == 0, "\(name): \(run.standardOutput)")
        guard quantized else { return }
        // The pack itself, under llama.cpp numerics: its int8/int4 groups of 32 are the export's Q8_0/Q4_0, and their
        // inputs are rounded alike, so it lands where llama.cpp does (3.6e-7 and 4.8e-7 here; 0.064 and 0.27 with f32
        // numerics, which round nothing).
        let pack = try ToolRun.run("lpk-verify", [directory.path + "/m.lpk", "--reference-logits", logits, "--tokens", ids,
                                                  "--numerics", "llama.cpp", "--max-abs-diff", "1e-4", "--min-top1", "1"])
        #expect(pack.status == 0, "\(name) pack: \(pack.standardOutput)")
    }

    @Test("rows no ggml type holds exactly are refused, naming the tensor, unless --dequantize writes them as F32")
    func inexactRowsRefused() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let pack = directory.path + "/m.lpk"
        // Its double-wide MLP's down projections have rows of 48 columns: int4 g32 falls back to one scale per row.
        #expect(try ToolRun.run("lpk-quantize", [Fixtures.path("conformance/gemma4-ghd32-prop-kvshare-dwmlp-ple8-window3"), "-o", pack,
                                                 "--core", "int4:g32", "--quiet"]).status == 0)
        let refused = try ToolRun.run("lpk-pack", [pack, "-o", directory.path + "/m.gguf"])
        #expect(refused.status == 1 && refused.standardError.contains("int4/row") && refused.standardError.contains("--dequantize"))
        #expect(!FileManager.default.fileExists(atPath: directory.path + "/m.gguf"))
        let written = try ToolRun.run("lpk-pack", [pack, "-o", directory.path + "/m.gguf", "--dequantize"])
        #expect(written.status == 0 && written.standardOutput.contains("int4/row → F32"))
    }
}
