import Conversion
import Foundation
import GemmaInference
import SourceAdapters
import StrictJSON
import TensorModel
import TestSupport
import Testing

/// The real Gemma 3 270M GGUF against transformers' float64 evaluation of the same file
/// (Fixtures/transformers/gemma3-270m.float64.json, made by Fixtures/scripts/make_transformers_270m_fixture.py):
/// the exact function of the GGUF's weights, without llama.cpp's 8-bit activation rounding.
@Suite(.serialized) struct Gemma3TransformersAgreementTests {
    @Test("logits on 160 tokens of prose: every top token, mean KLD ≤ 0.01, and within 5× transformers' own float32-vs-float64 gap", Fixtures.needsRealGemma3)
    func logitsAgree() throws {
        let (ours, fixture) = try TopLogitComparison.realGemma3(against: "transformers/gemma3-270m.float64.json")
        let count = fixture["positions"]?.arrayValue?.count ?? 0
        let float32Gap = try #require(fixture["float32_run"]?.objectValue?["max_abs_difference_top_ids"]?.doubleValue)
        print("270M vs transformers float64: top-1 \(ours.agreements)/\(count), mean KLD \(ours.meanKLD), max |Δ logit| \(ours.largestDifference) (transformers float32: \(float32Gap)); llama.cpp batched: top-1 \(fixture["llama_cpp_batched_top1"]?.intValue ?? -1)/\(count)")
        #expect(count == 160)
        #expect(ours.agreements == count)
        #expect(ours.meanKLD <= 0.01)
        #expect(ours.largestDifference <= 5 * float32Gap)
    }

    @Test("greedy continuation of \"The capital of France is\": the same 32 tokens as transformers' float64 run", Fixtures.needsRealGemma3)
    func greedyContinuation() throws {
        let path = try Fixtures.requireRealGemma3()
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
