import Conversion
import Foundation
import GemmaInference
import StrictJSON
import TensorModel
import Testing
import TestSupport

/// The real Gemma 3 270M GGUF against transformers' float64 evaluation of the same file
/// (Fixtures/transformers/gemma3-270m.float64.json, made by Fixtures/scripts/make_transformers_270m_fixture.py):
/// the exact function of the GGUF's weights, without llama.cpp's 8-bit activation rounding.
@Suite(.serialized) struct Gemma3TransformersAgreementTests {
    @Test("logits on 160 tokens of prose: every top token, mean KLD ≤ 0.01, and within 5× transformers' own float32-vs-float64 gap")
    func logitsAgree() throws {
        guard let path = Fixtures.realGemma3 else {
            print(Fixtures.realGemma3Missing)
            return
        }
        let fixture = try #require(try Fixtures.json("transformers/gemma3-270m.float64.json").objectValue)
        let tokens = fixture["tokens"]?.arrayValue?.compactMap { $0.intValue } ?? []
        let positions = try #require(fixture["positions"]?.arrayValue)
        let float32Gap = try #require(fixture["float32_run"]?.objectValue?["max_abs_difference_top_ids"]?.doubleValue)
        #expect(tokens.count == 160 && positions.count == tokens.count)

        let model = try ModelRegistry.model(for: try ModelSources.open(path), contextLength: tokens.count)
        let logits = try model.forward(tokens, allLogits: true)
        let vocabulary = model.configuration.vocabularySize
        var agreements = 0, divergence = 0.0, largestDifference = 0.0
        for (index, entry) in positions.enumerated() {
            let object = try #require(entry.objectValue)
            let ids = object["top_ids"]?.arrayValue?.compactMap { $0.intValue } ?? []
            let referenceLogits = object["top_logits"]?.arrayValue?.compactMap { $0.doubleValue } ?? []
            let referenceLogSum = try #require(object["logsumexp"]?.doubleValue)
            let row = logits[(index * vocabulary)..<((index + 1) * vocabulary)]
            let maximum = Double(row.max()!)
            let logSum = maximum + log(row.reduce(0.0) { $0 + exp(Double($1) - maximum) })
            if row.indices.max(by: { row[$0] < row[$1] })! - row.startIndex == ids[0] { agreements += 1 }
            // KL(transformers ‖ ours) over its top 256 tokens, the rest of the mass lumped into one bucket.
            var kld = 0.0, referenceMass = 0.0, ourMass = 0.0
            for (id, value) in zip(ids, referenceLogits) {
                let ours = Double(row[row.startIndex + id])
                let p = exp(value - referenceLogSum), q = exp(ours - logSum)
                kld += p * (log(p) - log(q))
                referenceMass += p
                ourMass += q
                largestDifference = max(largestDifference, abs(ours - value))
            }
            let tailP = max(1e-12, 1 - referenceMass), tailQ = max(1e-12, 1 - ourMass)
            kld += tailP * log(tailP / tailQ)
            divergence += kld
        }
        let meanKLD = divergence / Double(positions.count)
        print("270M vs transformers float64: top-1 \(agreements)/\(positions.count), mean KLD \(meanKLD), max |Δ logit| \(largestDifference) (transformers float32: \(float32Gap)); llama.cpp batched: top-1 \(fixture["llama_cpp_batched_top1"]?.intValue ?? -1)/\(positions.count)")
        #expect(agreements == positions.count)
        #expect(meanKLD <= 0.01)
        #expect(largestDifference <= 5 * float32Gap)
    }

    @Test("greedy continuation of \"The capital of France is\": the same 32 tokens as transformers' float64 run")
    func greedyContinuation() throws {
        guard let path = Fixtures.realGemma3 else {
            print(Fixtures.realGemma3Missing)
            return
        }
        let greedy = try #require(try Fixtures.json("transformers/gemma3-270m.float64.json").objectValue?["greedy"]?.objectValue)
        let prompt = greedy["prompt_tokens"]?.arrayValue?.compactMap { $0.intValue } ?? []
        let expected = greedy["continuation_ids"]?.arrayValue?.compactMap { $0.intValue } ?? []
        let margins = greedy["margins"]?.arrayValue?.compactMap { $0.doubleValue } ?? []
        #expect(expected.count == 32 && !prompt.isEmpty)
        let source = try ModelSources.open(path)
        let model = try ModelRegistry.model(for: source, contextLength: 64)
        var sampler = Sampler.greedy
        let produced = try model.generate(after: prompt, count: expected.count, sampler: &sampler)
        print("smallest top-2 margin of the float64 run: \(margins.min() ?? .nan); continuation: \(try SentencePieceTokenizer.from(source: source).decode(produced))")
        #expect(produced == expected)
    }
}
