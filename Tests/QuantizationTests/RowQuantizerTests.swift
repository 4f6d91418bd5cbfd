import Quantization
import TensorModel
import TensorTypes
import Testing

@Suite struct RowQuantizerTests {
    /// A deterministic pseudo-random row (xorshift), with a few outliers.
    static func row(_ length: Int, seed: UInt64) -> [Float] {
        var state = seed | 1
        return (0..<length).map { index in
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            let uniform = Float(state % 1_000_000) / 1_000_000 - 0.5
            return index % 97 == 5 ? uniform * 8 : uniform
        }
    }

    static func roundTrip(_ row: [Float], _ scheme: RowScheme, _ rounding: Recipe.Rounding = .nearest) throws -> ([UInt8], [Float]) {
        var record = [UInt8](repeating: 0, count: scheme.recordBytes(rowLength: row.count))
        try row.withUnsafeBufferPointer { input in
            try record.withUnsafeMutableBytes { try RowQuantizer(scheme: scheme, rounding: rounding).quantize(input, into: $0) }
        }
        var decoded = [Float](repeating: 0, count: row.count)
        record.withUnsafeBytes { raw in decoded.withUnsafeMutableBufferPointer { RowDequantizer.dequantize(raw, scheme: scheme, into: $0) } }
        return (record, decoded)
    }

    static let schemes: [RowScheme] = [RowScheme(bits: .int8), .init(bits: .int8, groupSize: 32), .init(bits: .int4), .init(bits: .int4, groupSize: 64),
                          .init(bits: .int4, groupSize: 128), .init(bits: .int2), .init(bits: .int2, groupSize: 32)]

    @Test("each element is within half a step of its group's scale", arguments: schemes)
    func errorBound(scheme: RowScheme) throws {
        let row = Self.row(256, seed: 7)
        let (record, decoded) = try Self.roundTrip(row, scheme)
        let group = scheme.columnsPerGroup(rowLength: row.count)
        for (index, (original, value)) in zip(row, decoded).enumerated() {
            let g = index / group
            let scale = FloatConversion.float(fromHalf: UInt16(record[2 * g]) | UInt16(record[2 * g + 1]) << 8)
            #expect(abs(original - value) <= scale / 2 * 1.0001 + 1e-7, "element \(index)")
        }
    }

    @Test("the fast decoder equals the scalar reference bit for bit", arguments: schemes)
    func fastMatchesReference(scheme: RowScheme) throws {
        let row = Self.row(384, seed: 11)
        let (record, fast) = try Self.roundTrip(row, scheme)
        var reference = [Float](repeating: 0, count: row.count)
        record.withUnsafeBytes { raw in reference.withUnsafeMutableBufferPointer { RowDequantizer.dequantizeReference(raw, scheme: scheme, into: $0) } }
        #expect(fast == reference)
    }

    @Test("int4 nibble order: element 2i in the low nibble, offset binary; the scale is the f16 of max/7")
    func nibbleOrder() throws {
        let row: [Float] = [7, -7, 1, 0, -3, 5, 2, -1]
        let (record, decoded) = try Self.roundTrip(row, RowScheme(bits: .int4))
        #expect(Array(record[0..<2]) == [0x00, 0x3C])  // f16 1.0
        #expect(Array(record[2...]) == [0x1F, 0x89, 0xD5, 0x7A])  // (7+8)|(−7+8)<<4, (1+8)|(0+8)<<4, ...
        #expect(decoded == row)
    }

    @Test("int2 order: element 4i + k in bits 2k of byte i, offset binary (q + 2); the scale is the f16 of max|w|")
    func int2Order() throws {
        let row: [Float] = [1, -1, 0, 1, -1, 0, 0, 1]
        let (record, decoded) = try Self.roundTrip(row, RowScheme(bits: .int2))
        #expect(Array(record[0..<2]) == [0x00, 0x3C])  // f16 1.0
        // (1+2) | (−1+2)<<2 | (0+2)<<4 | (1+2)<<6 = 0xE7; (−1+2) | 2<<2 | 2<<4 | 3<<6 = 0xE9
        #expect(Array(record[2...]) == [0xE7, 0xE9])
        #expect(decoded == row)
    }

    @Test("int2 scale search uses the fourth level (−2) and beats the nearest rule")
    func int2Search() throws {
        let row = Self.row(1024, seed: 5)
        func error(_ rounding: Recipe.Rounding) throws -> Float {
            let (_, decoded) = try Self.roundTrip(row, RowScheme(bits: .int2, groupSize: 32), rounding)
            return zip(row, decoded).map { ($0 - $1) * ($0 - $1) }.reduce(0, +)
        }
        #expect(try error(.scaleSearch) < 0.8 * error(.nearest))
    }

    @Test("int8 rows store signed bytes after one f16 scale")
    func int8Layout() throws {
        let row: [Float] = [127, -127, 1, 0]
        let (record, decoded) = try Self.roundTrip(row, RowScheme(bits: .int8))
        #expect(record == [0x00, 0x3C, 0x7F, 0x81, 0x01, 0x00])
        #expect(decoded == row)
    }

