import ByteIO
import TensorModel
import TensorTypes

/// Quantizes rows of floats into LayerPack row records (Formats/lpk.md §5).
///
/// A record is `groups × f16 scale` followed by the values: int8 as signed bytes; int4 as offset-binary nibbles
/// (`q + 8`), element `2i` in the low nibble of byte `i` and `2i + 1` in the high nibble. Scales are chosen by the
/// recipe's ``Recipe/Rounding``, optionally weighting each column's error by an importance (the mean square of the
/// inputs that column multiplies, as llama.cpp's importance matrix holds).
public struct RowQuantizer: Sendable {
    public let scheme: RowScheme
    public let rounding: Recipe.Rounding

    public init(scheme: RowScheme, rounding: Recipe.Rounding = .nearest) {
        self.scheme = scheme
        self.rounding = rounding
    }

    /// Why a row could not be quantized (the converter adds the file, tensor and row).
    public enum Failure: LayerPackError, Equatable {
        case scaleOverflow(Float)
        case nonFinite(index: Int)

        public var kind: Failure { self }
        public var path: String? { nil }
        public var location: ErrorLocation? { nil }
        public var message: String {
            switch self {
            case .scaleOverflow(let scale): "scale \(scale) does not fit in f16"
            case .nonFinite(let index): "non-finite value at column \(index)"
            }
        }
    }

    /// Quantizes `row` into `record` (exactly ``RowScheme/recordBytes(rowLength:)`` bytes). `importance`, when
    /// given, holds one non-negative weight per column: the scale search then minimises the weighted squared error.
    /// - Precondition: `scheme.accepts(rowLength: row.count)`, `record.count` is the record size, and `importance`
    ///   (when given) has `row.count` values.
    public func quantize(_ row: UnsafeBufferPointer<Float>, importance: UnsafeBufferPointer<Float>? = nil,
                         into record: UnsafeMutableRawBufferPointer) throws(Failure) {
        let length = row.count
        precondition(scheme.accepts(rowLength: length) && record.count == scheme.recordBytes(rowLength: length), "record size")
        precondition(importance.map { $0.count == length } ?? true, "one importance per column")
        let groupLength = scheme.columnsPerGroup(rowLength: length)
        let groups = scheme.groups(rowLength: length)
        let valuesStart = 2 * groups
        for index in 0..<length where !row[index].isFinite { throw .nonFinite(index: index) }
        for group in 0..<groups {
            let range = (group * groupLength)..<((group + 1) * groupLength)
            let scale = try chooseScale(row, importance, range)
            let half = FloatConversion.half(from: scale)
            record[2 * group] = UInt8(truncatingIfNeeded: half)
            record[2 * group + 1] = UInt8(truncatingIfNeeded: half >> 8)
            let stored = FloatConversion.float(fromHalf: half)  // quantize against the scale the reader will see
            let inverse: Float = stored == 0 ? 0 : 1 / stored
            for column in range {
                store(level(row[column], inverse), column: column, valuesStart: valuesStart, record: record)
            }
        }
    }

    /// The stored integer for `value` at `inverse` = 1 / scale: rounded to nearest, clamped to the width's range.
    @inline(__always)
    private func level(_ value: Float, _ inverse: Float) -> Int {
        max(scheme.bits.minValue, min(scheme.bits.maxValue, Int((value * inverse).rounded())))
    }

    @inline(__always)
    private func store(_ q: Int, column: Int, valuesStart: Int, record: UnsafeMutableRawBufferPointer) {
        switch scheme.bits {
        case .int8:
            record[valuesStart + column] = UInt8(bitPattern: Int8(q))
        case .int4:
            let byte = valuesStart + column / 2
            let nibble = UInt8(q + 8)
            record[byte] = column % 2 == 0 ? (record[byte] & 0xF0) | nibble : (record[byte] & 0x0F) | (nibble << 4)
        }
    }

    private func chooseScale(_ row: UnsafeBufferPointer<Float>, _ importance: UnsafeBufferPointer<Float>?,
                             _ range: Range<Int>) throws(Failure) -> Float {
        var amax: Float = 0
        for column in range { amax = max(amax, abs(row[column])) }
        let nearest = amax / Float(scheme.bits.maxLevel)
        var best = nearest
        if rounding == .scaleSearch && amax > 0, scheme.bits != .int8 {
            var bestError = squaredError(row, importance, range, scale: nearest)
            // Candidates amax / L for levels L from maxLevel − 1 to maxLevel + 2 in steps of 0.1 (values may then
            // reach the most negative level).
            let top = Float(scheme.bits.maxLevel)
            var level = top - 1
            while level <= top + 2.0001 {
                let candidate = amax / level
                let error = squaredError(row, importance, range, scale: candidate)
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

    private func squaredError(_ row: UnsafeBufferPointer<Float>, _ importance: UnsafeBufferPointer<Float>?,
                              _ range: Range<Int>, scale: Float) -> Float {
        let stored = FloatConversion.float(fromHalf: FloatConversion.half(from: scale))
        guard stored > 0 else { return .infinity }
        let inverse = 1 / stored
        var sum: Float = 0
        for column in range {
            let difference = row[column] - Float(level(row[column], inverse)) * stored
            sum += (importance?[column] ?? 1) * difference * difference
        }
        return sum
    }
}
