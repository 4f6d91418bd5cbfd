import ByteIO
import Foundation
import GemmaInference
import TensorModel
import StrictJSON
import Testing
import TestSupport

/// The `tokenizer.json` reader against Hugging Face `tokenizers`' own ids (Fixtures/tokenizers, made by
/// Fixtures/scripts/make_tokenizers_fixture.py).
@Suite struct TokenizerJSONTests {
    func check(_ tokenizer: SentencePieceTokenizer, against fixture: String, minimum: Int) throws {
        let texts = try #require(try Fixtures.json("llama/tokenizer-cases.json").objectValue?["cases"]?.arrayValue)
        let cases = try #require(try Fixtures.json(fixture).objectValue?["cases"]?.arrayValue)
        #expect(cases.count == texts.count && cases.count >= minimum)
        for (entry, textEntry) in zip(cases, texts) {
            let name = entry.objectValue?["name"]?.stringValue ?? "?"
            let text = try #require(textEntry.objectValue?["text"]?.stringValue)
            let expected = entry.objectValue?["ids"]?.arrayValue?.compactMap(\.intValue)
            #expect(tokenizer.encode(text, addBOS: false, parseSpecial: true) == expected, "\(name)")
        }
    }

    @Test("a 1,000-piece Gemma-style BPE tokenizer.json gives tokenizers' ids on every text (byte fallback, added tokens)")
    func tinyBPE() throws {
        let path = Fixtures.path("tokenizers/tiny-bpe/tokenizer.json")
        let tokenizer = try SentencePieceTokenizer.from(tokenizerJSON: try MappedFile(path: path).bytes, name: path)
        #expect(tokenizer.tokens.count == 1000 && tokenizer.bosID == 2 && tokenizer.eosID == 1)
        try check(tokenizer, against: "tokenizers/tiny-bpe/cases.json", minimum: 40)
    }

    /// The tokenizer.json transformers converts from the 270M's vocabulary (`make fixtures` writes it; too big to commit).
    static let convertedGemma3 = NSHomeDirectory() + "/.cache/layerpack/gemma3-tokenizer.json"

    @Test("the Gemma 3 tokenizer.json transformers converts from the 270M GGUF gives tokenizers' ids on every text",
          .enabled(if: FileManager.default.fileExists(atPath: convertedGemma3), "made by `make fixtures` (transformers converts the 270M's vocabulary)"))
    func gemma3() throws {
        let path = Self.convertedGemma3
        let tokenizer = try SentencePieceTokenizer.from(tokenizerJSON: try MappedFile(path: path).bytes, name: path)
        try check(tokenizer, against: "llama/tokenizer-cases-hf.json", minimum: 40)
    }

    @Test("malformed tokenizer.json files fail with an error naming the file", arguments: [
        "[]", #"{"model": {"type": "Unigram"}}"#, #"{"model": {"type": "BPE", "vocab": {"a": 5}, "merges": []}}"#,
        #"{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": [7]}}"#, #"{"model": {"type": "BPE", "vocab": {}, "merges": []}}"#, "{",
    ])
    func malformed(json: String) throws {
        #expect {
            try SentencePieceTokenizer.from(tokenizerJSON: MappedFile(bytes: Array(json.utf8), name: "bad/tokenizer.json").bytes,
                                            name: "bad/tokenizer.json")
        } throws: { ($0 as? TokenizerError)?.kind == .invalidVocabulary && ($0 as? TokenizerError)?.path?.hasSuffix("bad/tokenizer.json") == true }
    }
}
