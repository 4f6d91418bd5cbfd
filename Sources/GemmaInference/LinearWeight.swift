import ByteIO
import CDotKernels
import GGUFFormat
import TensorModel
import TensorTypes

/// A weight matrix [rows, columns] kept in its stored encoding: plain floats, ggml blocks or LayerPack row records.
///
/// Products decode one row at a time into a per-worker scratch row and take its dot product with every input, so a
/// quantized matrix is never expanded in memory; mapped weights are read straight from the file.
///
/// `@unchecked Sendable`: every stored property but ``observer`` is immutable after `init` (the storage enum holds an
/// array or a mapped view), so concurrent products read it safely; ``observer`` is set before products run (by a
/// calibration) and called only on the thread that starts a product.
public final class LinearWeight: @unchecked Sendable {
    public let name: String
    public let rows: Int
    public let columns: Int
    private enum Storage {
        case dense([Float])
        case mapped(ByteView, TensorEncoding, stride: Int)
    }
    private let storage: Storage
    private let inputRounding: InputRounding
    /// Whether the weight is read one row at a time (the PLE table), not multiplied: a token reads one of its rows.
    public let isLookupTable: Bool
    /// Sees the inputs of every product before it runs (calibration statistics); nil normally.
    public var observer: (any InputObserver)?
    /// For a lookup table whose source has block checksums: the blocks a row read must verify first.
    private var checksums: BlockChecksums?

    /// Loads `name` from `source`: F32 tensors are read into memory, everything else stays mapped. Under
    /// llama.cpp numerics, products round their input as llama.cpp does for this weight's type.
    ///
    /// A `lookup` table (the PLE table) is read one row at a time: where the source has block checksums it is not
    /// verified up front, and ``verifyRow(_:)`` checks each row's blocks the first time the row is read.
    public init(source: any TensorSource, name: String, numerics: Numerics = .float32, lookup: Bool = false) throws {
        let descriptor = try source.descriptor(name)
        self.name = name
        isLookupTable = lookup
        inputRounding = InputRounding(descriptor.encoding, numerics: numerics)
        rows = descriptor.shape.rank >= 2 ? descriptor.shape.rowCount : 1
        columns = descriptor.shape.rowLength
        switch descriptor.encoding {
        case .rows, .ggml, .plain(.bf16), .plain(.f16):
            let bytes: ByteView
            if lookup {
                let table = try source.lookupTable(name)
                bytes = table.bytes
                checksums = table.checksums
            } else {
                bytes = try source.storedBytes(name)
            }
            storage = .mapped(bytes, descriptor.encoding, stride: descriptor.byteCount / max(1, rows))
        default:
            storage = .dense(try source.floats(name))
        }
    }

    /// Verifies the blocks row `row` lies in against the source's block checksums, the first time they are read
    /// (nothing to do for weights without them).
    /// - Throws: ``BlockChecksums/Mismatch`` naming the file, the offset and the tensor.
    public func verifyRow(_ row: Int) throws {
        guard let checksums, case .mapped(_, _, let stride) = storage else { return }
        try checksums.verify((row * stride)..<((row + 1) * stride))
    }

    /// Asks the system to start reading row `row`'s pages (the whole checksum blocks it lies in, when the row will
    /// be verified) from storage now, in one request, instead of one page fault after another as it is read: for a
    /// table served from storage. Nothing to do for weights in memory.
    public func prefetchRow(_ row: Int) {
        guard case .mapped(let bytes, _, let stride) = storage else { return }
        var start = row * stride, end = (row + 1) * stride
        if let checksums {
            start = start / checksums.blockSize * checksums.blockSize
            end = min(bytes.count, (end + checksums.blockSize - 1) / checksums.blockSize * checksums.blockSize)
        }
        bytes.slice(offset: start, length: end - start)?.advise(.willNeed)
    }

    /// Decodes row `row` into `output` (`columns` floats) and asks the CPU meanwhile to bring row `next`'s bytes into
    /// its caches: for lookups, where the next row is known before the current one is decoded.
    public func decodeRow(_ row: Int, into output: UnsafeMutablePointer<Float>, fetching next: Int) {
        precondition(row >= 0 && row < rows && next >= 0 && next < rows, "\(name): rows \(row) and \(next) of \(rows)")
        guard case .mapped(let bytes, let encoding, let stride) = storage else { return decodeRow(row, into: output) }
        bytes.withUnsafeBytes { raw in
            LinearWeight.decode(raw.baseAddress! + row * stride, stride, encoding, columns: columns, into: output,
                                fetching: raw.baseAddress! + next * stride)
        }
    }

