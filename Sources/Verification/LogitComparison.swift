import Foundation

/// How far a candidate's next-token distributions are from a reference's, in the terms llama.cpp's
/// `--kl-divergence` reports (mean/median/p99/max KLD, "same top p"), plus logit cosine and absolute differences.
public struct LogitComparison: Codable, Sendable, Equatable {
    public let positions: Int
    public let meanKLD: Double
    public let medianKLD: Double
    public let p99KLD: Double
    public let maxKLD: Double
    /// Fraction of positions whose argmax agrees.
    public let top1Agreement: Double
    /// Mean over positions of the cosine between the two logit vectors.
    public let meanLogitCosine: Double
    public let maxAbsoluteDifference: Double
    public let meanAbsoluteDifference: Double
    /// RMS over positions of p_candidate(top reference token) − p_reference(top reference token).
    public let rmsDeltaP: Double
    /// Logits that are NaN or infinite, in the reference and in the candidate: positions holding one are left out of
    /// every other figure, and any at all makes a verification fail.
    public let nonFiniteReferenceLogits: Int
    public let nonFiniteCandidateLogits: Int

    /// Compares row by row: `reference` and `candidate` hold `positions × vocabulary` logits.
    public init(reference: [Float], candidate: [Float], vocabulary: Int) {
        precondition(reference.count == candidate.count && vocabulary > 0 && reference.count % vocabulary == 0, "shapes differ")
        var accumulator = Accumulator(vocabulary: vocabulary)
        reference.withUnsafeBufferPointer { r in candidate.withUnsafeBufferPointer { c in accumulator.add(reference: r, candidate: c) } }
        self = accumulator.comparison
    }

    private init(_ a: Accumulator) {
        let sorted = a.divergences.sorted()
        func percentile(_ q: Double) -> Double {
            guard !sorted.isEmpty else { return 0 }
            return sorted[min(sorted.count - 1, Int((q * Double(sorted.count - 1)).rounded()))]
        }
        let compared = sorted.count
        positions = a.positions
        nonFiniteReferenceLogits = a.nonFiniteReference
        nonFiniteCandidateLogits = a.nonFiniteCandidate
        meanKLD = compared == 0 ? 0 : a.divergences.reduce(0, +) / Double(compared)
        medianKLD = percentile(0.5)
        p99KLD = percentile(0.99)
        maxKLD = sorted.last ?? 0
        top1Agreement = compared == 0 ? (positions == 0 ? 1 : 0) : Double(a.agreements) / Double(compared)
        meanLogitCosine = compared == 0 ? (positions == 0 ? 1 : 0) : a.cosineSum / Double(compared)
        maxAbsoluteDifference = a.maxAbsolute
        meanAbsoluteDifference = compared == 0 ? 0 : a.absoluteSum / Double(compared * a.vocabulary)
        rmsDeltaP = compared == 0 ? 0 : (a.deltaSquares / Double(compared)).squareRoot()
    }

    /// A comparison built a batch of positions at a time, so that a long run's logits need not all be held: each
    /// batch's positions are worked out on every core, then folded in position order, so the figures do not depend
    /// on how the positions were batched.
    public struct Accumulator: Sendable {
        public let vocabulary: Int
        fileprivate var positions = 0, agreements = 0, nonFiniteReference = 0, nonFiniteCandidate = 0
        fileprivate var divergences: [Double] = []
        fileprivate var cosineSum = 0.0, maxAbsolute = 0.0, absoluteSum = 0.0, deltaSquares = 0.0

        public init(vocabulary: Int) {
            precondition(vocabulary > 0, "an empty vocabulary")
            self.vocabulary = vocabulary
        }

        /// The comparison of every position added so far.
        public var comparison: LogitComparison { LogitComparison(self) }

