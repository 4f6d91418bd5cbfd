import CDotKernels
import Foundation
import TensorModel

/// Picks next tokens from logits: greedy (temperature 0, the default) or sampled at a temperature from the `topK`
/// most likely tokens and the smallest set of them whose probability reaches `topP` (nucleus sampling), as
/// llama.cpp and transformers do. The random generator is seeded, so a sampled run repeats exactly.
public struct Sampler: Sendable {
    public var temperature: Float
    public var topK: Int?
    public var topP: Float?
    private var random: SplitMix64

    /// Greedy decoding: always the most likely token.
    public static var greedy: Sampler { Sampler() }

    public init(temperature: Float = 0, topK: Int? = nil, topP: Float? = nil, seed: UInt64 = 0) {
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        random = SplitMix64(seed: seed)
    }

    /// The next token for one row of logits.
    public mutating func next(_ logits: ArraySlice<Float>) -> Int {
        let first = logits.startIndex
        guard temperature > 0, topK != 1 else {
            precondition(!logits.isEmpty, "no logits to choose from")
            return logits.withUnsafeBufferPointer { lpk_argmax($0.baseAddress!, $0.count) }
        }
        // Candidates by descending logit, cut to top-k, then softmax at the temperature.
        var candidates: [Int]
        if let topK, topK > 0, topK < logits.count {
            candidates = Self.largest(topK, of: logits)
        } else {
            candidates = Array(logits.indices)
            candidates.sort { logits[$0] > logits[$1] }
        }
        let maximum = logits[candidates[0]]
        var weights = candidates.map { exp(Double((logits[$0] - maximum) / temperature)) }
        let total = weights.reduce(0, +)
        for i in weights.indices { weights[i] /= total }
        if let topP, topP < 1 {
            var mass = 0.0, keep = 0
            while keep < weights.count && mass < Double(topP) {
                mass += weights[keep]
                keep += 1
            }
            candidates.removeLast(candidates.count - keep)
            weights.removeLast(weights.count - keep)
        }
        var point = Double.random(in: 0..<weights.reduce(0, +), using: &random)
        for (candidate, weight) in zip(candidates, weights) {
            point -= weight
            if point < 0 { return candidate - first }
        }
        return candidates[candidates.count - 1] - first
    }
}

extension Sampler {
    /// The indices of the `k` largest logits, largest first: one pass with a min-heap of `k`, not a sort of the
    /// whole vocabulary.
    static func largest(_ k: Int, of logits: ArraySlice<Float>) -> [Int] {
        var heap: [Int] = []
        heap.reserveCapacity(k)
        func siftDown(_ start: Int) {
            var parent = start
            while true {
                let left = 2 * parent + 1, right = left + 1
                var smallest = parent
                if left < heap.count && logits[heap[left]] < logits[heap[smallest]] { smallest = left }
                if right < heap.count && logits[heap[right]] < logits[heap[smallest]] { smallest = right }
                if smallest == parent { return }
                heap.swapAt(parent, smallest)
                parent = smallest
            }
        }
        for index in logits.indices {
            if heap.count < k {
                heap.append(index)
                var child = heap.count - 1
                while child > 0, logits[heap[child]] < logits[heap[(child - 1) / 2]] {
                    heap.swapAt(child, (child - 1) / 2)
                    child = (child - 1) / 2
                }
            } else if logits[index] > logits[heap[0]] {
                heap[0] = index
                siftDown(0)
            }
        }
        return heap.sorted { logits[$0] > logits[$1] }
    }
}

extension CausalLanguageModel {
    /// Runs `prompt` after what the cache already holds, then produces up to `count` tokens with `sampler`, feeding
    /// each back in; stops after a token in `stop`. Returns the produced tokens (the last one is not yet in the
    /// cache: pass it first when continuing).
    public func generate(after prompt: [Int], count: Int, sampler: inout Sampler, stop: Set<Int> = []) throws -> [Int] {
        try generate(continuing: try forward(prompt, allLogits: false), count: count, sampler: &sampler, stop: stop)
    }

    /// As `generate(after:…)`, starting from the logits the last `forward` returned (their last row is used).
    public func generate(continuing logits: [Float], count: Int, sampler: inout Sampler, stop: Set<Int> = []) throws -> [Int] {
        let vocabulary = configuration.vocabularySize
        var logits = logits
        var produced: [Int] = []
        while produced.count < count {
            let token = sampler.next(logits[(logits.count - vocabulary)...])
            produced.append(token)
            if stop.contains(token) || produced.count == count { break }
            logits = try forward([token], allLogits: false)
        }
        return produced
    }
}

/// SplitMix64 (Steele, Lea, Flood 2014): a small, fast, seedable generator for reproducible sampling.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
