import GemmaInference
import SourceAdapters
import StrictJSON
import TestSupport
import Testing

/// GGUF vocabularies of the BPE kind llama.cpp's converter writes for Gemma (`gemma4`, and `gpt2` with the
/// `granite-embed-multi-311m` pre-tokenizer), against llama.cpp's own ids for every text of the tokenizer fixture
/// (Fixtures/tokenizers/gguf-bpe, made by Fixtures/scripts/make_gguf_bpe_fixtures.py).
@Suite struct GGUFBytePairTokenizerTests {
    @Test("ids equal llama.cpp's, with and without special-token parsing, for gemma4 and gpt2/granite vocabularies and the converter's own")
    func idsAgree() throws {
        let vocabularies = try #require(try Fixtures.json("tokenizers/gguf-bpe/cases.json").objectValue?["vocabularies"]?.arrayValue)
        #expect(vocabularies.count == 3)
        for vocabulary in vocabularies {
            let object = try #require(vocabulary.objectValue)
            let file = try #require(object["file"]?.stringValue)
            let tokenizer = try SentencePieceTokenizer.from(source: try ModelSources.open(Fixtures.repositoryRoot + "/" + file))
            let cases = try #require(object["cases"]?.arrayValue)
            #expect(cases.count >= 40)
            for entry in cases {
                let fields = try #require(entry.objectValue)
                let text = try #require(fields["text"]?.stringValue)
                let name = "\(file): \(fields["name"]?.stringValue ?? text)"
                #expect(tokenizer.encode(text) == fields["ids"]?.arrayValue?.compactMap(\.intValue), "\(name)")
                #expect(tokenizer.encode(text, parseSpecial: true) == fields["ids_special"]?.arrayValue?.compactMap(\.intValue), "\(name) (special)")
            }
        }
    }

    @Test("a byte-level GPT-2 vocabulary is refused by name, not misread")
    func byteLevelRefused() throws {
        let source = try ModelSources.open(Fixtures.path("tokenizers/gguf-bpe/gpt2-llama-bpe-vocab.gguf"))
        #expect { try SentencePieceTokenizer.from(source: source) } throws: { "\($0)".contains("'llama-bpe'") }
    }
}
