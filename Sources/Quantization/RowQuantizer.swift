import TensorTypes

/// Quantizes rows of floats into LayerPack row records and back.
///
/// A record is `groups × f16 scale` followed by the values: int8 as signed bytes; int4 as offset-binary nibbles
/// (`q + 8`), element `2i` in the low nibble of byte `i` and `2i + 1` in the high nibble (Formats/lpk.md §5).
public struct RowQuantizer: Sendable {
    /// How scales are chosen.
    public enum Rounding: String, Sendable, Codable, CaseIterable {
        /// scale = max|w| / maxLevel, round to nearest (ggml's `quantize_row_q8_0_ref` rule).
        case nearest
        /// For int4, tries 31 scales around the nearest rule (max/6 … max/9) and keeps the one with the least
        /// squared error per group; int8 rows use the nearest rule (the search gains little at 8 bits).
        case scaleSearch = "scale-search"
    }

    public let scheme: QuantizationScheme
    public let rounding: Rounding

    public init(scheme: QuantizationScheme, rounding: Rounding = .nearest) {
        self.scheme = scheme
        self.rounding = rounding
    }

    /// Why a row could not be quantized.
    public enum Failure: Error, Equatable, CustomStringConvertible {
        case scaleOverflow(Float)
        case nonFinite(index: Int)

        public var description: String {
            switch self {
            case .scaleOverflow(let scale): "scale \(scale) does not fit in f16"
            case .nonFinite(let index): "non-finite value at column \(index)"
            }
        }
    }

    /// Quantizes `row` into `record` (exactly ``QuantizationScheme/recordBytes(rowLength:)`` bytes).
    /// - Precondition: `scheme.accepts(rowLength: row.count)` and `record.count` is the record size.
    public func quantize(_ row: UnsafeBufferPointer<Float>, into record: UnsafeMutableRawBufferPointer) throws(Failure) {
        let length = row.count
        precondition(scheme.accepts(rowLength: length) && record.count == scheme.recordBytes(rowLength: length), "record size")
        let groupLength = scheme.columnsPerGroup(rowLength: length)
        let groups = scheme.groups(rowLength: length)
        let valuesStart = 2 * groups
        for index in 0..<length where !row[index].isFinite { throw .nonFinite(index: index) }
        for group in 0..<groups {
            let range = (group * groupLength)..<((group + 1) * groupLength)
            let scale = try chooseScale(row, range)
            let half = FloatConversion.half(from: scale)
            record[2 * group] = UInt8(truncatingIfNeeded: half)
            record[2 * group + 1] = UInt8(truncatingIfNeeded: half >> 8)
            let stored = FloatConversion.float(fromHalf: half)  // quantize against the scale the reader will see
            let inverse: Float = stored == 0 ? 0 : 1 / stored
            for column in range {
                let q = max(scheme.minValue, min(scheme.maxLevel, Int((row[column] * inverse).rounded())))
                store(q, column: column, valuesStart: valuesStart, record: record)
            }
        }
    }

    @inline(__always)
    private func store(_ q: Int, column: Int, valuesStart: Int, record: UnsafeMutableRawBufferPointer) {
        if scheme.bits == 8 {
            record[valuesStart + column] = UInt8(bitPattern: Int8(q))
        } else {
            let byte = valuesStart + column / 2
            let nibble = UInt8(q + 8)
            record[byte] = column % 2 == 0 ? (record[byte] & 0xF0) | nibble : (record[byte] & 0x0F) | (nibble << 4)
        }
    }

    private func chooseScale(_ row: UnsafeBufferPointer<Float>, _ range: Range<Int>) throws(Failure) -> Float {
        var amax: Float = 0
        for column in range { amax = max(amax, abs(row[column])) }
        let nearest = amax / Float(scheme.maxLevel)
        var best = nearest
        if rounding == .scaleSearch && scheme.bits == 4 && amax > 0 {
            var bestError = squaredError(row, range, scale: nearest)
            // Candidates amax / L for levels L in [6, 9] in steps of 0.1 (values may then reach −8).
            let top = Float(scheme.maxLevel)
            var level = top - 1
            while level <= top + 2.0001 {
                let candidate = amax / level
                let error = squaredError(row, range, scale: candidate)
                if error < bestError {
                    bestError = error
                    best = candidate
                }
                level += 0.1
            }
        }
        guard best <= 65504 else { throw .scaleOverflow(best) }
        return best
    }

    private func squaredError(_ row: UnsafeBufferPointer<Float>, _ range: Range<Int>, scale: Float) -> Float {
        let stored = FloatConversion.float(fromHalf: FloatConversion.half(from: scale))
        guard stored > 0 else { return .infinity }
        let inverse = 1 / stored
        var sum: Float = 0
        for column in range {
            let q = Float(max(scheme.minValue, min(scheme.maxLevel, Int((row[column] * inverse).rounded()))))
            let difference = row[column] - q * stored
            sum += difference * difference
        }
        return sum
    }
}
