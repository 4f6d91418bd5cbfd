/// Sees the inputs a matrix multiplies: `count` rows of the matrix's column count, before the product runs. A
/// calibration attaches one to each ``LinearWeight`` to collect the statistics of its inputs (the mean square of each
/// column, as llama.cpp's importance matrix holds, and their Gram matrix, for GPTQ).
public protocol InputObserver: AnyObject {
    /// Called with `count` input rows, one after the other.
    func observe(_ inputs: UnsafeBufferPointer<Float>, count: Int)
}
