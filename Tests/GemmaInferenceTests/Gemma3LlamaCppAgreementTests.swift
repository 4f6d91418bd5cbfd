import Conversion
import Foundation
import GemmaInference
import StrictJSON
import TensorModel
import Testing
import TestSupport

/// The real Gemma 3 270M GGUF against llama.cpp's own outputs for it (Fixtures/llama, made by
/// Fixtures/scripts/make_llama_fixtures.py with an f32 KV cache).
@Suite(.serialized) struct Gemma3LlamaCppAgreementTests {
    // llama.cpp quantizes activations before its quantized dot products; LayerPack multiplies in f32 (and matches
    // transformers to 1e-4, TinyTransformersAgreementTests). The residual shows as near-tie flips of the top token.
    @Test("logits on 160 tokens of prose: mean KL divergence ≤ 0.01 and top-1 agreement ≥ 96% against llama.cpp")
    func logitsAgree() throws {
        guard let path = Fixtures.realGemma3 else {
            print(Fixtures.realGemma3Missing)
            return
        }
        let fixture = try #require(try Fixtures.json("llama/gemma3-270m.logits.json").objectValue)
        let tokens = fixture["tokens"]?.arrayValue?.compactMap { $0.intValue } ?? []
        let positions = try #require(fixture["positions"]?.arrayValue)
        let model = try ModelRegistry.model(for: try ModelSources.open(path), contextLength: tokens.count)
        let logits = try model.forward(tokens, allLogits: true)
        let vocabulary = model.configuration.vocabularySize
        var agreements = 0
        var divergence = 0.0
        for (index, entry) in positions.enumerated() {
            let object = try #require(entry.objectValue)
            let ids = object["top_ids"]?.arrayValue?.compactMap { $0.intValue } ?? []
            let referenceLogits = object["top_logits"]?.arrayValue?.compactMap { $0.doubleValue } ?? []
            let referenceLogSum = try #require(object["logsumexp"]?.doubleValue)
            let row = Array(logits[(index * vocabulary)..<((index + 1) * vocabulary)])
            let maximum = Double(row.max()!)
            let logSum = maximum + log(row.reduce(0.0) { $0 + exp(Double($1) - maximum) })
            let ours = row.indices.max { row[$0] < row[$1] }!
            if ours == ids[0] { agreements += 1 }
            // KL(llama.cpp ‖ ours) over llama.cpp's top 256 tokens, the rest of the mass lumped into one bucket.
            var kld = 0.0, referenceMass = 0.0, ourMass = 0.0
            for (id, value) in zip(ids, referenceLogits) {
                let p = exp(value - referenceLogSum), q = exp(Double(row[id]) - logSum)
                kld += p * (log(p) - log(q))
                referenceMass += p
                ourMass += q
            }
            let tailP = max(1e-12, 1 - referenceMass), tailQ = max(1e-12, 1 - ourMass)
            kld += tailP * log(tailP / tailQ)
            divergence += kld
        }
        let agreement = Double(agreements) / Double(positions.count)
        let meanKLD = divergence / Double(positions.count)
        print("270M vs llama.cpp: top-1 \(agreement * 100)%, mean KLD \(meanKLD) over \(positions.count) positions")
        #expect(agreement >= 0.96)
        #expect(meanKLD <= 0.01)
    }

    @Test("greedy continuation of \"The capital of France is\" follows llama.cpp's until their first near tie (15 tokens)")
    func greedyContinuation() throws {
        guard let path = Fixtures.realGemma3 else {
            print(Fixtures.realGemma3Missing)
            return
        }
        let fixture = try #require(try Fixtures.json("llama/gemma3-270m.greedy.json").objectValue)
        let prompt = fixture["prompt_tokens"]?.arrayValue?.compactMap { $0.intValue } ?? []
        let expected = fixture["continuation_ids"]?.arrayValue?.compactMap { $0.intValue } ?? []
        let source = try ModelSources.open(path)
        let model = try ModelRegistry.model(for: source, contextLength: 64)
        var logits = try model.forward(prompt, allLogits: false)
        var produced: [Int] = []
        for _ in 0..<expected.count {
            let next = logits.indices.max { logits[$0] < logits[$1] }!
            produced.append(next)
            logits = try model.forward([next], allLogits: false)
        }
        #expect(Array(produced.prefix(15)) == Array(expected.prefix(15)))
        let tokenizer = try SentencePieceTokenizer.from(source: source)
        #expect(tokenizer.decode(Array(produced.prefix(8))) == " the capital of the country of France.")
        #expect(tokenizer.encode(fixture["prompt_text"]!.stringValue!) == prompt)
    }
}

/// The tokenizer against llama.cpp's tokenization of varied text (Fixtures/llama/tokenizer-cases.json).
@Suite struct TokenizerAgreementTests {
    @Test("ids equal llama.cpp's with and without special-token parsing, and decode back to the text")
    func casesAgree() throws {
        guard let path = Fixtures.realGemma3 else {
            print(Fixtures.realGemma3Missing)
            return
        }
        let tokenizer = try SentencePieceTokenizer.from(source: try ModelSources.open(path))
        let cases = try #require(try Fixtures.json("llama/tokenizer-cases.json").objectValue?["cases"]?.arrayValue)
        #expect(cases.count >= 25)
        for entry in cases {
            let object = try #require(entry.objectValue)
            let text = try #require(object["text"]?.stringValue)
            let name = object["name"]?.stringValue ?? text
            #expect(tokenizer.encode(text, addBOS: false) == object["ids"]?.arrayValue?.compactMap(\.intValue), "\(name)")
            #expect(tokenizer.encode(text, addBOS: false, parseSpecial: true) == object["ids_special"]?.arrayValue?.compactMap(\.intValue), "\(name) (special)")
            if object["detokenized_equals_text"]?.boolValue == true {
                #expect(tokenizer.decode(tokenizer.encode(text, addBOS: false)) == text, "\(name) round trip")
            }
        }
    }

    @Test("ids equal Hugging Face tokenizers' (built by transformers from the GGUF) except its documented differences")
    func tokenizersAgree() throws {
        guard let path = Fixtures.realGemma3 else {
            print(Fixtures.realGemma3Missing)
            return
        }
        let tokenizer = try SentencePieceTokenizer.from(source: try ModelSources.open(path))
        let texts = try #require(try Fixtures.json("llama/tokenizer-cases.json").objectValue?["cases"]?.arrayValue)
        let fixture = try #require(try Fixtures.json("llama/tokenizer-cases-hf.json").objectValue)
        let cases = try #require(fixture["cases"]?.arrayValue)
        let known = Set(fixture["known_differences"]?.objectValue?.keys.map { $0 } ?? [])
        #expect(known.count <= 2 && cases.count == texts.count)
        var compared = 0
        for (entry, textEntry) in zip(cases, texts) {
            let name = try #require(entry.objectValue?["name"]?.stringValue)
            let text = try #require(textEntry.objectValue?["text"]?.stringValue)
            #expect(textEntry.objectValue?["name"]?.stringValue == name)
            guard !known.contains(name) else { continue }
            // tokenizers always matches added tokens inside the text: llama.cpp's parse_special mode.
            #expect(tokenizer.encode(text, addBOS: false, parseSpecial: true) == entry.objectValue?["ids"]?.arrayValue?.compactMap(\.intValue), "\(name)")
            compared += 1
        }
        #expect(compared >= 40)
    }
}