        /// Adds the positions of `reference` and `candidate`: the same number of rows of `vocabulary` logits each.
        public mutating func add(reference: UnsafeBufferPointer<Float>, candidate: UnsafeBufferPointer<Float>) {
            precondition(reference.count == candidate.count && reference.count % vocabulary == 0, "shapes differ")
            let count = reference.count / vocabulary
            guard count > 0 else { return }
            let rows = Rows(reference: reference, candidate: candidate, positions: .allocate(capacity: count))
            defer { rows.positions.deallocate() }
            let stripes = min(count, ProcessInfo.processInfo.activeProcessorCount), vocabulary = vocabulary
            DispatchQueue.concurrentPerform(iterations: stripes) { stripe in
                for row in stride(from: stripe, to: count, by: stripes) {
                    let range = (row * vocabulary)..<((row + 1) * vocabulary)
                    (rows.positions.baseAddress! + row).initialize(to: Position(UnsafeBufferPointer(rebasing: rows.reference[range]),
                                                                                UnsafeBufferPointer(rebasing: rows.candidate[range])))
                }
            }
            for position in rows.positions { record(position) }
        }

        private mutating func record(_ p: Position) {
            positions += 1
            nonFiniteReference += p.nonFiniteReference
            nonFiniteCandidate += p.nonFiniteCandidate
            guard p.nonFiniteReference == 0, p.nonFiniteCandidate == 0 else { return }
            divergences.append(p.kld)
            if p.sameTop { agreements += 1 }
            cosineSum += p.cosine
            maxAbsolute = max(maxAbsolute, p.maxAbsolute)
            absoluteSum += p.absoluteSum
            deltaSquares += p.deltaP * p.deltaP
        }
    }

    /// The buffers the workers of one batch share. `@unchecked Sendable`: the logits are only read; stripe s writes
    /// only the positions of rows s, s + stripes, …
    private struct Rows: @unchecked Sendable {
        let reference, candidate: UnsafeBufferPointer<Float>
        let positions: UnsafeMutableBufferPointer<Position>
    }

    /// What one position adds (a position with a non-finite logit adds only its count of them).
    private struct Position {
        var nonFiniteReference = 0, nonFiniteCandidate = 0
        var sameTop = false
        var kld = 0.0, cosine = 0.0, maxAbsolute = 0.0, absoluteSum = 0.0, deltaP = 0.0

        /// In double precision, with one exponential per logit of each row: p_i = e_i / Σe (e_i = exp(r_i − max r)),
        /// log p_i = r_i − log Σ exp r, the candidate's likewise.
        init(_ r: UnsafeBufferPointer<Float>, _ c: UnsafeBufferPointer<Float>) {
            nonFiniteReference = r.reduce(0) { $0 + ($1.isFinite ? 0 : 1) }
            nonFiniteCandidate = c.reduce(0) { $0 + ($1.isFinite ? 0 : 1) }
            guard nonFiniteReference == 0, nonFiniteCandidate == 0 else { return }
            let (maxR, topP) = Self.maximum(r), (maxC, topQ) = Self.maximum(c)
            var sumR = 0.0, sumC = 0.0, dot = 0.0, normR = 0.0, normC = 0.0
            let kld = withUnsafeTemporaryAllocation(of: Double.self, capacity: r.count) { e in
                for i in 0..<r.count {
                    let a = Double(r[i]), b = Double(c[i])
                    e[i] = exp(a - maxR)
                    sumR += e[i]
                    sumC += exp(b - maxC)
                    dot += a * b
                    normR += a * a
                    normC += b * b
                    let difference = abs(a - b)
                    maxAbsolute = max(maxAbsolute, difference)
                    absoluteSum += difference
                }
                let logR = maxR + log(sumR), logC = maxC + log(sumC)
                var kld = 0.0
                for i in 0..<r.count { kld += e[i] / sumR * ((Double(r[i]) - logR) - (Double(c[i]) - logC)) }
                deltaP = exp(Double(c[topP]) - logC) - exp(Double(r[topP]) - logR)
                return kld
            }
            self.kld = max(0, kld)
            sameTop = topP == topQ
            cosine = normR == 0 || normC == 0 ? 1 : dot / (normR * normC).squareRoot()
        }

        /// The largest logit and the first index holding it.
        private static func maximum(_ x: UnsafeBufferPointer<Float>) -> (Double, Int) {
            var maximum = -Double.infinity, argmax = 0
            for i in 0..<x.count where Double(x[i]) > maximum {
                maximum = Double(x[i])
                argmax = i
            }
            return (maximum, argmax)
        }
    }
}
