import Conversion
import Foundation
import GemmaInference
import SourceAdapters
import StrictJSON
import TestSupport
import Testing

/// Greedy and sampled generation: the sampler's distribution against the softmax it should follow.
@Suite struct SamplerTests {
    /// Frequencies of 60,000 draws from `logits`.
    func frequencies(_ logits: [Float], _ sampler: Sampler) -> [Double] {
        var sampler = sampler
        var counts = [Double](repeating: 0, count: logits.count)
        let padded = [Float(-1)] + logits  // a slice that does not start at 0
        for _ in 0..<60_000 { counts[sampler.next(padded[1...])] += 1 }
        return counts.map { $0 / 60_000 }
    }

    func expectClose(_ actual: [Double], _ expected: [Double], _ label: String) {
        for (a, e) in zip(actual, expected) { #expect(abs(a - e) < 0.01, "\(label): \(actual) vs \(expected)") }
    }

    @Test("greedy takes the largest logit; temperature, top-k and top-p follow the softmax they define")
    func distribution() {
        let logits: [Float] = [0, log(2), log(3)]  // probabilities 1/6, 2/6, 3/6
        var greedy = Sampler.greedy
        #expect(greedy.next(logits[...]) == 2)
        expectClose(frequencies(logits, Sampler(temperature: 1, seed: 1)), [1.0 / 6, 2.0 / 6, 3.0 / 6], "T=1")
        expectClose(frequencies(logits, Sampler(temperature: 0.5, seed: 2)), [1.0 / 14, 4.0 / 14, 9.0 / 14], "T=0.5")
        expectClose(frequencies(logits, Sampler(temperature: 1, topK: 2, seed: 3)), [0, 2.0 / 5, 3.0 / 5], "top-k 2")
        expectClose(frequencies(logits, Sampler(temperature: 1, topP: 0.5, seed: 4)), [0, 0, 1], "top-p 0.5")
        expectClose(frequencies(logits, Sampler(temperature: 1, topP: 0.6, seed: 5)), [0, 2.0 / 5, 3.0 / 5], "top-p 0.6")
    }

    @Test("a seed repeats its samples; another seed gives others")
    func seeds() {
        let logits = (0..<50).map { Float($0 % 7) * 0.3 }
        func draw(_ seed: UInt64) -> [Int] {
            var sampler = Sampler(temperature: 1.2, topK: 40, topP: 0.95, seed: seed)
            return (0..<64).map { _ in sampler.next(logits[...]) }
        }
        #expect(draw(7) == draw(7))
        #expect(draw(7) != draw(8))
    }

    @Test("greedy generation on the tiny Gemma 3 follows transformers' argmax; sampling is repeatable and stops at a stop token")
    func generation() throws {
        let directory = "tiny-gemma3-f32"
        let json = try Fixtures.json("models/\(directory)/reference.json")
        let reference = try #require(json.objectValue)
        let tokens = (reference["tokens"]?.arrayValue ?? []).compactMap { $0.intValue }
        let greedyNext = (reference["greedy_next"]?.arrayValue ?? []).compactMap { $0.intValue }
        let model = try ModelRegistry.model(for: try ModelSources.open(Fixtures.path("models/" + directory)), contextLength: 64)
        var greedy = Sampler.greedy
        let next = try model.generate(after: tokens, count: 1, sampler: &greedy)
        #expect(next == [greedyNext.last!])

        func sample() throws -> [Int] {
            model.reset()
            var sampler = Sampler(temperature: 1, topK: 50, seed: 42)
            return try model.generate(after: tokens, count: 16, sampler: &sampler)
        }
        let first = try sample(), second = try sample()
        #expect(first.count == 16 && first == second)
        model.reset()
        var sampler = Sampler(temperature: 1, topK: 50, seed: 42)
        let stopped = try model.generate(after: tokens, count: 16, sampler: &sampler, stop: [first[3]])
        #expect(stopped == Array(first[...(first.firstIndex(of: first[3])!)]))
    }
}
