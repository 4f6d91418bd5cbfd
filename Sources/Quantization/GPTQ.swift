import CDotKernels
import Dispatch
import Foundation
import TensorTypes

/// GPTQ (Frantar et al. 2022): quantizes a matrix column by column and, after each column, spreads its rounding error
/// over the columns not yet quantized, through the inverse Hessian of the layer's inputs (`H = E[x·xᵀ]`), so that
/// the product `W·x` over calibration inputs moves as little as possible. Each group's scale is chosen when the
/// group is reached, from the weights as updated so far.
///
/// The matrix is the only thing held whole: the Hessian factor is `columns²` floats.
public enum GPTQ {
    /// Why the Hessian could not be used.
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// The upper Cholesky factor U of H⁻¹ (H⁻¹ = Uᵀ·U), H = gram / tokens with `damping` × its mean diagonal added
    /// (dead columns, never active, get 1). Row-major `columns × columns`, zero below the diagonal.
    /// - Returns: the factor, and which columns were dead.
    public static func inverseFactor(_ statistics: InputStatistics, damping: Float = 0.01) throws -> (factor: [Float], dead: [Bool]) {
        guard let gram = statistics.gram, statistics.tokens > 0 else { throw Failure(description: "no Gram matrix was collected") }
        let n = statistics.columns
        let scale = 1 / Double(statistics.tokens)
        // H reversed (P·H·P): the lower Cholesky factor L of P·H·P gives U = P·L⁻¹·P, upper, with H⁻¹ = Uᵀ·U.
        var reversed = [Float](repeating: 0, count: n * n)
        var dead = [Bool](repeating: false, count: n)
        var diagonalSum = 0.0
        for i in 0..<n {
            let value = gram[i * n + i] * scale
            dead[i] = value <= 0
            diagonalSum += dead[i] ? 0 : value
        }
        let damp = Float(damping) * Float(diagonalSum / Double(max(1, n - dead.filter { $0 }.count)))
        for i in 0..<n {
            for j in i..<n {
                var value = Float(gram[i * n + j] * scale)
                if i == j { value = dead[i] ? 1 : value + damp }
                if dead[i] || dead[j], i != j { value = 0 }
                reversed[(n - 1 - i) * n + (n - 1 - j)] = value
                reversed[(n - 1 - j) * n + (n - 1 - i)] = value
            }
        }
        var lower = try cholesky(reversed, n)
        let inverse = invertLower(&lower, n)
        var factor = [Float](repeating: 0, count: n * n)
        // inverse is stored transposed: inverse[j·n + i] = (L⁻¹)[i][j]. U[a][b] = (L⁻¹)[n−1−a][n−1−b].
        for a in 0..<n {
            for b in a..<n { factor[a * n + b] = inverse[(n - 1 - b) * n + (n - 1 - a)] }
        }
        return (factor, dead)
    }

    /// The lower Cholesky factor of symmetric positive definite `a` (row-major n × n).
    static func cholesky(_ a: [Float], _ n: Int) throws -> [Float] {
        var l = [Float](repeating: 0, count: n * n)
        try l.withUnsafeMutableBufferPointer { l in
            try a.withUnsafeBufferPointer { a in
                for i in 0..<n {
                    for j in 0...i {
                        let s = a[i * n + j] - (j == 0 ? 0 : lpk_dot_f32(l.baseAddress! + i * n, l.baseAddress! + j * n, j))
                        if i == j {
                            guard s > 0, s.isFinite else { throw Failure(description: "the damped Hessian is not positive definite at column \(i)") }
                            l[i * n + i] = s.squareRoot()
                        } else {
                            l[i * n + j] = s / l[j * n + j]
                        }
                    }
                }
            }
        }
        return l
    }

    /// L⁻¹ of lower-triangular `l`, stored transposed (row j holds column j of L⁻¹), columns computed in parallel.
    static func invertLower(_ l: inout [Float], _ n: Int) -> [Float] {
        var inverse = [Float](repeating: 0, count: n * n)
        l.withUnsafeBufferPointer { l in
            inverse.withUnsafeMutableBufferPointer { x in
                let shared = Shared(l: l.baseAddress!, x: x.baseAddress!)
                DispatchQueue.concurrentPerform(iterations: 2) { worker in
                    for j in stride(from: worker, to: n, by: 2) {
                        let column = shared.x + j * n
                        column[j] = 1 / shared.l[j * n + j]
                        guard j + 1 < n else { continue }
                        for i in (j + 1)..<n {
                            let dot = lpk_dot_f32(shared.l + i * n + j, column + j, i - j)
                            column[i] = -dot / shared.l[i * n + i]
                        }
                    }
                }
            }
        }
        return inverse
    }

