import Foundation

/// What llama.cpp's `llama-perplexity --kl-divergence` reports, accumulated token by token over a text: each model's
/// perplexity, the KL divergence of the candidate's next-token distribution from the reference's, how often their
/// top tokens agree and how the probability of the right token moves, each with its uncertainty.
///
/// Definitions follow llama.cpp (tools/perplexity): the KLD of a token sums over the vocabulary entries whose
/// reference log-probability is above −16; uncertainties are standard errors of the mean (`sqrt(var / (N − 1))`);
/// percentiles interpolate linearly between sorted values.
public struct TextEvaluation: Sendable {
    private var count = 0, sameTop = 0, nonFiniteReference = 0, nonFiniteCandidate = 0
    private var sumNLL = 0.0, sumNLL2 = 0.0, sumBaseNLL = 0.0, sumBaseNLL2 = 0.0, sumCross = 0.0
    private var sumKLD = 0.0, sumKLD2 = 0.0, sumDeltaP = 0.0, sumDeltaP2 = 0.0, sumDeltaP4 = 0.0
    private var divergences: [Double] = [], deltaPs: [Double] = []

    public init() {}

    /// Tokens scored so far.
    public var tokens: Int { count }

    /// Adds one scored position: the two models' logits over the vocabulary and the token that actually came next.
    /// - Precondition: both rows have the same length, greater than `next`.
    public mutating func add(reference: UnsafeBufferPointer<Float>, candidate: UnsafeBufferPointer<Float>, next: Int) {
        record(Position(reference: reference, candidate: candidate, next: next))
    }

    /// Adds `next.count` scored positions: row i of `reference` and of `candidate` (`vocabulary` logits each) and the
    /// token that came after it. The positions are worked out on every core, then added in order: the same figures
    /// as adding them one at a time.
    /// - Precondition: both buffers hold `next.count` rows of `vocabulary` values, each next token below `vocabulary`.
    public mutating func add(reference: UnsafeBufferPointer<Float>, candidate: UnsafeBufferPointer<Float>, vocabulary: Int, next: [Int]) {
        precondition(reference.count == next.count * vocabulary && candidate.count == reference.count, "rows differ from the next tokens")
        let rows = Rows(reference: reference, candidate: candidate, positions: .allocate(capacity: next.count))
        defer { rows.positions.deallocate() }
        let stripes = min(next.count, ProcessInfo.processInfo.activeProcessorCount)
        DispatchQueue.concurrentPerform(iterations: stripes) { stripe in
            for row in stride(from: stripe, to: next.count, by: stripes) {
                let range = (row * vocabulary)..<((row + 1) * vocabulary)
                (rows.positions.baseAddress! + row).initialize(to: Position(reference: UnsafeBufferPointer(rebasing: rows.reference[range]),
                                                                            candidate: UnsafeBufferPointer(rebasing: rows.candidate[range]),
                                                                            next: next[row]))
            }
        }
        for position in rows.positions { record(position) }
    }

    /// The buffers the workers of one batch share. `@unchecked Sendable`: the logits are only read; stripe s writes
    /// only the positions of rows s, s + stripes, …
    private struct Rows: @unchecked Sendable {
        let reference, candidate: UnsafeBufferPointer<Float>
        let positions: UnsafeMutableBufferPointer<Position>
    }

    /// What one scored position adds.
    private struct Position {
        var nonFiniteReference = 0, nonFiniteCandidate = 0
        var sameTop = false
        var kld = 0.0, nll = 0.0, baseNLL = 0.0, deltaP = 0.0

        init(reference: UnsafeBufferPointer<Float>, candidate: UnsafeBufferPointer<Float>, next: Int) {
            precondition(reference.count == candidate.count && next >= 0 && next < reference.count, "rows differ or the token is outside them")
            nonFiniteReference = reference.reduce(0) { $0 + ($1.isFinite ? 0 : 1) }
            nonFiniteCandidate = candidate.reduce(0) { $0 + ($1.isFinite ? 0 : 1) }
            guard nonFiniteReference == 0, nonFiniteCandidate == 0 else { return }
            let (baseArg, baseLogSum) = TextEvaluation.logSumExp(reference)
            let (candidateArg, candidateLogSum) = TextEvaluation.logSumExp(candidate)
            for i in 0..<reference.count {
                let logP = Double(reference[i]) - baseLogSum
                guard logP > -16 else { continue }
                kld += exp(logP) * (logP - (Double(candidate[i]) - candidateLogSum))
            }
            nll = candidateLogSum - Double(candidate[next])
            baseNLL = baseLogSum - Double(reference[next])
            deltaP = exp(-nll) - exp(-baseNLL)
            sameTop = baseArg == candidateArg
        }
    }