    @Test("scale search lowers int4 error on real-looking rows")
    func scaleSearchHelps() throws {
        var nearest = ErrorMetrics(), searched = ErrorMetrics()
        for seed in 1...20 {
            let row = Self.row(512, seed: UInt64(seed))
            let scheme = RowScheme(bits: .int4, groupSize: 64)
            let (_, a) = try Self.roundTrip(row, scheme)
            let (_, b) = try Self.roundTrip(row, scheme, .scaleSearch)
            row.withUnsafeBufferPointer { r in
                a.withUnsafeBufferPointer { nearest.add(reference: r, candidate: $0) }
                b.withUnsafeBufferPointer { searched.add(reference: r, candidate: $0) }
            }
        }
        #expect(searched.rmse < nearest.rmse * 0.97)
    }

    @Test("all-zero rows, non-finite values and huge scales")
    func edgeCases() throws {
        let (_, zeros) = try Self.roundTrip([Float](repeating: 0, count: 64), RowScheme(bits: .int4))
        #expect(zeros.allSatisfy { $0 == 0 })
        #expect(throws: RowQuantizer.Failure.nonFinite(index: 1)) { try Self.roundTrip([1, .nan, 2, 3], RowScheme(bits: .int8)) }
        #expect(throws: RowQuantizer.Failure.self) { try Self.roundTrip([1e30, 1, 2, 3], RowScheme(bits: .int8)) }
    }

    @Test("a batch of rows gets the records row-by-row quantization writes, searched across row ends, weighted or not; a bad row is named",
          arguments: [RowScheme(bits: .int8, groupSize: 32), .init(bits: .int4, groupSize: 32), .init(bits: .int2, groupSize: 64), .init(bits: .int4)])
    func batches(scheme: RowScheme) throws {
        let rowLength = 640, count = 7  // 20 groups of 32 a row: the search's sixteen-group blocks straddle rows
        var rows = (0..<count).flatMap { Self.row(rowLength, seed: UInt64(40 + $0)) }
        let importance = (0..<rowLength).map { Float(1 + $0 % 13) / 7 }
        let recordBytes = scheme.recordBytes(rowLength: rowLength), stride = recordBytes + 3
        for rounding in [Recipe.Rounding.nearest, .scaleSearch] {
            for weighting in [nil, importance] {
                let quantizer = RowQuantizer(scheme: scheme, rounding: rounding)
                var batch = [UInt8](repeating: 0, count: count * stride), metrics = ErrorMetrics()
                var scratch = [Float](repeating: 0, count: rows.count)
                try rows.withUnsafeBufferPointer { input in try batch.withUnsafeMutableBytes { out in try scratch.withUnsafeMutableBufferPointer { scratch in
                    try (weighting ?? []).withUnsafeBufferPointer { weights in
                        try quantizer.quantize(rows: input, rowLength: rowLength, importance: weighting == nil ? nil : weights, into: out,
                                               stride: stride, measuring: &metrics, scratch: scratch)
                    }
                } } }
                for index in 0..<count {
                    var single = [UInt8](repeating: 0, count: recordBytes)
                    try rows[(index * rowLength)..<((index + 1) * rowLength)].withUnsafeBufferPointer { row in
                        try single.withUnsafeMutableBytes { out in
                            try (weighting ?? []).withUnsafeBufferPointer { weights in
                                try quantizer.quantize(row, importance: weighting == nil ? nil : weights, into: out)
                            }
                        }
                    }
                    #expect(Array(batch[(index * stride)..<(index * stride + recordBytes)]) == single,
                            "\(scheme) \(rounding), weighted \(weighting != nil), row \(index)")
                }
                #expect(metrics.rmse > 0)
            }
        }
        rows[4 * rowLength + 33] = .infinity
        for rounding in [Recipe.Rounding.nearest, .scaleSearch] {
            var batch = [UInt8](repeating: 0, count: count * stride), metrics = ErrorMetrics()
            var scratch = [Float](repeating: 0, count: rows.count)
            #expect(throws: RowQuantizer.RowFailure.self) {
                try rows.withUnsafeBufferPointer { input in try batch.withUnsafeMutableBytes { out in try scratch.withUnsafeMutableBufferPointer { scratch in
                    do throws(RowQuantizer.RowFailure) {
                        try RowQuantizer(scheme: scheme, rounding: rounding).quantize(rows: input, rowLength: rowLength, into: out, stride: stride,
                                                                                      measuring: &metrics, scratch: scratch)
                    } catch {
                        #expect(error.row == 4 && error.failure == .nonFinite(index: 33), "\(rounding)")
                        throw error
                    }
                } } }
            }
        }
    }

    @Test("schemes parse from their names and refuse what they cannot store")
    func schemeNames() {
        #expect(RowScheme("int4/g64") == RowScheme(bits: .int4, groupSize: 64))
        #expect(RowScheme("int8") == RowScheme(bits: .int8))
        #expect(RowScheme("int3") == nil)
        #expect(RowScheme("int4/g48") == nil)
        #expect(!RowScheme(bits: .int4, groupSize: 64).accepts(rowLength: 96))
        #expect(!RowScheme(bits: .int4).accepts(rowLength: 7))
        #expect(RowScheme(bits: .int4, groupSize: 32).recordBytes(rowLength: 64) == 2 * 2 + 32)
    }
}