    /// Decodes rows `rows[i]` into `output + i × columns`, for a batch of lookups (a prompt's PLE records): each of
    /// the worker pool's threads takes a run of consecutive entries and decodes them one after another, fetching the
    /// next record while it decodes the current one. A lookup waits mostly on memory, so the threads' waits overlap.
    /// - Precondition: every row is in `0..<rows`, and `output` holds `rows.count × columns` values.
    public func decodeRows(_ rows: [Int], into output: UnsafeMutablePointer<Float>) {
        for row in rows { precondition(row >= 0 && row < self.rows, "\(name): row \(row) of \(self.rows)") }
        guard !rows.isEmpty, case .mapped(let bytes, let encoding, let stride) = storage else {
            for (i, row) in rows.enumerated() { decodeRow(row, into: output + i * columns) }  // floats in memory: copies
            return
        }
        // A part per thread of at least lookupsPerThread lookups: a small batch (one token's) stays on the caller's thread.
        let parts = max(1, min(WorkerPool.shared.participants, rows.count / LinearWeight.lookupsPerThread))
        bytes.withUnsafeBytes { raw in
            rows.withUnsafeBufferPointer { rows in
                let lookups = Lookups(records: raw.baseAddress!, encoding: encoding, recordBytes: stride, columns: columns,
                                      rows: rows.baseAddress!, count: rows.count,
                                      rowsPerPart: (rows.count + parts - 1) / parts, outputs: output)
                WorkerPool.shared.parallelFor(parts, .lookups(lookups))
            }
        }
    }

    /// Decodes one stored row as ``decode(_:_:_:columns:into:)`` does while the CPU brings the next record's bytes
    /// (`recordBytes` at `next`) into its caches: int8/int4 rows spread those requests over the decoding; other
    /// encodings ask for the whole record first.
    @inline(__always)
    static func decode(_ record: UnsafeRawPointer, _ recordBytes: Int, _ encoding: TensorEncoding, columns: Int,
                       into output: UnsafeMutablePointer<Float>, fetching next: UnsafeRawPointer) {
        if case .rows(let scheme) = encoding, scheme.bits != .int2 {
            lpk_decode_groups_fetching(scheme.bits == .int8 ? 8 : 4, record, output, columns,
                                       scheme.columnsPerGroup(rowLength: columns), next, recordBytes)
        } else {
            lpk_prefetch(next, recordBytes)
            decode(record, recordBytes, encoding, columns: columns, into: output)
        }
    }

    private init(name: String, rows: Int, columns: Int, storage: Storage, inputRounding: InputRounding, isLookupTable: Bool) {
        self.name = name
        self.rows = rows
        self.columns = columns
        self.storage = storage
        self.inputRounding = inputRounding
        self.isLookupTable = isLookupTable
    }

    /// How the weight is held: its stored encoding and bytes for a mapped weight, f32 and 4 bytes a value for one read
    /// into memory. A product reads all of those bytes.
    public var stored: (encoding: TensorEncoding, bytes: Int) {
        switch storage {
        case .dense(let values): (.plain(.f32), values.count * 4)
        case .mapped(let bytes, let encoding, _): (encoding, bytes.count)
        }
    }

    /// Rows `range` as a matrix of their own, sharing this one's storage (a stacked tensor's parts).
    public func rows(_ range: Range<Int>) -> LinearWeight {
        precondition(range.lowerBound >= 0 && range.upperBound <= rows, "rows \(range) of \(rows)")
        let part = "\(name)[\(range.lowerBound)..<\(range.upperBound)]"
        switch storage {
        case .dense(let values):
            return LinearWeight(name: part, rows: range.count, columns: columns,
                                storage: .dense(Array(values[(range.lowerBound * columns)..<(range.upperBound * columns)])),
                                inputRounding: inputRounding, isLookupTable: isLookupTable)
        case .mapped(let bytes, let encoding, let stride):
            let slice = bytes.slice(offset: range.lowerBound * stride, length: range.count * stride)!  // inside by the precondition
            return LinearWeight(name: part, rows: range.count, columns: columns, storage: .mapped(slice, encoding, stride: stride),
                                inputRounding: inputRounding, isLookupTable: isLookupTable)
        }
    }

