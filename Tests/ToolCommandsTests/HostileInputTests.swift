import ByteIO
import Foundation
import StrictJSON
import Testing
import TestSupport

/// An adversarial pass over the four tools, class by class (issue "Nothing hostile gets through"): trusted
/// configuration, hangs, outputs that destroy, gates that pass broken models, damage passed on, silent loss, exit
/// codes. Every case expects the clean outcome: exit 1 for bad data (naming the file), 64 for bad options, no crash,
/// no hang, nothing clobbered.
@Suite(.serialized) struct HostileInputTests {
    static let tinyModel = Fixtures.path("models/tiny-gemma3-f32")
    static let tokens = "2,17,300,45"

    /// A copy of the tiny Gemma 3 with `edit` applied to its config.json object.
    static func model(in directory: TemporaryDirectory, name: String = "m", editing edit: (inout [String: Any]) -> Void) throws -> String {
        let path = directory.path + "/" + name
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: tinyModel + "/model.safetensors", toPath: path + "/model.safetensors")
        var config = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: tinyModel + "/config.json"))) as? [String: Any])
        edit(&config)
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: path + "/config.json"))
        return path
    }

    func expectBadInput(_ run: ToolRun, naming fragments: [String], _ comment: Comment? = nil) {
        #expect(run.status == 1 && !run.timedOut, "exit \(run.status): \(run.standardError) \(comment?.rawValue ?? "")")
        for fragment in fragments { #expect(run.standardError.contains(fragment), "\(fragment) not in: \(run.standardError)") }
        #expect(!run.standardError.contains("Fatal error") && !run.standardError.contains("Program crashed"))
    }

    // MARK: - Trusted configuration

    @Test("config.json numbers that would size or index something wrongly are refused by name", arguments: [
        ("sliding_window", "-3"), ("num_key_value_heads", "3"), ("head_dim", "7"), ("num_hidden_layers", "0"),
        ("vocab_size", "1099511627776"), ("rms_norm_eps", #""tiny""#), ("num_kv_shared_layers", "9"), ("intermediate_size", "[1, 2]"),
        ("final_logit_softcapping", "-1.0"), ("query_pre_attn_scalar", "0"),
    ])
    func hostileConfigurations(key: String, json: String) throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let value = try JSONSerialization.jsonObject(with: Data(json.utf8), options: .fragmentsAllowed)
        let model = try Self.model(in: directory) { $0[key] = value }
        let run = try ToolRun.run("lpk-verify", [model, model, "--tokens", Self.tokens], timeLimit: 60)
        expectBadInput(run, naming: ["config.json", key])
    }

    @Test("pack metadata whose configuration disagrees with its tensors: --check and lpk-verify refuse it")
    func packMetadataContradictingTensors() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        // A model whose config.json claims 7 layers: the pack keeps that configuration beside 6 layers of tensors.
        let model = try Self.model(in: directory) { $0["num_hidden_layers"] = 7; $0["layer_types"] = nil }
        let pack = directory.path + "/p.lpk"
        #expect(try ToolRun.run("lpk-pack", [model, "-o", pack]).status == 0)
        expectBadInput(try ToolRun.run("lpk-inspect", [pack, "--check"]), naming: ["layers.6"])
        expectBadInput(try ToolRun.run("lpk-verify", [pack, pack, "--tokens", Self.tokens]), naming: ["p.lpk", "layers.6"])
    }

    @Test("options that would size a run beyond reason are usage errors", arguments: [
        ["--generate", "1000000000"], ["--generate", "-1"], ["--temperature", "nan"], ["--max-kld", "nan"],
        ["--max-p99-kld", "inf"], ["--min-top1", "2"], ["--top-p", "0"],
    ])
    func hostileOptions(options: [String]) throws {
        let run = try ToolRun.run("lpk-verify", [Self.tinyModel, Self.tinyModel, "--tokens", Self.tokens] + options, timeLimit: 60)
        #expect(run.status == 64, "\(options): exit \(run.status) \(run.standardError)")
    }

    @Test("malformed token lists are usage errors", arguments: ["1,,2", "", "1,-2", "a", ",1"])
    func hostileTokens(tokens: String) throws {
        #expect(try ToolRun.run("lpk-verify", [Self.tinyModel, Self.tinyModel, "--tokens", tokens]).status == 64)
    }

    // MARK: - Hangs

    @Test("a FIFO given as a model, a companion, a recipe or a text is refused at once, not waited on")
    func fifos() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let fifo = directory.path + "/fifo"
        #expect(mkfifo(fifo, 0o600) == 0)
        expectBadInput(try ToolRun.run("lpk-inspect", [fifo], timeLimit: 20), naming: ["fifo"])
        expectBadInput(try ToolRun.run("lpk-quantize", [Self.tinyModel, "-o", directory.path + "/q.lpk", "--recipe", fifo], timeLimit: 20),
                       naming: ["fifo"])
        // A split pack whose companion is a FIFO.
        let pack = directory.path + "/s.lpk"
        let gguf = Fixtures.path("models/tiny-gemma3n-gguf")
        #expect(try ToolRun.run("lpk-quantize", [gguf, "-o", pack, "--split-ple", "--quiet"]).status == 0)
        try FileManager.default.removeItem(atPath: pack + ".ple")
        #expect(mkfifo(pack + ".ple", 0o600) == 0)
        expectBadInput(try ToolRun.run("lpk-inspect", [pack], timeLimit: 20), naming: ["s.lpk.ple", "companion"])
        expectBadInput(try ToolRun.run("lpk-verify", [gguf, gguf, "--text", fifo], timeLimit: 20), naming: ["fifo"])
    }

    @Test("--keep patterns that could take exponential time, or do not compile, are usage errors", arguments: ["(a+)+", "(x*)*y", "((ab)+)*", "("])
    func catastrophicPatterns(pattern: String) throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let run = try ToolRun.run("lpk-quantize", [Self.tinyModel, "-o", directory.path + "/q.lpk", "--keep", pattern], timeLimit: 20)
        #expect(run.status == 64 && !run.timedOut, "\(pattern): \(run.status)")
    }

    // MARK: - Outputs that destroy

    @Test("outputs that are devices, inputs, an input's shard or companion, or links to inputs are refused; nothing is touched")
    func clobbering() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let model = try Self.model(in: directory) { _ in }
        let before = try MappedFile(path: model + "/model.safetensors").bytes.array
        expectBadInput(try ToolRun.run("lpk-quantize", [model, "-o", "/dev/full"]), naming: ["/dev/full"])
        expectBadInput(try ToolRun.run("lpk-pack", [model, "-o", model + "/model.safetensors"]), naming: ["model.safetensors"])
        try FileManager.default.createSymbolicLink(atPath: directory.path + "/link.lpk", withDestinationPath: model + "/model.safetensors")
        expectBadInput(try ToolRun.run("lpk-quantize", [model, "-o", directory.path + "/link.lpk"]), naming: ["link.lpk"])
        expectBadInput(try ToolRun.run("lpk-verify", [model, model, "--tokens", Self.tokens, "--save-logits", "/dev/null"]), naming: ["/dev/null"])
        // A split pack written over itself, directly and through its companion.
        let gguf = Fixtures.path("models/tiny-gemma3n-gguf")
        let pack = directory.path + "/s.lpk"
        #expect(try ToolRun.run("lpk-quantize", [gguf, "-o", pack, "--split-ple", "--quiet"]).status == 0)
        let packBytes = try MappedFile(path: pack).bytes.array, companionBytes = try MappedFile(path: pack + ".ple").bytes.array
        expectBadInput(try ToolRun.run("lpk-quantize", [pack, "-o", pack, "--split-ple"]), naming: ["s.lpk"])
        try FileManager.default.createSymbolicLink(atPath: directory.path + "/t.lpk.ple", withDestinationPath: pack + ".ple")
        expectBadInput(try ToolRun.run("lpk-quantize", [pack, "-o", directory.path + "/t.lpk", "--split-ple"]), naming: ["t.lpk.ple"])
        expectBadInput(try ToolRun.run("lpk-pack", [pack, "-o", pack + ".ple"]), naming: ["s.lpk.ple"])
        #expect(try MappedFile(path: pack).bytes.array == packBytes && MappedFile(path: pack + ".ple").bytes.array == companionBytes)
        #expect(try MappedFile(path: model + "/model.safetensors").bytes.array == before)
        var status = stat()
        #expect(stat("/dev/full", &status) == 0 && (status.st_mode & S_IFMT) == S_IFCHR)
    }

    @Test("two runs writing the same split pack at once always leave a matching pair")
    func concurrentPairs() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let gguf = Fixtures.path("models/tiny-gemma3n-gguf")
        let pack = directory.path + "/s.lpk"
        for round in 0..<12 {
            // Two writers at once, from two threads (a shell's `&`/`wait` hangs when the test runner's blocked
            // signal mask is inherited).
            DispatchQueue.concurrentPerform(iterations: 2) { writer in
                _ = try? ToolRun.run("lpk-quantize", [gguf, "-o", pack, "--split-ple", "--preset", writer == 0 ? "int8" : "int4", "--quiet"])
            }
            let check = try ToolRun.run("lpk-inspect", [pack, "--check"])
            #expect(check.status == 0, "round \(round): \(check.standardError)")
        }
    }

    // MARK: - Gates that pass broken models

    @Test("NaN logits fail every gate, with --json too, and even without thresholds")
    func brokenModels() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let broken = directory.path + "/broken"
        try FileManager.default.createDirectory(atPath: broken, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Self.tinyModel + "/config.json", toPath: broken + "/config.json")
        // The final norm's first weight as NaN: every logit becomes NaN.
        var bytes = try MappedFile(path: Self.tinyModel + "/model.safetensors").bytes.array
        let headerLength = Int(bytes[0..<8].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
        let header = try #require(try JSONParser.parse(bytes[8..<(8 + headerLength)]).objectValue)
        let begin = try #require(header["model.norm.weight"]?.objectValue?["data_offsets"]?.arrayValue?.first?.intValue)
        bytes.replaceSubrange((8 + headerLength + begin)..<(8 + headerLength + begin + 4), with: [0x00, 0x00, 0xC0, 0x7F])
        try Data(bytes).write(to: URL(fileURLWithPath: broken + "/model.safetensors"))
        for extra in [["--max-kld", "1"], ["--min-cosine", "0.5"], ["--max-abs-diff", "100"], ["--min-top1", "0"], [], ["--json", "--max-kld", "1"]] {
            let run = try ToolRun.run("lpk-verify", [Self.tinyModel, broken, "--tokens", Self.tokens] + extra)
            expectBadInput(run, naming: ["NaN or infinite"], "\(extra)")
        }
    }

    // MARK: - Damage passed on

    @Test("a pack with one flipped tensor byte is refused as a source by every tool, naming the tensor")
    func damagedPacks() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let pack = directory.path + "/p.lpk"
        // A model llama.cpp's gemma3 can express (query scale head_dim^-0.5), so that the .gguf export reaches the tensors.
        let source = Fixtures.path("conformance/gemma3-hd8-mha-window3-tied")
        #expect(try ToolRun.run("lpk-pack", [source, "-o", pack]).status == 0)
        var bytes = try MappedFile(path: pack).bytes.array
        bytes[4096 + 100] ^= 0x10  // inside the first tensor of the core section
        try Data(bytes).write(to: URL(fileURLWithPath: pack))
        let out = directory.path + "/out"
        for (tool, arguments) in [("lpk-quantize", [pack, "-o", out + ".lpk"]), ("lpk-pack", [pack, "-o", out + ".gguf"]),
                                  ("lpk-pack", [pack, "-o", out + ".safetensors"]), ("lpk-pack", [pack, "-o", out + ".lpkz", "--compress", "zstd"]),
                                  ("lpk-verify", [pack, source, "--tokens", "2,17,200,45"])] {
            expectBadInput(try ToolRun.run(tool, arguments), naming: ["p.lpk", "checksum"], "\(tool) \(arguments)")
        }
        #expect(try directory.contents() == ["p.lpk"])
    }

    @Test("a damaged PLE block is refused when a lookup first reads it, and named by --check; other tokens still run")
    func damagedPLEBlock() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let gguf = Fixtures.path("models/tiny-gemma3n-gguf")
        let pack = directory.path + "/s.lpk"
        #expect(try ToolRun.run("lpk-quantize", [gguf, "-o", pack, "--split-ple", "--quiet"]).status == 0)
        // Damage the record of token 1 (the first 16 KiB block of the table holds the first tokens).
        var ple = try MappedFile(path: pack + ".ple").bytes.array
        ple[16384 + 64 * 3 + 5] ^= 0x01
        try Data(ple).write(to: URL(fileURLWithPath: pack + ".ple"))
        expectBadInput(try ToolRun.run("lpk-inspect", [pack, "--check"]), naming: ["block 0"])
        expectBadInput(try ToolRun.run("lpk-verify", [gguf, pack, "--tokens", "2,1"]), naming: ["s.lpk.ple", "block 0"])
    }

    // MARK: - Silent loss and silent acceptance

    @Test("exports refuse tensors they cannot hold; empty shard maps, repeated recipe keys and misnamed outputs are refused")
    func silentLoss() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let odd = Fixtures.path("safetensors/dtypes.safetensors")  // holds C64 and F6 tensors, among others
        expectBadInput(try ToolRun.run("lpk-pack", [odd, "-o", directory.path + "/x.safetensors"]), naming: ["dtypes.safetensors", "no float values"])
        expectBadInput(try ToolRun.run("lpk-pack", [odd, "-o", directory.path + "/x.gguf"]), naming: ["no float values"])
        try directory.write(Array(#"{"metadata": {}, "weight_map": {}}"#.utf8), to: "model.safetensors.index.json")
        expectBadInput(try ToolRun.run("lpk-inspect", [directory.path + "/model.safetensors.index.json"]), naming: ["weight_map", "empty"])
        let recipe = try directory.write(Array(#"{"core": "int4", "core": "int8"}"#.utf8), to: "r.json")
        expectBadInput(try ToolRun.run("lpk-quantize", [Self.tinyModel, "-o", directory.path + "/q.lpk", "--recipe", recipe]), naming: ["r.json"])
        #expect(try ToolRun.run("lpk-quantize", [Self.tinyModel, "-o", directory.path + "/q.gguf"]).status == 64)
        #expect(try ToolRun.run("lpk-pack", [Self.tinyModel, "-o", directory.path + "/q.lpk", "--dtype", "bf16"]).status == 64)
        #expect(try ToolRun.run("lpk-pack", [Self.tinyModel, "-o", directory.path + "/q.lpk", "--level", "9"]).status == 64)
        #expect(try directory.contents() == ["model.safetensors.index.json", "r.json"])
    }

    // MARK: - Exit codes and words

    @Test("bad data exits 1 with the file named once and the reason in words; bad options exit 64")
    func exitCodesAndWords() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let missing = try ToolRun.run("lpk-quantize", [Self.tinyModel, "-o", directory.path + "/q.lpk", "--recipe", directory.path + "/none.json"])
        expectBadInput(missing, naming: ["none.json", "No such file"])
        #expect(!missing.standardError.contains("NSCocoaErrorDomain"))
        // Two models with different vocabularies are bad input, not a usage error.
        let other = Fixtures.path("models/tiny-gemma3n-gguf")
        expectBadInput(try ToolRun.run("lpk-verify", [Self.tinyModel, other, "--tokens", Self.tokens, "--no-weights"]), naming: ["vocabulary"])
        // A split pack without its companion says a companion is needed, naming it.
        let pack = directory.path + "/s.lpk"
        #expect(try ToolRun.run("lpk-quantize", [other, "-o", pack, "--split-ple", "--quiet"]).status == 0)
        try FileManager.default.removeItem(atPath: pack + ".ple")
        let noCompanion = try ToolRun.run("lpk-inspect", [pack])
        expectBadInput(noCompanion, naming: ["s.lpk.ple", "companion"])
        #expect(noCompanion.standardError.components(separatedBy: "s.lpk.ple").count == 2, "\(noCompanion.standardError)")
        // A safetensors header claiming 2^63 bytes of data reports that number, not a wrapped one.
        var header = #"{"w":{"dtype":"F32","shape":[2],"data_offsets":[9223372036854775807,0]}}"#
        header += String(repeating: " ", count: (8 - header.utf8.count % 8) % 8)
        var bytes: [UInt8] = []
        withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { bytes += $0 }
        let huge = try directory.write(bytes + Array(header.utf8) + [UInt8](repeating: 0, count: 8), to: "huge.safetensors")
        let overflow = try ToolRun.run("lpk-inspect", [huge])
        expectBadInput(overflow, naming: ["huge.safetensors", "9223372036854775807"])
        #expect(!overflow.standardError.contains("18446744"), "\(overflow.standardError)")
    }
}
