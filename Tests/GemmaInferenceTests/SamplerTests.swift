import CDotKernels
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

    @Test("greedy's choice, every version this CPU has: the first index of the largest value as a scan keeping the first of equals takes it, NaNs passed over, ±0 equal, a leading NaN kept")
    func argmaxVersions() {
        var state: UInt64 = 7
        func draw() -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return state >> 33
        }
        var cases: [[Float]] = [[1], [.nan], [.nan, 5, 7], [-0.0, 0, 0], [-.infinity, -.infinity], [.nan, .nan, .nan]]
        for length in [1, 7, 8, 31, 32, 33, 100, 1000, 262_144] {
            // Few distinct values (ties everywhere), some NaNs, infinities and signed zeros, and the largest near the end.
            var values = (0..<length).map { _ -> Float in
                switch draw() % 20 {
                case 0: .nan
                case 1: -.infinity
                case 2: -0.0
                case 3: 0
                default: Float(draw() % 50) - 25
                }
            }
            cases.append(values)
            if length > 3 { values[length - 2] = 30 }
            cases.append(values)
        }
        for logits in cases {
            let expected = logits.indices.max { logits[$0] < logits[$1] }!
            var greedy = Sampler.greedy
            #expect(greedy.next(logits[...]) == expected, "greedy over \(logits.count) values")
            for version: Int32 in 0...1 {
                var index = -1
                guard lpk_argmax_version(version, logits, logits.count, &index) == 1 else { continue }
                #expect(index == expected, "version \(version) over \(logits.count) values: \(index), expected \(expected)")
            }
        }
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