    /// Maps every page of a mapped weight into this process now (``ByteView/AccessAdvice/populate``), so that the
    /// first product pays no page faults; nothing to do for weights in memory. For weights every token reads, not
    /// for lookup tables, which stay in storage until a row is asked for.
    public func mapIn() {
        if case .mapped(let bytes, _, _) = storage { bytes.advise(.populate) }
    }

    /// Tells the kernel rows will be read at random (no read-ahead), for lookup tables such as the PLE table.
    public func adviseRandomAccess() {
        if case .mapped(let bytes, _, _) = storage { bytes.advise(.random) }
    }

    /// Reads one byte of every page of a mapped weight, so that all its pages are resident in this process (a table
    /// held in RAM instead of read on demand); nothing to do for weights in memory.
    /// - Returns: the sum of the bytes read (so that the reads are kept).
    @inline(never) @discardableResult
    public func touchEveryPage() -> UInt8 {
        guard case .mapped(let bytes, _, _) = storage else { return 0 }
        var sum: UInt8 = 0
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                sum &+= raw[offset]
                offset += SystemPage.size
            }
        }
        return sum
    }

    /// The file offsets row `row` is read from, for mapped weights (nil for weights held in memory).
    public func fileRange(ofRow row: Int) -> Range<Int>? {
        guard case .mapped(let bytes, _, let stride) = storage else { return nil }
        return (bytes.fileOffset + row * stride)..<(bytes.fileOffset + (row + 1) * stride)
    }

    /// Decodes row `row` into `output` (`columns` floats).
    @inline(__always)
    public func decodeRow(_ row: Int, into output: UnsafeMutablePointer<Float>) {
        precondition(row >= 0 && row < rows, "\(name): row \(row) of \(rows)")
        switch storage {
        case .dense(let values):
            values.withUnsafeBufferPointer { output.update(from: $0.baseAddress! + row * columns, count: columns) }
        case .mapped(let bytes, let encoding, let stride):
            bytes.withUnsafeBytes { raw in LinearWeight.decode(raw.baseAddress! + row * stride, stride, encoding, columns: columns, into: output) }
        }
    }

    /// Decodes one stored row of `columns` values (`recordBytes` at `record`, in `encoding`) into `output`.
    @inline(__always)
    static func decode(_ record: UnsafeRawPointer, _ recordBytes: Int, _ encoding: TensorEncoding, columns: Int,
                       into output: UnsafeMutablePointer<Float>) {
        switch encoding {
        case .rows(let scheme):
            let group = scheme.columnsPerGroup(rowLength: columns)
            switch scheme.bits {
            case .int8: lpk_decode_i8_groups(record, output, columns, group)
            case .int4: lpk_decode_i4_groups(record, output, columns, group)
            case .int2: lpk_decode_i2_groups(record, output, columns, group)
            }
        case .ggml(.q8_0) where columns % 32 == 0: lpk_decode_q8_0(record, output, columns)
        case .ggml(.q5_0) where columns % 32 == 0: lpk_decode_q5_0(record, output, columns)
        case .ggml(.q4_0) where columns % 32 == 0: lpk_decode_q4_0(record, output, columns)
        case .ggml(.q4_K) where columns % 256 == 0: lpk_decode_q4_k(record, output, columns)
        case .ggml(.q6_K) where columns % 256 == 0: lpk_decode_q6_k(record, output, columns)
        case .ggml(let type):
            GGMLDequantizer.dequantize(type, UnsafeRawBufferPointer(start: record, count: recordBytes),
                                       into: UnsafeMutableBufferPointer(start: output, count: columns))
        case .plain(.bf16): lpk_decode_bf16(record, output, columns)
        case .plain(.f16): lpk_decode_f16(record, output, columns)
        case .plain: preconditionFailure("only 16-bit floats are mapped")
        case .file: preconditionFailure("files are not weights")
        case .mlx: preconditionFailure("MLX groups are dequantized when loaded, never mapped")
        }
    }

    /// y[t, r] = Σ_c W[r, c] · x[t, c] for the first `count` inputs of `columns` values in `x`; writes the first
    /// `count × rows` values of `y`. Rows are cut into pieces for the worker pool's threads; a piece that decodes rows
    /// does a chunk at a time into its own `scratch` rows.
    /// - Precondition: `x` holds at least `count × columns` values and `y` at least `count × rows`.
    public func multiply(_ x: [Float], count: Int, into y: inout [Float], scratch: Scratch) {
        precondition(count >= 0 && x.count >= count * columns && y.count >= count * rows,
                     "\(name): \(count) inputs need \(count * columns) values in and \(count * rows) out; have \(x.count) and \(y.count)")
        guard count > 0 else { return }
        x.withUnsafeBufferPointer { input in
            observer?.observe(UnsafeBufferPointer(rebasing: input[0..<(count * columns)]), count: count)
            y.withUnsafeMutableBufferPointer { output in multiply(input.baseAddress!, count: count, into: output.baseAddress!, scratch: scratch) }
        }
    }

    /// The product over raw buffers, whose sizes ``multiply(_:count:into:scratch:)`` has checked. The weight's storage
    /// is opened here, once, and the workers get its address and the scratch's: they touch no reference-counted
    /// object, whose count both threads would otherwise update (a cache line bounced between the cores per row).
    private func multiply(_ x: UnsafePointer<Float>, count: Int, into y: UnsafeMutablePointer<Float>, scratch: Scratch) {
        let inputs = round(x, count: count, scratch: scratch)
        func run(_ weights: Product.Weights) {
            let pieces = fusedPieces(count: count) ?? min(scratch.workers, max(1, rows / 64))
            let product = Product(weights: weights, rows: rows, columns: columns, inputs: inputs, outputs: y, count: count,
                                  rowsPerPiece: (rows + pieces - 1) / pieces, scratch: scratch.regions)
            WorkerPool.shared.parallelFor(pieces, .product(product))
        }
        switch storage {
        case .dense(let values): values.withUnsafeBufferPointer { run(.dense($0.baseAddress!)) }
        case .mapped(let bytes, let encoding, let stride): bytes.withUnsafeBytes { run(.mapped($0.baseAddress!, encoding, recordBytes: stride)) }
        }
    }

    /// Whether a product of `count` inputs is multiplied in place on the inputs as given: mapped rows with a dot-product
    /// kernel, at most ``fusedInputLimit`` inputs, no rounding of the inputs (which would take the shared scratch).
    func multipliesInPlace(count: Int) -> Bool {
        guard case .none = inputRounding else { return false }
        return fusedPieces(count: count) != nil
    }

    /// Calls `body` with this weight's product of `count` inputs at `inputs` into `outputs` and its number of pieces,
    /// the weight's storage open meanwhile.
    /// - Precondition: ``multipliesInPlace(count:)``.
    func withInPlaceProduct(_ inputs: UnsafeMutablePointer<Float>, count: Int, outputs: UnsafeMutablePointer<Float>, scratch: Scratch,
                            _ body: (Product, Int) -> Void) {
        guard case .mapped(let bytes, let encoding, let stride) = storage, let pieces = fusedPieces(count: count) else {
            preconditionFailure("\(name) is not multiplied in place")
        }
        bytes.withUnsafeBytes { raw in
            body(Product(weights: .mapped(raw.baseAddress!, encoding, recordBytes: stride), rows: rows, columns: columns, inputs: inputs,
                         outputs: outputs, count: count, rowsPerPiece: (rows + pieces - 1) / pieces, scratch: scratch.regions), pieces)
        }
    }

    /// For a product multiplied in place (which needs no scratch), how many pieces its rows are cut into: several per
    /// thread, so that a thread that starts late or runs slow leaves its share to the others instead of holding the
    /// product up. Nil for products that decode rows into a thread's scratch (one piece per thread).
    private func fusedPieces(count: Int) -> Int? {
        guard count <= LinearWeight.fusedInputLimit, case .mapped(_, let encoding, _) = storage,
              FusedKernel(encoding, columns: columns) != nil else { return nil }
        return max(1, min(WorkerPool.shared.participants * LinearWeight.piecesPerThread, rows / 64))
    }

    /// One product as the worker pool's threads see it: addresses and sizes only.
    struct Product {
        /// Where the weight's rows are: floats in memory, or mapped records of `recordBytes` in `encoding`.
        enum Weights {
            case dense(UnsafePointer<Float>)
            case mapped(UnsafeRawPointer, TensorEncoding, recordBytes: Int)
        }
        let weights: Weights
        let rows, columns: Int
        let inputs: UnsafeMutablePointer<Float>, outputs: UnsafeMutablePointer<Float>
        let count, rowsPerPiece: Int
        let scratch: Scratch.Regions

        /// Piece `piece` of the rows; a piece that decodes rows uses scratch `piece` (one piece per thread then).
        func run(piece: Int) {
            let start = piece * rowsPerPiece, end = min(rows, start + rowsPerPiece)
            guard start < end else { return }
            switch weights {
            case .dense(let values):
                let panel = scratch.panel(piece)
                for chunk in stride(from: start, to: end, by: LinearWeight.chunkRows) {
                    let chunkEnd = min(end, chunk + LinearWeight.chunkRows)
                    chunkTimesInputs(values + chunk * columns, rowCount: chunkEnd - chunk, firstRow: chunk, panel: panel)
                }
            case .mapped(let records, let encoding, let recordBytes):
                if count <= LinearWeight.fusedInputLimit, let kernel = FusedKernel(encoding, columns: columns) {
                    lpk_dot_rows(kernel.kind, records + start * recordBytes, recordBytes, end - start, inputs, count, columns,
                                 kernel.group, LinearWeight.prefetchDistance, outputs + start, rows)
                    return
                }
                let decoded = scratch.rows(piece), panel = scratch.panel(piece)
                for chunk in stride(from: start, to: end, by: LinearWeight.chunkRows) {
                    let chunkEnd = min(end, chunk + LinearWeight.chunkRows)
                    for r in chunk..<chunkEnd {
                        LinearWeight.decode(records + r * recordBytes, recordBytes, encoding, columns: columns, into: decoded + (r - chunk) * columns)
                    }
                    chunkTimesInputs(decoded, rowCount: chunkEnd - chunk, firstRow: chunk, panel: panel)
                }
            }
        }

        /// y[t, firstRow + i] = chunk[i] · x[t] for `rowCount` (≤ ``LinearWeight/chunkRows``) consecutive rows and every
        /// input: one or two inputs take a dot product per row; more lay the rows out column by column in `panel` and
        /// multiply them by all inputs in register tiles.
        @inline(__always)
        private func chunkTimesInputs(_ chunk: UnsafePointer<Float>, rowCount: Int, firstRow: Int, panel: UnsafeMutablePointer<Float>) {
            guard count > LinearWeight.fusedInputLimit else {
                for t in 0..<count {
                    for i in 0..<rowCount { outputs[t * rows + firstRow + i] = Kernels.dot(chunk + i * columns, inputs + t * columns, columns) }
                }
                return
            }
            lpk_panel_pack(chunk, rowCount, columns, panel)
            lpk_panel_times_inputs(panel, rowCount, columns, inputs, count, outputs + firstRow, rows)
        }
    }

    /// Rows decoded (or, held in memory, taken) together: one panel of the batched product (`LPK_PANEL_ROWS`).
    static let chunkRows = Int(LPK_PANEL_ROWS)

    /// The inputs as this product multiplies them: `x` itself, or under llama.cpp numerics a rounded copy in
    /// `scratch`.
    private func round(_ x: UnsafePointer<Float>, count: Int, scratch: Scratch) -> UnsafeMutablePointer<Float> {
        let n = count * columns
        switch inputRounding {
        case .none: return UnsafeMutablePointer(mutating: x)
        case .q8_0 where columns % 32 == 0: lpk_round_q8_0(x, scratch.inputs(n), n)
        case .q8_1 where columns % 32 == 0: lpk_round_q8_1(x, scratch.inputs(n), n)
        case .q8_K where columns % 256 == 0: lpk_round_q8_k(x, scratch.inputs(n), n)
        case .f16:
            let out = scratch.inputs(n)
            for i in 0..<n { out[i] = FloatConversion.float(fromHalf: FloatConversion.half(from: x[i])) }
        case .bf16:
            let out = scratch.inputs(n)
            for i in 0..<n { out[i] = FloatConversion.float(fromBFloat16: FloatConversion.bfloat16(from: x[i])) }
        case .q8_0, .q8_1, .q8_K: return UnsafeMutablePointer(mutating: x)  // ggml cannot store such rows either
        }
        return scratch.inputs(n)
    }

    /// Rows ahead of the one being multiplied in place whose bytes are asked for meanwhile: streaming a matrix once
    /// per token, the memory system then has several rows in flight per thread.
    static let prefetchDistance = 8

    /// Pieces per thread of a product multiplied in place.
    static let piecesPerThread = 4

    /// Up to this many inputs, a quantized row is multiplied in place; beyond, decoding it once is cheaper.
    static let fusedInputLimit = 2

    /// A row encoding with a dot product over its packed values (``lpk_dot_rows``), for rows of `columns` values.
    struct FusedKernel {
        /// The C kernels' name for the encoding.
        let kind: lpk_row_kind
        /// The group length of int8/int4/int2 records (0 for the other encodings).
        let group: Int

        init?(_ encoding: TensorEncoding, columns: Int) {
            switch encoding {
            case .ggml(.q8_0) where columns % 32 == 0: kind = LPK_ROWS_Q8_0
            case .ggml(.q5_0) where columns % 32 == 0: kind = LPK_ROWS_Q5_0
            case .ggml(.q4_0) where columns % 32 == 0: kind = LPK_ROWS_Q4_0
            case .ggml(.q4_K) where columns % 256 == 0: kind = LPK_ROWS_Q4_K
            case .ggml(.q6_K) where columns % 256 == 0: kind = LPK_ROWS_Q6_K
            case .plain(.bf16): kind = LPK_ROWS_BF16
            case .plain(.f16): kind = LPK_ROWS_F16
            case .rows(let scheme):
                switch scheme.bits {
                case .int8: kind = LPK_ROWS_I8
                case .int4: kind = LPK_ROWS_I4
                case .int2: kind = LPK_ROWS_I2
                }
                group = scheme.columnsPerGroup(rowLength: columns)
                return
            default: return nil
            }
            group = 0
        }
    }
}

