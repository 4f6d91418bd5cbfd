import Foundation
import Testing
import Verification

/// llama.cpp's perplexity-tool figures, on examples small enough to work out by hand.
@Suite struct TextEvaluationTests {
    /// log Σ exp of a row.
    static func logSumExp(_ row: [Double]) -> Double {
        let maximum = row.max()!
        return maximum + log(row.reduce(0) { $0 + exp($1 - maximum) })
    }

    @Test("perplexities, KL divergence, same top token and Δp follow perplexity.cpp's definitions")
    func definitions() throws {
        // Three positions over a vocabulary of three; the next tokens are 2, 0, 1.
        let reference: [[Float]] = [[0, 1, 2], [3, 0, 0], [0, 0.5, 0]]
        let candidate: [[Float]] = [[0, 1.5, 1], [2, 0, 0], [0, 0.5, 0.25]]
        let next = [2, 0, 1]
        var evaluation = TextEvaluation()
        for i in 0..<3 {
            reference[i].withUnsafeBufferPointer { r in candidate[i].withUnsafeBufferPointer { c in evaluation.add(reference: r, candidate: c, next: next[i]) } }
        }
        let summary = try #require(evaluation.summary)
        var nll = 0.0, baseNLL = 0.0, kld = 0.0
        var klds: [Double] = []
        for i in 0..<3 {
            let p = reference[i].map(Double.init), q = candidate[i].map(Double.init)
            let lp = Self.logSumExp(p), lq = Self.logSumExp(q)
            baseNLL += lp - p[next[i]]
            nll += lq - q[next[i]]
            let k = (0..<3).reduce(0.0) { $0 + exp(p[$1] - lp) * ((p[$1] - lp) - (q[$1] - lq)) }
            kld += k
            klds.append(k)
        }
        #expect(summary.tokens == 3)
        #expect(abs(summary.referencePerplexity.value - exp(baseNLL / 3)) < 1e-9)
        #expect(abs(summary.candidatePerplexity.value - exp(nll / 3)) < 1e-9)
        #expect(abs(summary.logPerplexityRatio.value - (nll - baseNLL) / 3) < 1e-9)
        #expect(abs(summary.meanKLD.value - kld / 3) < 1e-9)
        #expect(abs(summary.medianKLD - klds.sorted()[1]) < 1e-12)
        #expect(abs(summary.sameTop.value - 2.0 / 3) < 1e-12)  // positions 1 and 2 agree; at 0 the top tokens are 2 and 1
        // Fewer than 11 tokens: llama.cpp reports no uncertainty.
        #expect(summary.meanKLD.uncertainty == 0)
    }

    @Test("a position with a NaN or infinite logit is counted and left out of every figure")
    func nonFinite() throws {
        var evaluation = TextEvaluation()
        let good: [Float] = [0, 1], bad: [Float] = [.nan, 1], infinite: [Float] = [.infinity, 0]
        good.withUnsafeBufferPointer { g in bad.withUnsafeBufferPointer { b in evaluation.add(reference: g, candidate: b, next: 1) } }
        infinite.withUnsafeBufferPointer { i in good.withUnsafeBufferPointer { g in evaluation.add(reference: i, candidate: g, next: 1) } }
        #expect(evaluation.summary == nil)
        good.withUnsafeBufferPointer { g in evaluation.add(reference: g, candidate: g, next: 1) }
        let summary = try #require(evaluation.summary)
        #expect(summary.tokens == 1 && summary.nonFiniteCandidateLogits == 1 && summary.nonFiniteReferenceLogits == 1)
        #expect(summary.meanKLD.value == 0)
    }

    @Test("chunks as llama.cpp cuts them: whole chunks only, BOS in place of each first token, the second half scored")
    func chunks() throws {
        let plan = try #require(TextChunks(tokens: Array(100..<111), context: 4, limit: nil, bos: 2))
        #expect(plan.chunks == [[2, 101, 102, 103], [2, 105, 106, 107]])
        #expect(plan.scoredFrom == 2 && plan.scoredPerChunk == 1)
        #expect(TextChunks(tokens: Array(0..<100), context: 8, limit: 3, bos: 2)?.chunks.count == 3)
        #expect(TextChunks(tokens: Array(0..<3), context: 4, limit: nil, bos: 2) == nil)
    }
}
