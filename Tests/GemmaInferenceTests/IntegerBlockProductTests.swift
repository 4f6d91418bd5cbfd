import CDotKernels
import Conversion
import Foundation
import GGUFFormat
import GemmaInference
import Quantization
import SourceAdapters
import TensorModel
import TensorTypes
import TestSupport
import Testing

/// Under llama.cpp numerics, Q8_0 rows and int8 records in groups of 32 multiply inputs quantized as ggml's Q8_0 with
/// each block's products summed in integers (what ggml's CPU backend does): checked against the exact dot product of
/// the decoded row with the input as lpk_round_q8_0 rounds it, summed in Double.
@Suite struct IntegerBlockProductTests {
    /// The worst error of `weight`'s product of `count` inputs under llama.cpp numerics against Σ w·round(x) in Double,
    /// relative to Σ |w·round(x)|.
    func worstError(_ weight: LinearWeight, count: Int) -> Double {
        let x = (0..<(count * weight.columns)).map { Float(sin(Double($0) * 0.37)) * (1 + Float($0 % 7)) }
        var rounded = [Float](repeating: 0, count: x.count)
        lpk_round_q8_0(x, &rounded, x.count)
        var y = [Float](repeating: .nan, count: count * weight.rows)
        weight.multiply(x, count: count, into: &y, scratch: Scratch(workers: 2, width: weight.columns))
        var row = [Float](repeating: 0, count: weight.columns), worst = 0.0
        for r in 0..<weight.rows {
            row.withUnsafeMutableBufferPointer { weight.decodeRow(r, into: $0.baseAddress!) }
            for t in 0..<count {
                var exact = 0.0, magnitude = 1e-30
                for c in 0..<weight.columns {
                    let product = Double(row[c]) * Double(rounded[t * weight.columns + c])
                    exact += product
                    magnitude += abs(product)
                }
                worst = max(worst, abs(Double(y[t * weight.rows + r]) - exact) / magnitude)
            }
        }
        return worst
    }

    @Test("Q8_0 rows of the 270M (real blocks) and the int8 records of a pack in groups of 32, one and two inputs")
    func modelRows() throws {
        let blocks = try ModelSources.open(Fixtures.path("gguf/gemma3-270m.blocks.gguf"))
        let q8_0 = blocks.tensors.filter { $0.encoding == .ggml(.q8_0) && $0.shape.rank == 2 }
        #expect(!q8_0.isEmpty)
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let tiny = try ModelSources.open(Fixtures.path("models/tiny-gemma3-f32"))
        _ = try PackConverter.convert(tiny, to: directory.path + "/m.lpk", options: .init(recipe: Recipe(core: .int8, ple: .int8, embed: .int8, group: 32)))
        let pack = try ModelSources.open(directory.path + "/m.lpk")
        let int8 = pack.tensors.filter {
            guard case .rows(let scheme) = $0.encoding else { return false }
            return $0.shape.rank == 2 && scheme.bits == .int8 && scheme.groupSize == 32
        }
        #expect(!int8.isEmpty)
        for (source, tensors) in [(blocks, q8_0), (pack, int8)] {
            for tensor in tensors {
                let weight = try LinearWeight(source: source, name: tensor.name, numerics: .llamaCpp)
                for count in 1...2 {
                    let worst = worstError(weight, count: count)
                    #expect(worst < 2e-6, "\(tensor.name), \(count) inputs: worst relative error \(worst)")
                }
            }
        }
    }

    @Test("lpk_q8_quantize gives lpk_round_q8_0's values; lpk_q8_dot_rows over 3 blocks (the portable loop) and 20 (AVX-512 VNNI where present), rows in fours and a remainder",
          arguments: [96, 640])
    func kernel(columns: Int) {
        let rows = 11, blocks = columns / 32, recordBytes = 2 * blocks + columns
        var records = [UInt8](repeating: 0, count: rows * recordBytes)
        var weights = [Float](repeating: 0, count: rows * columns)
        for r in 0..<rows {
            for b in 0..<blocks {
                let scale = Float16(Float(1 + (r * 7 + b * 3) % 13) / 997)
                withUnsafeBytes(of: scale.bitPattern.littleEndian) { records[r * recordBytes + 2 * b] = $0[0]; records[r * recordBytes + 2 * b + 1] = $0[1] }
                for j in 0..<32 {
                    let level = Int8(truncatingIfNeeded: (r * 31 + b * 17 + j * 29) % 256 - 128)
                    records[r * recordBytes + 2 * blocks + 32 * b + j] = UInt8(bitPattern: level)
                    weights[r * columns + 32 * b + j] = Float(scale) * Float(level)
                }
            }
        }
        let x = (0..<columns).map { Float(cos(Double($0) * 0.41)) * Float(1 + $0 % 5) }
        var rounded = [Float](repeating: 0, count: columns)
        lpk_round_q8_0(x, &rounded, columns)
        var quantized = [UInt8](repeating: 0, count: 2 * lpk_q8_input_bytes(columns))
        quantized.withUnsafeMutableBytes { room in
            for t in 0..<2 { lpk_q8_quantize(x, columns, room.baseAddress! + t * lpk_q8_input_bytes(columns)) }
            let levels = room.baseAddress!.assumingMemoryBound(to: Int8.self)
            let scales = (room.baseAddress! + columns).assumingMemoryBound(to: Float.self)
            #expect((0..<columns).allSatisfy { scales[$0 / 32] * Float(levels[$0]) == rounded[$0] })
        }
        #expect(lpk_q8_takes(LPK_ROWS_I8, columns, 32) == 1 && lpk_q8_takes(LPK_ROWS_I8, columns, 64) == 0)
        var out = [Float](repeating: .nan, count: 2 * rows)
        lpk_q8_dot_rows(LPK_ROWS_I8, records, recordBytes, rows, quantized, 2, columns, 32, 2, &out, rows)
        for t in 0..<2 {
            for r in 0..<rows {
                var exact = 0.0, magnitude = 1e-30
                for c in 0..<columns {
                    exact += Double(weights[r * columns + c]) * Double(rounded[c])
                    magnitude += abs(Double(weights[r * columns + c]) * Double(rounded[c]))
                }
                #expect(abs(Double(out[t * rows + r]) - exact) / magnitude < 2e-6, "input \(t), row \(r): \(out[t * rows + r]) vs \(exact)")
            }
        }
    }
}
