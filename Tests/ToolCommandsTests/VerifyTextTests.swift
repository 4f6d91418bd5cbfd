import Foundation
import StrictJSON
import Testing
import TestSupport

/// `lpk-verify --text`: a text scored in chunks, as llama.cpp's perplexity tool scores it.
@Suite(.serialized) struct VerifyTextTests {
    static let model = Fixtures.path("models/tiny-gemma3n-gguf")
    static let prose = String(repeating: "The river had shaped the town long before anyone thought to write its history. ", count: 12)

    @Test("the GGUF and the safetensors of one model: equal perplexities, KLD near 0, every chunk's second half scored")
    func sameModelTwoFormats() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let text = try directory.write(Array(Self.prose.utf8), to: "prose.txt")
        let run = try ToolRun.run("lpk-verify", [Self.model + "/model-bf16.gguf", Self.model, "--text", text, "--context", "32", "--json"])
        #expect(run.status == 0, "\(run.standardError)")
        let report = try #require(try JSONParser.parse(run.standardOutput).objectValue)
        let evaluation = try #require(report["evaluation"]?.objectValue)
        let chunks = try #require(report["chunks"]?.intValue)
        #expect(chunks >= 2 && chunks == (report["textTokens"]?.intValue ?? 0) / 32)
        #expect(evaluation["tokens"]?.intValue == chunks * (32 - 1 - 16))
        let reference = try #require(evaluation["referencePerplexity"]?.objectValue?["value"]?.doubleValue)
        let candidate = try #require(evaluation["candidatePerplexity"]?.objectValue?["value"]?.doubleValue)
        #expect(reference > 1 && abs(candidate / reference - 1) < 1e-4, "\(reference) \(candidate)")
        #expect((evaluation["meanKLD"]?.objectValue?["value"]?.doubleValue ?? 1) < 1e-7)
        #expect(evaluation["sameTop"]?.objectValue?["value"]?.doubleValue == 1)
    }

    @Test("without thresholds the verdict says none were given; a threshold makes it a gate; text-mode misuse exits 64")
    func verdicts() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let text = try directory.write(Array(Self.prose.utf8), to: "prose.txt")
        let arguments = [Self.model + "/model-bf16.gguf", Self.model, "--text", text, "--context", "32"]
        let plain = try ToolRun.run("lpk-verify", arguments)
        #expect(plain.status == 0 && plain.standardOutput.contains("verdict: none (no thresholds given"))
        let gated = try ToolRun.run("lpk-verify", arguments + ["--max-kld", "0.001", "--min-top1", "0.99"])
        #expect(gated.status == 0 && gated.standardOutput.contains("verdict: PASS"))
        #expect(try ToolRun.run("lpk-verify", arguments + ["--min-cosine", "0.9"]).status == 64)
        #expect(try ToolRun.run("lpk-verify", arguments + ["--generate", "3"]).status == 64)
        #expect(try ToolRun.run("lpk-verify", [Self.model + "/model-bf16.gguf", Self.model, "--context", "32"]).status == 64)
        let short = try directory.write(Array("Too short.".utf8), to: "short.txt")
        let tooShort = try ToolRun.run("lpk-verify", [Self.model + "/model-bf16.gguf", Self.model, "--text", short, "--context", "32"])
        #expect(tooShort.status == 1 && tooShort.standardError.contains("short.txt"))
    }
}