    /// Quantizes `rows` rows of `weights` (row-major, `columns` each; updated in place by the error feedback) into
    /// row records `stride` bytes apart in `records`, with the factor of ``inverseFactor(_:damping:)``. Group scales
    /// are searched with `importance` weights (llama.cpp's `make_qx_quants`) when `search` is set, else nearest.
    public static func quantize(_ weights: inout [Float], rows: Int, columns: Int, factor: [Float], dead: [Bool],
                                quantizer: RowQuantizer, importance: [Float]?, search: Bool,
                                into records: UnsafeMutableRawBufferPointer, stride: Int) throws {
        let scheme = quantizer.scheme
        precondition(weights.count == rows * columns && factor.count == columns * columns && dead.count == columns, "shapes")
        let group = scheme.columnsPerGroup(rowLength: columns), recordBytes = scheme.recordBytes(rowLength: columns)
        let block = 16
        let failures = FirstFailure()
        let weighting = importance ?? []
        weights.withUnsafeMutableBufferPointer { w in
            factor.withUnsafeBufferPointer { u in weighting.withUnsafeBufferPointer { importance in
                let shared = Job(w: w.baseAddress!, u: u.baseAddress!, importance: importance.isEmpty ? nil : importance, records: records)
                DispatchQueue.concurrentPerform(iterations: (rows + block - 1) / block) { blockIndex in
                    let first = blockIndex * block, last = min(rows, first + block)
                    var scales = [Float](repeating: 0, count: block)
                    for j in 0..<columns {
                        if j % group == 0 {
                            for r in first..<last {
                                let row = shared.w + r * columns
                                for k in j..<(j + group) where dead[k] { row[k] = 0 }
                                let values = UnsafeBufferPointer(start: row + j, count: group)
                                let scale = search
                                    ? GroupScale.search(values, weights: shared.importance.map { UnsafeBufferPointer(rebasing: $0[j..<(j + group)]) },
                                                        bits: scheme.bits)
                                    : GroupScale.nearest(values, bits: scheme.bits)
                                let record = UnsafeMutableRawBufferPointer(rebasing: shared.records[(r * stride)..<(r * stride + recordBytes)])
                                do {
                                    scales[r - first] = try quantizer.storeScale(scale, group: j / group, record: record)
                                } catch {
                                    failures.record("row \(r): \(error)")
                                    scales[r - first] = 0
                                }
                            }
                        }
                        let pivot = shared.u[j * columns + j]
                        for r in first..<last {
                            let row = shared.w + r * columns
                            let scale = scales[r - first]
                            let level = GroupScale.level(row[j], scale == 0 ? 0 : 1 / scale, bits: scheme.bits)
                            let record = UnsafeMutableRawBufferPointer(rebasing: shared.records[(r * stride)..<(r * stride + recordBytes)])
                            quantizer.storeLevel(level, column: j, rowLength: columns, record: record)
                            let error = (row[j] - Float(level) * scale) / pivot
                            if j + 1 < columns { lpk_axpy(row + j + 1, shared.u + j * columns + j + 1, -error, columns - j - 1) }
                        }
                    }
                }
            } }
        }
        if let message = failures.message { throw Failure(description: message) }
    }
}

/// The buffers GPTQ's workers share. `@unchecked Sendable`: the factor is only read; worker b writes only the rows
/// of its block (of the weights and of the records); all outlive the workers.
private struct Job: @unchecked Sendable {
    let w: UnsafeMutablePointer<Float>
    let u: UnsafePointer<Float>
    let importance: UnsafeBufferPointer<Float>?
    let records: UnsafeMutableRawBufferPointer
}

/// The factors' buffers shared by the inversion workers. `@unchecked Sendable`: `l` is only read; worker w writes
/// only columns j ≡ w (mod 2) of `x`.
private struct Shared: @unchecked Sendable {
    let l: UnsafePointer<Float>
    let x: UnsafeMutablePointer<Float>
}

/// The first failure among concurrent workers. `@unchecked Sendable`: a lock guards the one mutable field.
private final class FirstFailure: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var message: String?
    func record(_ text: String) {
        lock.lock()
        if message == nil { message = text }
        lock.unlock()
    }
}
