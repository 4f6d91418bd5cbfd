import Foundation
import Quantization
import TensorModel
import TensorTypes
import Testing

/// GPTQ and the weighted scale search, on seeded random matrices and correlated inputs.
@Suite struct GPTQTests {
    /// A seeded generator of normal-ish values (sum of uniforms).
    struct Noise {
        var state: UInt64
        mutating func next() -> Float {
            var sum: Float = 0
            for _ in 0..<4 {
                state ^= state << 13; state ^= state >> 7; state ^= state << 17
                sum += Float(state % 1_000_000) / 1_000_000 - 0.5
            }
            return sum
        }
    }

    /// Inputs whose columns are correlated and of uneven scale, as activations are.
    static func inputs(tokens: Int, columns: Int, seed: UInt64) -> [Float] {
        var noise = Noise(state: seed)
        let mixing = (0..<(columns * 4)).map { _ in noise.next() }
        var x = [Float](repeating: 0, count: tokens * columns)
        for t in 0..<tokens {
            let latent = (0..<4).map { _ in noise.next() }
            for j in 0..<columns {
                let shared = (0..<4).reduce(Float(0)) { $0 + latent[$1] * mixing[j * 4 + $1] }
                x[t * columns + j] = (shared + 0.3 * noise.next()) * (j % 7 == 0 ? 4 : 1)
            }
        }
        return x
    }

    /// Σ over tokens and rows of (W·x − Q·x)².
    static func outputError(_ w: [Float], _ q: [Float], rows: Int, columns: Int, inputs x: [Float]) -> Double {
        let tokens = x.count / columns
        var total = 0.0
        for t in 0..<tokens {
            for r in 0..<rows {
                var difference = 0.0
                for j in 0..<columns { difference += Double(w[r * columns + j] - q[r * columns + j]) * Double(x[t * columns + j]) }
                total += difference * difference
            }
        }
        return total
    }

    static func decode(_ records: [UInt8], rows: Int, columns: Int, scheme: RowScheme) -> [Float] {
        let stride = scheme.recordBytes(rowLength: columns)
        var out = [Float](repeating: 0, count: rows * columns)
        records.withUnsafeBytes { raw in
            out.withUnsafeMutableBufferPointer { o in
                for r in 0..<rows {
                    RowDequantizer.dequantize(UnsafeRawBufferPointer(rebasing: raw[(r * stride)..<((r + 1) * stride)]), scheme: scheme,
                                              into: UnsafeMutableBufferPointer(rebasing: o[(r * columns)..<((r + 1) * columns)]))
                }
            }
        }
        return out
    }

    @Test("GPTQ's output error over the calibration inputs is well below round-to-nearest's, for int4 groups of 32")
    func gptqBeatsNearest() throws {
        let rows = 48, columns = 64, scheme = RowScheme(bits: .int4, groupSize: 32)
        var noise = Noise(state: 99)
        let weights = (0..<(rows * columns)).map { _ in noise.next() * 0.1 }
        let x = Self.inputs(tokens: 256, columns: columns, seed: 5)
        let statistics = InputStatistics(columns: columns, collectsGram: true)
        x.withUnsafeBufferPointer { statistics.add($0, count: 256) }
        let stride = scheme.recordBytes(rowLength: columns)

        var nearest = [UInt8](repeating: 0, count: rows * stride)
        try weights.withUnsafeBufferPointer { w in
            try nearest.withUnsafeMutableBytes { out in
                for r in 0..<rows {
                    try RowQuantizer(scheme: scheme).quantize(UnsafeBufferPointer(rebasing: w[(r * columns)..<((r + 1) * columns)]),
                                                              into: UnsafeMutableRawBufferPointer(rebasing: out[(r * stride)..<((r + 1) * stride)]))
                }
            }
        }
        let (factor, dead) = try GPTQ.inverseFactor(statistics)
        var updated = weights
        var gptq = [UInt8](repeating: 0, count: rows * stride)
        try gptq.withUnsafeMutableBytes { out in
            try GPTQ.quantize(&updated, rows: rows, columns: columns, factor: factor, dead: dead, quantizer: RowQuantizer(scheme: scheme),
                              importance: statistics.importance, search: true, into: out, stride: stride)
        }
        let nearestError = Self.outputError(weights, Self.decode(nearest, rows: rows, columns: columns, scheme: scheme), rows: rows, columns: columns, inputs: x)
        let gptqError = Self.outputError(weights, Self.decode(gptq, rows: rows, columns: columns, scheme: scheme), rows: rows, columns: columns, inputs: x)
        #expect(gptqError < 0.7 * nearestError, "GPTQ \(gptqError) vs nearest \(nearestError)")
    }

    @Test("the inverse factor U satisfies Uᵀ·U·H = I for the damped Hessian")
    func inverseFactor() throws {
        let columns = 24
        let x = Self.inputs(tokens: 200, columns: columns, seed: 3)
        let statistics = InputStatistics(columns: columns, collectsGram: true)
        x.withUnsafeBufferPointer { statistics.add($0, count: 200) }
        let (u, dead) = try GPTQ.inverseFactor(statistics, damping: 0.01)
        #expect(!dead.contains(true))
        let gram = try #require(statistics.gram)
        var h = (0..<(columns * columns)).map { gram[min($0 / columns, $0 % columns) * columns + max($0 / columns, $0 % columns)] / 200 }
        let damp = 0.01 * (0..<columns).reduce(0.0) { $0 + h[$1 * columns + $1] } / Double(columns)
        for i in 0..<columns { h[i * columns + i] += damp }
        for i in 0..<columns {
            for j in 0..<columns {
                var product = 0.0  // (Uᵀ U H)[i][j]
                for k in 0..<columns {
                    var utu = 0.0
                    for m in 0..<columns { utu += Double(u[m * columns + i]) * Double(u[m * columns + k]) }
                    product += utu * h[k * columns + j]
                }
                #expect(abs(product - (i == j ? 1 : 0)) < 2e-3, "(\(i), \(j)) = \(product)")
            }
        }
    }

    @Test("the weighted scale search never does worse than max/7 on the error it weighs, and uses level −8")
    func scaleSearch() throws {
        var noise = Noise(state: 17)
        let scheme = RowScheme(bits: .int4, groupSize: 32)
        var usedMinimum = false
        for trial in 0..<50 {
            let row = (0..<32).map { _ in noise.next() }
            let importance = (0..<32).map { j in Float(1 + (j + trial) % 5) }
            func error(_ rounding: Recipe.Rounding) throws -> Float {
                var record = [UInt8](repeating: 0, count: scheme.recordBytes(rowLength: 32))
                try row.withUnsafeBufferPointer { r in
                    try importance.withUnsafeBufferPointer { i in
                        try record.withUnsafeMutableBytes { try RowQuantizer(scheme: scheme, rounding: rounding).quantize(r, importance: i, into: $0) }
                    }
                }
                if rounding == .scaleSearch { usedMinimum = usedMinimum || record[2...].contains { $0 & 0xF == 0 || $0 >> 4 == 0 } }
                let decoded = Self.decode(record, rows: 1, columns: 32, scheme: scheme)
                let sigma2 = row.reduce(0) { $0 + $1 * $1 } / 32
                return (0..<32).reduce(0) { $0 + importance[$1] * (sigma2 + row[$1] * row[$1]).squareRoot() * (row[$1] - decoded[$1]) * (row[$1] - decoded[$1]) }
            }
            let searched = try error(.scaleSearch), nearest = try error(.nearest)
            #expect(searched <= nearest * 1.0001)
        }
        #expect(usedMinimum)
    }
}