/// Per-worker chunks of scratch rows, allocated once per model so that products allocate nothing per token, and the
/// rounded inputs of a product (grown to the longest batch, then reused).
///
/// `@unchecked Sendable`: worker `w` writes only its own room (``Regions/rows(_:)`` and ``Regions/panel(_:)`` of `w`);
/// the rounded inputs are written by the calling thread before a product starts and only read inside it. A model (and
/// so its scratch) runs one forward call at a time.
public final class Scratch: @unchecked Sendable {
    public let workers: Int
    private let width: Int
    private let buffer: UnsafeMutablePointer<Float>
    private var roundedInputs: UnsafeMutablePointer<Float>?
    private var roundedCapacity = 0

    public init(workers: Int, width: Int) {
        self.workers = workers
        self.width = width
        buffer = .allocate(capacity: workers * Scratch.valuesPerWorker(width: width))
        buffer.initialize(repeating: 0, count: workers * Scratch.valuesPerWorker(width: width))
    }

    deinit {
        buffer.deallocate()
        roundedInputs?.deallocate()
    }

    /// Values each worker owns: a chunk of decoded rows and the same rows laid out as a panel.
    public static func valuesPerWorker(width: Int) -> Int { 2 * LinearWeight.chunkRows * width }

    /// Every worker's rooms, by address (what a product's workers use).
    var regions: Regions { Regions(buffer: buffer, width: width) }

    /// The workers' rooms in the scratch buffer, as addresses.
    struct Regions {
        let buffer: UnsafeMutablePointer<Float>
        let width: Int

        /// Room for ``LinearWeight/chunkRows`` rows of `width` values, for `worker` alone.
        func rows(_ worker: Int) -> UnsafeMutablePointer<Float> { buffer + worker * Scratch.valuesPerWorker(width: width) }

        /// Room for the panel of those rows, for `worker` alone.
        func panel(_ worker: Int) -> UnsafeMutablePointer<Float> { rows(worker) + LinearWeight.chunkRows * width }
    }

    /// Room for `count` rounded input values; valid until the next call.
    func inputs(_ count: Int) -> UnsafeMutablePointer<Float> {
        if count > roundedCapacity {
            roundedInputs?.deallocate()
            roundedInputs = .allocate(capacity: count)
            roundedCapacity = count
        }
        return roundedInputs!
    }
}
