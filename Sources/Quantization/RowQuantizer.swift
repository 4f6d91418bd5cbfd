import ByteIO
import CDotKernels
import TensorModel
import TensorTypes

/// Quantizes rows of floats into LayerPack row records (Formats/lpk.md §5).
///
/// A record is `groups × f16 scale` followed by the values: int8 as signed bytes; int4 as offset-binary nibbles
/// (`q + 8`), element `2i` in the low nibble of byte `i` and `2i + 1` in the high nibble; int2 as offset-binary
/// pairs of bits (`q + 2`), element `4i + k` in bits `2k…2k+1` of byte `i`. Scales are chosen by the
/// recipe's ``Recipe/Rounding`` (``GroupScale``), weighting each column's error by an importance when one is given
/// (the mean square of the inputs that column multiplies, as llama.cpp's importance matrix holds).
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

    /// Quantizes `row` into `record` (exactly ``RowScheme/recordBytes(rowLength:)`` bytes). `importance`, when given,
    /// holds one non-negative weight per column: the scale search then minimises the error weighted as llama.cpp's
    /// `quantize_row_q4_0_impl` weights it, `importance_j · sqrt(σ² + w_j²)` with σ² the row's mean square.
    /// - Precondition: `scheme.accepts(rowLength: row.count)`, `record.count` is the record size, and `importance`
    ///   (when given) has `row.count` values.
    public func quantize(_ row: UnsafeBufferPointer<Float>, importance: UnsafeBufferPointer<Float>? = nil,
                         into record: UnsafeMutableRawBufferPointer) throws(Failure) {
        let length = row.count
        precondition(scheme.accepts(rowLength: length) && record.count == scheme.recordBytes(rowLength: length), "record size")
        precondition(importance.map { $0.count == length } ?? true, "one importance per column")
        for index in 0..<length where !row[index].isFinite { throw .nonFinite(index: index) }
        let groupLength = scheme.columnsPerGroup(rowLength: length)
        try withUnsafeTemporaryAllocation(of: Float.self, capacity: importance == nil ? 0 : length) { (weights) throws(Failure) in
            let weighted = searchWeights(row, importance: importance, into: weights)
            for group in 0..<scheme.groups(rowLength: length) {
                let range = (group * groupLength)..<((group + 1) * groupLength)
                let values = UnsafeBufferPointer(rebasing: row[range])
                let scale: Float = switch rounding {
                case .nearest: GroupScale.nearest(values, bits: scheme.bits)
                case .scaleSearch, .gptq: GroupScale.search(values, weights: weighted.map { UnsafeBufferPointer(rebasing: $0[range]) }, bits: scheme.bits)
                }
                try store(values, scale: scale, group: group, columns: range, rowLength: length, record: record)
            }
        }
    }

    /// Why a row of a batch could not be quantized: the row (counted from the batch's first) and the reason.
    public struct RowFailure: Error {
        public let row: Int
        public let failure: Failure
    }

    /// Quantizes a batch of rows of `rowLength` values (`rows` holds a whole number of them) into records `stride` bytes
    /// apart from the start of `records`, the same bytes ``quantize(_:importance:into:)`` writes row by row, and adds
    /// their error (against the values a reader decodes) to `metrics`, in one vectorized pass per row. The scale search
    /// runs over all the batch's groups at once (`lpk_search_scales`), so rows of fewer than sixteen groups cost no more
    /// per group than long ones. `scratch` holds `rows.count` floats (the search's weights when there are importances).
    public func quantize(rows: UnsafeBufferPointer<Float>, rowLength: Int, importance: UnsafeBufferPointer<Float>? = nil,
                         into records: UnsafeMutableRawBufferPointer, stride: Int, measuring metrics: inout ErrorMetrics,
                         scratch: UnsafeMutableBufferPointer<Float>) throws(RowFailure) {
        precondition(rowLength > 0 && rows.count % rowLength == 0 && scheme.accepts(rowLength: rowLength), "whole rows of a length the scheme takes")
        precondition(importance.map { $0.count == rowLength } ?? true, "one importance per column")
        let count = rows.count / rowLength, recordBytes = scheme.recordBytes(rowLength: rowLength)
        guard count > 0 else { return }
        precondition(records.count >= (count - 1) * stride + recordBytes && scratch.count >= rows.count, "room for every record")
        func row(_ index: Int) -> UnsafeBufferPointer<Float> { UnsafeBufferPointer(rebasing: rows[(index * rowLength)..<((index + 1) * rowLength)]) }
        func record(_ index: Int) -> UnsafeMutablePointer<UInt8> { (records.baseAddress! + index * stride).assumingMemoryBound(to: UInt8.self) }
        let groupLength = scheme.columnsPerGroup(rowLength: rowLength), groupsPerRow = scheme.groups(rowLength: rowLength)
        let bits = Int32(scheme.bits.rawValue), searches = rounding != .nearest
        var weights: UnsafeBufferPointer<Float>?
        if importance != nil && searches {
            for index in 0..<count {
                let rowWeights = UnsafeMutableBufferPointer(rebasing: scratch[(index * rowLength)..<((index + 1) * rowLength)])
                _ = searchWeights(row(index), importance: importance, into: rowWeights)
            }
            weights = UnsafeBufferPointer(rebasing: scratch[0..<rows.count])
        }
        try withUnsafeTemporaryAllocation(of: Float.self, capacity: searches ? count * groupsPerRow : 0) { (scales) throws(RowFailure) in
            if searches { lpk_search_scales(rows.baseAddress!, weights?.baseAddress, count * groupsPerRow, groupLength, bits, scales.baseAddress!) }
            for index in 0..<count {
                var sums = lpk_error_sums()
                let result = searches
                    ? lpk_quantize_row_scaled(row(index).baseAddress!, scales.baseAddress! + index * groupsPerRow, rowLength, groupLength, bits,
                                              record(index), &sums)
                    : lpk_quantize_row(row(index).baseAddress!, rowLength, groupLength, bits, record(index), &sums)
                guard result >= 0 else {
                    metrics.add(sums, count: rowLength)
                    continue
                }
                let failed = UnsafeMutableRawBufferPointer(start: record(index), count: recordBytes)
                do throws(Failure) { try quantize(row(index), into: failed) }  // the same failure, named in Swift's terms
                catch { throw RowFailure(row: index, failure: error) }
                preconditionFailure("the kernel refused a row the Swift quantizer accepts")
            }
        }
    }

    /// The scale search's weight of each column, written into `weights` (`row.count` floats): llama.cpp's
    /// `importance_j · sqrt(σ² + w_j²)`, σ² the row's mean square; nil for the nearest rule or without importances.
    private func searchWeights(_ row: UnsafeBufferPointer<Float>, importance: UnsafeBufferPointer<Float>?,
                               into weights: UnsafeMutableBufferPointer<Float>) -> UnsafeBufferPointer<Float>? {
        guard let importance, rounding != .nearest else { return nil }
        var sumSquares: Float = 0
        for value in row { sumSquares += value * value }
        let sigma2 = sumSquares / Float(row.count)
        for i in 0..<row.count { weights[i] = importance[i] * (sigma2 + row[i] * row[i]).squareRoot() }
        return UnsafeBufferPointer(weights)
    }

    /// Writes group `group`'s scale as f16.
    /// - Returns: the stored scale (what a reader multiplies by).
    func storeScale(_ scale: Float, group: Int, record: UnsafeMutableRawBufferPointer) throws(Failure) -> Float {
        guard abs(scale) <= 65504, scale.isFinite else { throw .scaleOverflow(scale) }
        let half = FloatConversion.half(from: scale)
        record[2 * group] = UInt8(truncatingIfNeeded: half)
        record[2 * group + 1] = UInt8(truncatingIfNeeded: half >> 8)
        return FloatConversion.float(fromHalf: half)
    }

    /// Writes the level of column `column` of a row of `rowLength`.
    func storeLevel(_ q: Int, column: Int, rowLength: Int, record: UnsafeMutableRawBufferPointer) {
        store(q, column: column, valuesStart: 2 * scheme.groups(rowLength: rowLength), record: record)
    }

    /// Writes group `group`'s scale (as f16) and the levels of its values (columns `columns` of a row of
    /// `rowLength`) against the stored scale.
    /// - Returns: the stored scale (what a reader multiplies by).
    @discardableResult
    func store(_ values: UnsafeBufferPointer<Float>, scale: Float, group: Int, columns: Range<Int>, rowLength: Int,
               record: UnsafeMutableRawBufferPointer) throws(Failure) -> Float {
        let stored = try storeScale(scale, group: group, record: record)  // quantize against the scale the reader will see
        let inverse: Float = stored == 0 ? 0 : 1 / stored
        let valuesStart = 2 * scheme.groups(rowLength: rowLength)
        for (offset, column) in columns.enumerated() {
            store(GroupScale.level(values[offset], inverse, bits: scheme.bits), column: column, valuesStart: valuesStart, record: record)
        }
        return stored
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
        case .int2:
            let byte = valuesStart + column / 4, shift = UInt8(2 * (column % 4))
            record[byte] = (record[byte] & ~(3 << shift)) | (UInt8(q + 2) << shift)
        }
    }
}