    /// Adds a worked-out position to the sums (positions with non-finite logits only to their counts).
    private mutating func record(_ p: Position) {
        guard p.nonFiniteReference == 0, p.nonFiniteCandidate == 0 else {
            nonFiniteReference += p.nonFiniteReference
            nonFiniteCandidate += p.nonFiniteCandidate
            return
        }
        count += 1
        if p.sameTop { sameTop += 1 }
        sumNLL += p.nll; sumNLL2 += p.nll * p.nll
        sumBaseNLL += p.baseNLL; sumBaseNLL2 += p.baseNLL * p.baseNLL; sumCross += p.nll * p.baseNLL
        sumKLD += p.kld; sumKLD2 += p.kld * p.kld
        sumDeltaP += p.deltaP; sumDeltaP2 += p.deltaP * p.deltaP; sumDeltaP4 += p.deltaP * p.deltaP * p.deltaP * p.deltaP
        divergences.append(p.kld)
        deltaPs.append(p.deltaP)
    }

    /// (index of the first maximum, log Σ exp) of a row.
    private static func logSumExp(_ row: UnsafeBufferPointer<Float>) -> (Int, Double) {
        var maximum = -Float.infinity, argument = 0
        for i in 0..<row.count where row[i] > maximum {
            maximum = row[i]
            argument = i
        }
        var sum = 0.0
        for i in 0..<row.count { sum += exp(Double(row[i] - maximum)) }
        return (argument, Double(maximum) + log(sum))
    }

    /// A value and its uncertainty.
    public struct Estimate: Codable, Sendable, Equatable {
        public let value: Double
        public let uncertainty: Double
    }

    /// The figures of the tokens added so far.
    public struct Summary: Codable, Sendable, Equatable {
        /// Positions scored (positions whose logits were not all finite are counted below and left out).
        public let tokens: Int
        /// NaN or infinite logits met in each model's rows: any at all makes a verification fail.
        public let nonFiniteReferenceLogits: Int
        public let nonFiniteCandidateLogits: Int
        public let referencePerplexity: Estimate
        public let candidatePerplexity: Estimate
        /// Mean ln(PPL(candidate) / PPL(reference)).
        public let logPerplexityRatio: Estimate
        /// Correlation of the two models' per-token log-likelihoods.
        public let correlation: Double
        public let meanKLD: Estimate
        public let medianKLD: Double
        public let p90KLD: Double
        public let p95KLD: Double
        public let p99KLD: Double
        public let maxKLD: Double
        /// Fraction of positions whose top tokens agree.
        public let sameTop: Estimate
        /// Mean of p_candidate(next) − p_reference(next).
        public let meanDeltaP: Estimate
        /// RMS of that difference.
        public let rmsDeltaP: Estimate
    }

    /// Mean and standard error of the mean, llama.cpp's `mean_and_uncertainty`.
    private static func estimate(_ sum: Double, _ squares: Double, _ n: Int) -> Estimate {
        let mean = sum / Double(n), variance = squares / Double(n) - mean * mean
        return Estimate(value: mean, uncertainty: variance > 0 && n > 10 ? (variance / Double(n - 1)).squareRoot() : 0)
    }

    /// The value at fraction `f` of sorted `values`, interpolated as llama.cpp does.
    private static func percentile(_ sorted: [Double], _ f: Double) -> Double {
        guard let first = sorted.first, let last = sorted.last else { return .nan }
        if f <= 0 { return first }
        if f >= 1 { return last }
        let p = f * Double(sorted.count - 1), index = Int(p.rounded(.down)), fraction = p - Double(index)
        return (1 - fraction) * sorted[index] + fraction * sorted[min(index + 1, sorted.count - 1)]
    }

