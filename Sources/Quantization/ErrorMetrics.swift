import CDotKernels

/// How far quantized values are from the originals, accumulated over any number of rows.
public struct ErrorMetrics: Sendable, Codable, Equatable {
    public private(set) var count = 0
    private var sumSquaredError = 0.0
    private var sumSquaredReference = 0.0
    private var sumSquaredCandidate = 0.0
    private var dot = 0.0
    public private(set) var maxAbsoluteError = 0.0

    public init() {}

    /// Adds a row (or any run) of original and reconstructed values. Sums run in `Float` over blocks of 256
    /// values and in `Double` across blocks, which keeps them exact enough and fast.
    public mutating func add(reference: UnsafeBufferPointer<Float>, candidate: UnsafeBufferPointer<Float>) {
        precondition(reference.count == candidate.count, "lengths differ")
        var start = 0
        while start < reference.count {
            let end = min(reference.count, start + 256)
            var error: Float = 0, ref: Float = 0, cand: Float = 0, product: Float = 0, worst: Float = 0
            for i in start..<end {
                let r = reference[i], c = candidate[i], e = r - c
                error += e * e
                ref += r * r
                cand += c * c
                product += r * c
                worst = max(worst, abs(e))
            }
            sumSquaredError += Double(error)
            sumSquaredReference += Double(ref)
            sumSquaredCandidate += Double(cand)
            dot += Double(product)
            maxAbsoluteError = max(maxAbsoluteError, Double(worst))
            start = end
        }
        count += reference.count
    }

    /// Adds the sums a C kernel accumulated over `count` values.
    mutating func add(_ sums: lpk_error_sums, count values: Int) {
        count += values
        sumSquaredError += sums.squared_error
        sumSquaredReference += sums.squared_reference
        sumSquaredCandidate += sums.squared_candidate
        dot += sums.dot
        maxAbsoluteError = max(maxAbsoluteError, sums.max_error)
    }

    /// Merges another accumulation (e.g. per tensor into per class).
    public mutating func merge(_ other: ErrorMetrics) {
        count += other.count
        sumSquaredError += other.sumSquaredError
        sumSquaredReference += other.sumSquaredReference
        sumSquaredCandidate += other.sumSquaredCandidate
        dot += other.dot
        maxAbsoluteError = max(maxAbsoluteError, other.maxAbsoluteError)
    }

    /// Root mean squared error.
    public var rmse: Double { count == 0 ? 0 : (sumSquaredError / Double(count)).squareRoot() }
    /// RMSE relative to the RMS of the reference.
    public var relativeRMSE: Double { sumSquaredReference == 0 ? 0 : (sumSquaredError / sumSquaredReference).squareRoot() }
    /// Cosine similarity of reference and candidate as vectors.
    public var cosine: Double {
        let norms = (sumSquaredReference * sumSquaredCandidate).squareRoot()
        return norms == 0 ? 1 : dot / norms
    }
}
