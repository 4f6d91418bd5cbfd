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
        let positions = reference.count / vocabulary
        var divergences: [Double] = []
        var agreements = 0, compared = 0
        var nonFiniteReference = 0, nonFiniteCandidate = 0
        var cosineSum = 0.0, maxAbsolute = 0.0, absoluteSum = 0.0, deltaSquares = 0.0
        reference.withUnsafeBufferPointer { r in candidate.withUnsafeBufferPointer { c in
            for position in 0..<positions {
                let base = position * vocabulary
                let badReference = (base..<(base + vocabulary)).reduce(0) { $0 + (r[$1].isFinite ? 0 : 1) }
                let badCandidate = (base..<(base + vocabulary)).reduce(0) { $0 + (c[$1].isFinite ? 0 : 1) }
                nonFiniteReference += badReference
                nonFiniteCandidate += badCandidate
                guard badReference == 0, badCandidate == 0 else { continue }
                compared += 1
                let (logP, topP) = Self.logSoftmax(r, base, vocabulary)
                let (logQ, topQ) = Self.logSoftmax(c, base, vocabulary)
                var kld = 0.0, dot = 0.0, normR = 0.0, normC = 0.0
                for i in 0..<vocabulary {
                    let p = exp(logP[i])
                    kld += p * (logP[i] - logQ[i])
                    let a = Double(r[base + i]), b = Double(c[base + i])
                    dot += a * b
                    normR += a * a
                    normC += b * b
                    let difference = abs(a - b)
                    maxAbsolute = max(maxAbsolute, difference)
                    absoluteSum += difference
                }
                divergences.append(max(0, kld))
                if topP == topQ { agreements += 1 }
                cosineSum += normR == 0 || normC == 0 ? 1 : dot / (normR * normC).squareRoot()
                let delta = exp(logQ[topP]) - exp(logP[topP])
                deltaSquares += delta * delta
            }
        } }
        let sorted = divergences.sorted()
        func percentile(_ q: Double) -> Double {
            guard !sorted.isEmpty else { return 0 }
            return sorted[min(sorted.count - 1, Int((q * Double(sorted.count - 1)).rounded()))]
        }
        self.positions = positions
        nonFiniteReferenceLogits = nonFiniteReference
        nonFiniteCandidateLogits = nonFiniteCandidate
        meanKLD = divergences.isEmpty ? 0 : divergences.reduce(0, +) / Double(divergences.count)
        medianKLD = percentile(0.5)
        p99KLD = percentile(0.99)
        maxKLD = sorted.last ?? 0
        top1Agreement = compared == 0 ? (positions == 0 ? 1 : 0) : Double(agreements) / Double(compared)
        meanLogitCosine = compared == 0 ? (positions == 0 ? 1 : 0) : cosineSum / Double(compared)
        maxAbsoluteDifference = maxAbsolute
        meanAbsoluteDifference = compared == 0 ? 0 : absoluteSum / Double(compared * vocabulary)
        rmsDeltaP = compared == 0 ? 0 : (deltaSquares / Double(compared)).squareRoot()
    }

    /// log softmax of one row in double precision, and the row's argmax.
    static func logSoftmax(_ x: UnsafeBufferPointer<Float>, _ base: Int, _ count: Int) -> ([Double], Int) {
        var maximum = -Double.infinity
        var argmax = 0
        for i in 0..<count where Double(x[base + i]) > maximum {
            maximum = Double(x[base + i])
            argmax = i
        }
        var sum = 0.0
        for i in 0..<count { sum += exp(Double(x[base + i]) - maximum) }
        let logSum = maximum + log(sum)
        return ((0..<count).map { Double(x[base + $0]) - logSum }, argmax)
    }
}
