/// How far quantized values are from the originals, accumulated over any number of rows.
public struct ErrorMetrics: Sendable, Codable, Equatable {
    public private(set) var count = 0
    private var sumSquaredError = 0.0
    private var sumSquaredReference = 0.0
    private var sumSquaredCandidate = 0.0
    private var dot = 0.0
    public private(set) var maxAbsoluteError = 0.0

    public init() {}

    /// Adds a row (or any run) of original and reconstructed values.
    public mutating func add(reference: UnsafeBufferPointer<Float>, candidate: UnsafeBufferPointer<Float>) {
        precondition(reference.count == candidate.count, "lengths differ")
        for i in 0..<reference.count {
            let r = Double(reference[i]), c = Double(candidate[i])
            let e = r - c
            sumSquaredError += e * e
            sumSquaredReference += r * r
            sumSquaredCandidate += c * c
            dot += r * c
            maxAbsoluteError = max(maxAbsoluteError, abs(e))
        }
        count += reference.count
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
