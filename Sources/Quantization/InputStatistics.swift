import CDotKernels
import Dispatch

/// What a calibration saw of the inputs one matrix multiplies: the sum of squares of each input column (divided by the
/// token count, llama.cpp's importance matrix) and, when asked for, the Gram matrix Σ x·xᵀ of the inputs (what GPTQ
/// needs).
///
/// A class, filled on the calibrating thread; `@unchecked Sendable` because a conversion then only reads it.
public final class InputStatistics: @unchecked Sendable {
    public let columns: Int
    /// Input rows seen.
    public private(set) var tokens = 0
    /// Σ x_j² per column.
    public private(set) var sumSquares: [Double]
    /// Σ x·xᵀ, its upper triangle in a `columns × columns` row-major square (nil when not collected).
    public private(set) var gram: [Double]?
    private var transposed: [Float] = []

    public init(columns: Int, collectsGram: Bool) {
        self.columns = columns
        sumSquares = [Double](repeating: 0, count: columns)
        gram = collectsGram ? [Double](repeating: 0, count: columns * columns) : nil
    }

    /// Statistics read from a file that holds only importances (llama.cpp's imatrix): mean squares and a count.
    public init(importance: [Float], tokens: Int) {
        columns = importance.count
        self.tokens = max(1, tokens)
        sumSquares = importance.map { Double($0) * Double(max(1, tokens)) }
        gram = nil
    }

    /// Adds `count` input rows of ``columns`` values.
    /// - Precondition: `inputs` holds `count × columns` values.
    public func add(_ inputs: UnsafeBufferPointer<Float>, count: Int) {
        precondition(inputs.count >= count * columns, "inputs of \(inputs.count) values for \(count) rows of \(columns)")
        tokens += count
        for t in 0..<count {
            for j in 0..<columns {
                let x = Double(inputs[t * columns + j])
                sumSquares[j] += x * x
            }
        }
        guard gram != nil else { return }
        // Gram of the batch: transpose (one row per column) so each entry is one contiguous dot product.
        if transposed.count < count * columns { transposed = [Float](repeating: 0, count: count * columns) }
        transposed.withUnsafeMutableBufferPointer { xt in
            for t in 0..<count {
                for j in 0..<columns { xt[j * count + t] = inputs[t * columns + j] }
            }
        }
        let workers = 2, cols = columns
        transposed.withUnsafeBufferPointer { xt in
            gram!.withUnsafeMutableBufferPointer { g in
                let shared = GramJob(xt: xt.baseAddress!, gram: g.baseAddress!)
                DispatchQueue.concurrentPerform(iterations: workers) { worker in
                    lpk_gram_rows(shared.xt, count, cols, shared.gram, worker, workers)
                }
            }
        }
    }

    /// The mean square of each input column (llama.cpp's importance), or all ones before any input was seen.
    public var importance: [Float] {
        tokens == 0 ? [Float](repeating: 1, count: columns) : sumSquares.map { Float($0 / Double(tokens)) }
    }

    /// Merges another site's statistics of the same columns (the same inputs seen by two matrices count once).
    public func merge(_ other: InputStatistics) {
        precondition(other.columns == columns, "statistics of different widths")
        tokens += other.tokens
        for j in 0..<columns { sumSquares[j] += other.sumSquares[j] }
        if let otherGram = other.gram, gram != nil {
            for i in 0..<(columns * columns) { gram![i] += otherGram[i] }
        }
    }
}

/// The buffers the Gram workers share. `@unchecked Sendable`: `xt` is only read; worker w writes only rows i ≡ w
/// (mod workers) of `gram`; both outlive the workers.
private struct GramJob: @unchecked Sendable {
    let xt: UnsafePointer<Float>
    let gram: UnsafeMutablePointer<Double>
}