    /// The summary, or nil before any position with finite logits was added.
    public var summary: Summary? {
        guard count > 0 else { return nil }
        let n = Double(count)
        let nll = Self.estimate(sumNLL, sumNLL2, count), base = Self.estimate(sumBaseNLL, sumBaseNLL2, count)
        let covariance = count < 10 ? 0 : (sumCross / n - (sumNLL / n) * (sumBaseNLL / n)) / (n - 1)
        let candidatePPL = exp(nll.value), referencePPL = exp(base.value)
        let ratioVariance = max(0, nll.uncertainty * nll.uncertainty + base.uncertainty * base.uncertainty - 2 * covariance)
        let correlation = nll.uncertainty > 0 && base.uncertainty > 0 ? covariance / (nll.uncertainty * base.uncertainty) : 1
        let sortedKLD = divergences.sorted()
        let median = count % 2 == 1 ? sortedKLD[count / 2] : (sortedKLD[count / 2 - 1] + sortedKLD[count / 2]) / 2
        let same = Double(sameTop) / n
        let squaredDeltaP = Self.estimate(sumDeltaP2, sumDeltaP4, count)
        let rms = squaredDeltaP.value.squareRoot()
        return Summary(
            tokens: count, nonFiniteReferenceLogits: nonFiniteReference, nonFiniteCandidateLogits: nonFiniteCandidate,
            referencePerplexity: Estimate(value: referencePPL, uncertainty: referencePPL * base.uncertainty),
            candidatePerplexity: Estimate(value: candidatePPL, uncertainty: candidatePPL * nll.uncertainty),
            logPerplexityRatio: Estimate(value: nll.value - base.value, uncertainty: ratioVariance.squareRoot()),
            correlation: correlation,
            meanKLD: Self.estimate(sumKLD, sumKLD2, count), medianKLD: median,
            p90KLD: Self.percentile(sortedKLD, 0.90), p95KLD: Self.percentile(sortedKLD, 0.95),
            p99KLD: Self.percentile(sortedKLD, 0.99), maxKLD: sortedKLD.last ?? 0,
            sameTop: Estimate(value: same, uncertainty: count > 1 ? (same * (1 - same) / (n - 1)).squareRoot() : 0),
            meanDeltaP: Self.estimate(sumDeltaP, sumDeltaP2, count),
            rmsDeltaP: Estimate(value: rms, uncertainty: rms > 0 ? 0.5 / rms * squaredDeltaP.uncertainty : 0))
    }
}

/// How llama.cpp's perplexity tool cuts a text: chunks of `context` tokens, each starting afresh with the BOS token in
/// place of its first token, the first half of each chunk context only, the second half scored (each position
/// predicting the next token, the last token of a chunk only predicted).
public struct TextChunks: Sendable, Equatable {
    /// Tokens per chunk.
    public let context: Int
    /// The chunks, each `context` tokens with its first replaced by BOS.
    public let chunks: [[Int]]

    /// Cuts `tokens` (the whole text, tokenized) into at most `limit` chunks of `context` tokens.
    /// - Returns: nil when the text has fewer than `context` tokens or `context` is below 4.
    public init?(tokens: [Int], context: Int, limit: Int?, bos: Int) {
        guard context >= 4 else { return nil }
        let available = tokens.count / context
        let count = min(available, limit ?? available)
        guard count >= 1 else { return nil }
        self.context = context
        chunks = (0..<count).map { index in
            var chunk = Array(tokens[(index * context)..<((index + 1) * context)])
            chunk[0] = bos
            return chunk
        }
    }

    /// The first scored position of every chunk: positions `scoredFrom ..< context − 1` are scored.
    public var scoredFrom: Int { context / 2 }

    /// Scored positions per chunk.
    public var scoredPerChunk: Int { context - 1 - scoredFrom }

    /// Scored positions run by one forward call of each model: their logits (this many rows of the vocabulary per
    /// model) are compared and dropped before the next block, so memory holds one block, not a chunk.
    public static let scoredBlock = 128
}
