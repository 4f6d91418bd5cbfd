import TensorModel

/// RMS norms over rows of a model's hidden width, with its norm-weight offset (`x · (offset + w)`) and epsilon: the
/// norms around every Gemma sublayer.
struct RowNorm {
    let width: Int
    let offset: Float
    let epsilon: Float

    init(_ c: ModelConfiguration) {
        width = c.hiddenSize
        offset = c.normWeightOffset
        epsilon = Float(c.rmsNormEpsilon)
    }

    /// normed = rmsnorm(x) · (offset + w) for each of the first `rows` rows.
    func callAsFunction(_ x: [Float], into normed: inout [Float], weight: [Float], rows: Int) {
        normed.overwrite(with: x)
        apply(&normed, weight: weight, rows: rows)
    }

    /// x = rmsnorm(x) · (offset + w) in place, for each of the first `rows` rows (no weight: plain rmsnorm).
    func apply(_ x: inout [Float], weight: [Float]?, rows: Int) {
        Kernels.rmsNormRows(&x, rows: rows, width: width, weight: weight, offset: offset, epsilon: epsilon)
    }

    /// x += rmsnorm(y) · (offset + w) for each of the first `rows` rows; `y` is normed in place.
    func add(_ y: inout [Float], to x: inout [Float], weight: [Float], rows: Int) {
        apply(&y, weight: weight, rows: rows)
        precondition(x.count >= rows * width, "residual of \(x.count) values for \(rows) rows")
        for i in 0..<(rows * width) { x[i] += y[i] }
    }
}
