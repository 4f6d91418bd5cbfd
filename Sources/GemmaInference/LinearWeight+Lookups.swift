import CDotKernels
import TensorModel
import TensorTypes

extension LinearWeight {
    /// Fewest lookups worth handing to another thread: below this a batch is decoded on the caller's thread alone.
    static let lookupsPerThread = 8

    /// A batch of row lookups as the worker pool's threads see it: addresses and sizes only (no reference-counted
    /// object, whose count the threads would otherwise share).
    struct Lookups {
        let records: UnsafeRawPointer
        let encoding: TensorEncoding
        let recordBytes, columns: Int
        let rows: UnsafePointer<Int>
        let count, rowsPerPart: Int
        let outputs: UnsafeMutablePointer<Float>

        /// Entries `part × rowsPerPart ..< (part + 1) × rowsPerPart` of the batch, each fetching the next meanwhile.
        func run(part: Int) {
            let start = part * rowsPerPart, end = min(count, start + rowsPerPart)
            guard start < end else { return }
            if case .rows(let scheme) = encoding, scheme.bits != .int2 {
                lpk_decode_rows_fetching(scheme.bits == .int8 ? 8 : 4, records, recordBytes, rows + start, end - start,
                                         outputs + start * columns, columns, scheme.columnsPerGroup(rowLength: columns))
                return
            }
            for i in start..<end {
                let record = records + rows[i] * recordBytes, output = outputs + i * columns
                if i + 1 < end {
                    LinearWeight.decode(record, recordBytes, encoding, columns: columns, into: output,
                                        fetching: records + rows[i + 1] * recordBytes)
                } else {
                    LinearWeight.decode(record, recordBytes, encoding, columns: columns, into: output)
                }
            }
        }
    }
}
