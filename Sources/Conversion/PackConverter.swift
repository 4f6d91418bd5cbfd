import ByteIO
import CDotKernels
import Dispatch
import Foundation
import GGUFFormat
import PackFormat
import Quantization
import TensorModel
import TensorTypes

/// Turns any ``TensorSource`` into a pack under a ``Recipe``, streaming one tensor (in chunks of rows) at a time,
/// so peak memory is bounded by one chunk plus one tensor's index entry, never by the model.
public enum PackConverter {
    /// What to do.
    public struct Options {
        /// nil: lossless import (every tensor stored exactly as the source stores it).
        public var recipe: Recipe?
        /// Put the PLE table in a companion `.ple` file.
        public var splitPLE = false
        /// Called after each tensor with (tensors done, total, name).
        public var progress: ((Int, Int, String) -> Void)?
        /// Input statistics from a calibration text: their importances weight the scale search, their Gram
        /// matrices drive GPTQ (`rounding: gptq`).
        public var calibration: Calibration?
        /// Re-quantize ggml blocks even where they already hold the numbers (or no more bits than) the recipe asks.
        public var requantize = false

        public init(recipe: Recipe? = nil, splitPLE: Bool = false, calibration: Calibration? = nil,
                    progress: ((Int, Int, String) -> Void)? = nil) {
            self.recipe = recipe
            self.splitPLE = splitPLE
            self.calibration = calibration
            self.progress = progress
        }
    }

    /// What happened to one tensor.
    public struct TensorReport: Codable, Sendable {
        public let name: String
        public let role: TensorRole
        public let from: String
        public let to: String
        public let bytesBefore: Int
        public let bytesAfter: Int
        public let elements: Int
        /// Quantization error against the source values (nil when values were copied unchanged).
        public let error: ErrorMetrics?
        /// Why the tensor was stored otherwise than the recipe literally asks (exact re-encodings, carried blocks).
        public let note: String?
    }

    /// The conversion's outcome.
    public struct Report: Codable, Sendable {
        public let source: String
        public let destination: String
        public let tensors: [TensorReport]
        public let sourceBytes: Int
        public let packBytes: Int
        public let seconds: Double
    }

    /// Rows decoded at a time: about 4 MiB of floats.
    static let chunkFloats = 1 << 20

    /// Converts `source` into a pack at `destination` (atomically; the source is never written).
    public static func convert(_ source: any TensorSource, to destination: String, options: Options) throws -> Report {
        let started = Date()
        try refuseOverwritingInput(source, destination, splitPLE: options.splitPLE)
        if let recipe = options.recipe { try recipe.validate() }
        let pleGroup = source.configuration?.perLayerInputSize
        // Core tensors first, then the PLE table(s): the sections are laid out in that order.
        let ordered = source.tensors.filter { $0.role != .perLayerEmbedding } + source.tensors.filter { $0.role == .perLayerEmbedding }
        let packWriter = try PackWriter(destination: destination, splitPLE: options.splitPLE)
        // Hashing the source files (for the provenance) reads them once more: it runs beside the conversion.
        let describing = BackgroundTask { try describeSource(source) }
        var job = Job(source: source, writer: packWriter, options: options)
        var reports: [TensorReport] = []
        var attached = false
        for (index, tensor) in ordered.enumerated() {
            if tensor.role == .perLayerEmbedding && !attached {
                try attachFiles(of: source, to: packWriter)  // attachments are core-section data: before the PLE section
                attached = true
            }
            let decision = try options.recipe?.decision(for: tensor, pleGroup: tensor.role == .perLayerEmbedding ? pleGroup : nil) ?? .keep
            let plan = Plan(tensor, decision, requantize: options.requantize)
            let section: PackSection = tensor.role == .perLayerEmbedding ? .ple : .core
            let (encoding, error) = try job.write(tensor, plan, section: section)
            // Drop the source pages just read from this process, so resident memory stays near one tensor.
            (try? source.storedBytes(tensor.name))?.advise(.dontNeed)
            let after = PackTensorRecord.expectedLength(encoding: encoding, shape: tensor.shape,
                                                        rowStride: encoding == tensor.encoding ? tensor.byteCount / max(1, tensor.shape.rowCount) : 0)
            reports.append(TensorReport(name: tensor.name, role: tensor.role, from: tensor.storage, to: encoding.description,
                                        bytesBefore: tensor.byteCount, bytesAfter: writtenBytes(encoding, tensor, after, pleSection: section == .ple),
                                        elements: tensor.shape.elementCount, error: error, note: plan.note))
            options.progress?(index + 1, ordered.count, tensor.name)
        }
        if !attached { try attachFiles(of: source, to: packWriter) }
        let metadata = PackMetadata(source: try describing.result(), configuration: source.configuration, recipe: options.recipe)
        try packWriter.finish(metadata: try metadata.encoded())
        let mainBytes = (try? MappedFile(path: destination).count) ?? 0
        let companionBytes = options.splitPLE ? (try? MappedFile(path: PackLayout.companionPath(of: destination)).count) ?? 0 : 0
        let packBytes = mainBytes + companionBytes
        return Report(source: source.path, destination: destination, tensors: reports, sourceBytes: source.fileBytes,
                      packBytes: packBytes, seconds: Date().timeIntervalSince(started))
    }

    /// The encoding and byte length `tensor` gets in a pack under `recipe` (nil: a lossless import), as ``convert(_:to:options:)``
    /// would write it, computed from the descriptor alone (no tensor data is read).
    /// - Throws: when the recipe's precision cannot apply to the tensor.
    public static func plannedStorage(of tensor: TensorDescriptor, recipe: Recipe?, pleGroup: Int?, requantize: Bool = false) throws
        -> (encoding: TensorEncoding, bytes: Int) {
        let decision = try recipe?.decision(for: tensor, pleGroup: tensor.role == .perLayerEmbedding ? pleGroup : nil) ?? .keep
        let pleSection = tensor.role == .perLayerEmbedding
        switch Plan(tensor, decision, requantize: requantize) {
        case .keep, .carry: return (tensor.encoding, tensor.byteCount)
        case .convert(let dtype): return (.plain(dtype), dtype.byteCount(elements: tensor.shape.elementCount) ?? tensor.byteCount)
        case .quantize(let scheme), .reencode(_, let scheme):
            return (.rows(scheme), writtenBytes(.rows(scheme), tensor, nil, pleSection: pleSection))
        }
    }

    /// What the converter does with one tensor: the recipe's decision, refined by how the source stores it.
    enum Plan {
        /// Copy the stored bytes.
        case keep
        /// Store the values in a plain float type.
        case convert(DType)
        /// Quantize into row records.
        case quantize(RowScheme)
        /// Re-encode ggml blocks that hold exactly the numbers of these row records (Q8_0 → int8, Q4_0 → int4).
        case reencode(GGMLType, RowScheme)
        /// Keep ggml blocks that already hold no more bits than the recipe asks (re-quantizing would only move them
        /// onto another grid).
        case carry(GGMLType, asked: RowScheme)

        init(_ tensor: TensorDescriptor, _ decision: Recipe.Decision, requantize: Bool) {
            switch decision {
            case .keep:
                // A pack holds no MLX groups: their values are stored exactly, as f32.
                if case .mlx = tensor.encoding { self = .convert(.f32) } else { self = .keep }
            case .convert(let dtype): self = .convert(dtype)
            case .quantize(let scheme):
                guard !requantize, case .ggml(let type) = tensor.encoding else {
                    self = .quantize(scheme)
                    return
                }
                let rowLength = tensor.shape.rowLength
                if GGMLRows.rowsHold(type, as: scheme, rowLength: rowLength) {
                    self = .reencode(type, scheme)
                } else if GGMLRows.bitsPerValue(type) <= GGMLRows.bitsPerValue(scheme, rowLength: rowLength) {
                    self = .carry(type, asked: scheme)
                } else {
                    self = .quantize(scheme)
                }
            }
        }

        /// What the report says about the plan, when it is not what the recipe literally asked.
        var note: String? {
            switch self {
            case .reencode(let type, let scheme): "\(type.name) blocks re-encoded as \(scheme) rows: the same numbers"
            case .carry(let type, let asked): "kept as \(type.name): it already holds no more bits than \(asked) (--requantize re-quantizes)"
            case .keep, .convert, .quantize: nil
            }
        }
    }

    /// One conversion's writer, options and GPTQ factors, tensor after tensor.
    struct Job {
        let source: any TensorSource
        let writer: any TensorSink
        let options: Options
        /// The Hessian factor of the matrices that share the latest input (they come one after another).
        var factors: [ObjectIdentifier: ([Float], [Bool])] = [:]

        /// Writes `tensor` as `plan` says; returns its encoding in the pack and its error against the source values.
        mutating func write(_ tensor: TensorDescriptor, _ plan: Plan, section: PackSection) throws -> (TensorEncoding, ErrorMetrics?) {
            let sourceDType: DType? = if case .plain(let dtype) = tensor.encoding { dtype } else { nil }
            switch plan {
            case .keep, .carry:
                let stride = if case .rows = tensor.encoding { tensor.byteCount / max(1, tensor.shape.rowCount) } else { 0 }
                try writer.beginTensor(.init(name: tensor.name, role: tensor.role, section: section, encoding: tensor.encoding,
                                             shape: tensor.shape, rowStride: stride, sourceDType: sourceDType))
                let bytes = try source.storedBytes(tensor.name)
                var offset = 0
                while offset < bytes.count {
                    let take = min(bytes.count - offset, 8 << 20)
                    try bytes.slice(offset: offset, length: take)!.withUnsafeBytes { try writer.append($0) }
                    offset += take
                }
                try writer.endTensor()
                return (tensor.encoding, nil)
            case .convert(let dtype):
                try writer.beginTensor(.init(name: tensor.name, role: tensor.role, section: section, encoding: .plain(dtype),
                                             shape: tensor.shape, sourceDType: sourceDType))
                let error = try forEachChunk(of: tensor, in: source) { values in
                    let encoded = FloatEncoding.encode(values, as: dtype)
                    try writer.append(encoded)
                    return FloatEncoding.decode(encoded, as: dtype)
                }
                try writer.endTensor()
                return (.plain(dtype), error)
            case .reencode(let type, let scheme):
                let rowLength = tensor.shape.rowLength, recordBytes = scheme.recordBytes(rowLength: rowLength)
                let stride = section == .ple ? PackLayout.align(recordBytes, to: PackLayout.pleRecordAlignment)! : recordBytes
                try writer.beginTensor(.init(name: tensor.name, role: tensor.role, section: section, encoding: .rows(scheme),
                                             shape: tensor.shape, rowStride: stride, sourceDType: sourceDType))
                let blocks = try source.storedBytes(tensor.name)
                let rowBytes = type.byteCount(elements: rowLength)!  // whole blocks: rowsHold checked it
                var record = [UInt8](repeating: 0, count: stride)
                try blocks.withUnsafeBytes { raw in
                    for row in 0..<tensor.shape.rowCount {
                        record.withUnsafeMutableBytes { out in
                            GGMLRows.record(fromBlocks: UnsafeRawBufferPointer(rebasing: raw[(row * rowBytes)..<((row + 1) * rowBytes)]),
                                            type: type, scheme: scheme, rowLength: rowLength,
                                            into: UnsafeMutableRawBufferPointer(rebasing: out[0..<recordBytes]))
                        }
                        try writer.append(record)
                    }
                }
                try writer.endTensor()
                return (.rows(scheme), nil)
            case .quantize(let scheme):
                let recordBytes = scheme.recordBytes(rowLength: tensor.shape.rowLength)
                let stride = section == .ple ? PackLayout.align(recordBytes, to: PackLayout.pleRecordAlignment)! : recordBytes
                try writer.beginTensor(.init(name: tensor.name, role: tensor.role, section: section, encoding: .rows(scheme),
                                             shape: tensor.shape, rowStride: stride, sourceDType: sourceDType))
                let error = try quantize(tensor, scheme: scheme, recordBytes: recordBytes, stride: stride)
                try writer.endTensor()
                return (.rows(scheme), error)
            }
        }

        /// Quantizes a tensor's rows: GPTQ when the recipe asks and the calibration has its Gram matrix, else row by
        /// row (weighted by the calibration's importances unless the rounding is nearest).
        private mutating func quantize(_ tensor: TensorDescriptor, scheme: RowScheme, recordBytes: Int, stride: Int) throws -> ErrorMetrics {
            let rounding = options.recipe?.rounding ?? .nearest
            let quantizer = RowQuantizer(scheme: scheme, rounding: rounding)
            let rowLength = tensor.shape.rowLength
            // A matrix the calibration never multiplied (an untied token embedding is only looked up) has no statistics
            // to weight by: its scales are searched unweighted.
            let statistics = rounding == .nearest ? nil : options.calibration?.statistics[tensor.name].flatMap { $0.tokens > 0 ? $0 : nil }
            if rounding == .gptq, let statistics, statistics.gram != nil, statistics.columns == rowLength {
                return try quantizeWithGPTQ(tensor, in: source, statistics: statistics, quantizer: quantizer, stride: stride,
                                            factors: &factors, writer: writer)
            }
            let importance = statistics.flatMap { $0.columns == rowLength ? $0.importance : nil }
            return try quantizeChunks(tensor, in: source, quantizer: quantizer, importance: importance, recordBytes: recordBytes,
                                      stride: stride, writer: writer)
        }
    }

    private static func writtenBytes(_ encoding: TensorEncoding, _ tensor: TensorDescriptor, _ expected: Int?, pleSection: Bool) -> Int {
        if case .rows(let scheme) = encoding, encoding != tensor.encoding {
            let record = scheme.recordBytes(rowLength: tensor.shape.rowLength)
            let stride = pleSection ? PackLayout.align(record, to: PackLayout.pleRecordAlignment)! : record
            return stride * tensor.shape.rowCount
        }
        return expected ?? tensor.byteCount
    }

    /// Quantizes a whole tensor with GPTQ (the matrix is held whole: GPTQ feeds each column's error into the next),
    /// reusing the Hessian factor of matrices that share their inputs; returns the error against the source values.
    private static func quantizeWithGPTQ(_ tensor: TensorDescriptor, in source: any TensorSource, statistics: InputStatistics,
                                         quantizer: RowQuantizer, stride: Int, factors: inout [ObjectIdentifier: ([Float], [Bool])],
                                         writer: any TensorSink) throws -> ErrorMetrics {
        let rows = tensor.shape.rowCount, columns = tensor.shape.rowLength
        let original = try source.floats(tensor.name)
        let key = ObjectIdentifier(statistics)
        if factors[key] == nil {
            // Only the latest factor is kept: matrices that share inputs come one after another.
            do { factors = [key: try GPTQ.inverseFactor(statistics)] } catch {
                throw ConversionError(.unquantizableRow, file: source.path, tensor: tensor.name, "GPTQ: \(error)")
            }
        }
        let (factor, dead) = factors[key]!
        var weights = original
        var records = [UInt8](repeating: 0, count: rows * stride)
        do {
            try records.withUnsafeMutableBytes { raw in
                try GPTQ.quantize(&weights, rows: rows, columns: columns, factor: factor, dead: dead, quantizer: quantizer,
                                  importance: statistics.importance, search: true, into: raw, stride: stride)
            }
        } catch {
            throw ConversionError(.unquantizableRow, file: source.path, tensor: tensor.name, "GPTQ: \(error)")
        }
        try writer.append(records)
        var metrics = ErrorMetrics()
        var decoded = [Float](repeating: 0, count: columns)
        records.withUnsafeBytes { raw in
            original.withUnsafeBufferPointer { reference in
                decoded.withUnsafeMutableBufferPointer { out in
                    for row in 0..<rows {
                        RowDequantizer.dequantize(UnsafeRawBufferPointer(rebasing: raw[(row * stride)..<((row + 1) * stride)]),
                                                  scheme: quantizer.scheme, into: out)
                        metrics.add(reference: UnsafeBufferPointer(rebasing: reference[(row * columns)..<((row + 1) * columns)]),
                                    candidate: UnsafeBufferPointer(out))
                    }
                }
            }
        }
        return metrics
    }

    /// Rows per chunk of a quantized tensor: about 16 MiB of floats, split among the workers.
    static let quantizeChunkFloats = 4 << 20

    /// Quantizes a tensor chunk by chunk: each chunk is cut into pieces (four per core) whose threads decode their own
    /// rows from the source a few at a time, quantize each batch and accumulate its error
    /// (``RowQuantizer/quantize(rows:rowLength:importance:into:stride:measuring:scratch:)``, which searches the batch's
    /// scales together), so decoding, quantizing and checking all run on every core and no chunk-sized copy of the
    /// decoded values exists; the chunk's records are then written.
    private static func quantizeChunks(_ tensor: TensorDescriptor, in source: any TensorSource, quantizer: RowQuantizer,
                                       importance: [Float]?, recordBytes: Int, stride: Int, writer: any TensorSink) throws -> ErrorMetrics {
        let stored = try source.storedBytes(tensor.name)  // verified once here, before the workers read it
        let rowCount = tensor.shape.rowCount, rowLength = tensor.shape.rowLength
        let sourceRowBytes = stored.count / max(1, rowCount)
        let rowsPerChunk = max(1, quantizeChunkFloats / max(1, rowLength))
        let workers = max(1, ProcessInfo.processInfo.activeProcessorCount)
        let batchRows = max(1, (16 << 10) / max(1, rowLength))
        let weighting = importance ?? []
        // bf16 and f16 rows are widened here, in C, into each piece's own buffer (the source's bytes are read once,
        // from memory, with the lines ahead requested meanwhile); other encodings are decoded by the source.
        let halfWidth: (@convention(c) (UnsafeRawPointer?, UnsafeMutablePointer<Float>?, Int) -> Void)? = switch tensor.encoding {
        case .plain(.bf16): lpk_decode_bf16
        case .plain(.f16): lpk_decode_f16
        default: nil
        }
        // Two record buffers: a chunk's records are written (and checksummed) on a writing thread while the workers
        // quantize the next chunk into the other buffer.
        var buffers = [[UInt8](repeating: 0, count: min(rowCount, rowsPerChunk) * stride), []]
        if rowCount > rowsPerChunk { buffers[1] = buffers[0] }
        var pending: BackgroundTask<Void>?
        var total = ErrorMetrics()
        var start = 0, chunkIndex = 0
        while start < rowCount {
            var records = buffers[chunkIndex % 2]
            buffers[chunkIndex % 2] = []
            let end = min(rowCount, start + rowsPerChunk), rows = end - start, chunkStart = start
            // More pieces than cores: while the writing thread holds a core, the other threads take its share.
            let pieces = min(rows, 4 * workers), perPiece = (rows + pieces - 1) / pieces
            let results = WorkerResults(count: pieces)
            records.withUnsafeMutableBytes { output in weighting.withUnsafeBufferPointer { weighting in
                let shared = ChunkBuffers(output: output, importance: weighting.isEmpty ? nil : weighting)
                DispatchQueue.concurrentPerform(iterations: pieces) { piece in
                    let first = chunkStart + piece * perPiece, last = min(end, first + perPiece)
                    guard first < last else { return }
                    var metrics = ErrorMetrics()
                    let batchCapacity = min(batchRows, last - first) * rowLength
                    var scratch = [Float](repeating: 0, count: batchCapacity)
                    var values = [Float](repeating: 0, count: halfWidth != nil ? batchCapacity : 0)
                    // A few rows at a time (about 64 KiB of floats), so decoded values are quantized while in cache.
                    var batchStart = first
                    while batchStart < last {
                        let batchEnd = min(last, batchStart + batchRows)
                        if let halfWidth {
                            let rows = stored.slice(offset: batchStart * sourceRowBytes, length: (batchEnd - batchStart) * sourceRowBytes)!
                            rows.withUnsafeBytes { raw in values.withUnsafeMutableBufferPointer { out in
                                halfWidth(raw.baseAddress!, out.baseAddress!, (batchEnd - batchStart) * rowLength)
                            } }
                        } else {
                            do { values = try source.floats(tensor.name, rows: batchStart..<batchEnd) } catch {
                                results.fail(row: batchStart, reason: "\(error)")
                                return
                            }
                        }
                        let local = batchStart - chunkStart, batchFloats = (batchEnd - batchStart) * rowLength
                        let failure = values.withUnsafeBufferPointer { input in scratch.withUnsafeMutableBufferPointer { scratch -> RowQuantizer.RowFailure? in
                            let records = UnsafeMutableRawBufferPointer(rebasing: shared.output[(local * stride)...])
                            do throws(RowQuantizer.RowFailure) {
                                try quantizer.quantize(rows: UnsafeBufferPointer(rebasing: input[0..<batchFloats]), rowLength: rowLength,
                                                       importance: shared.importance, into: records, stride: stride, measuring: &metrics,
                                                       scratch: scratch)
                                return nil
                            } catch { return error }
                        } }
                        if let failure {
                            results.fail(row: batchStart + failure.row, reason: "\(failure.failure)")
                            return
                        }
                        batchStart = batchEnd
                    }
                    results.store(metrics, piece: piece)
                }
            } }
            if let (row, reason) = results.failure {
                throw ConversionError(.unquantizableRow, file: source.path, tensor: tensor.name, "row \(row): \(reason)")
            }
            for metrics in results.metrics { total.merge(metrics) }
            try pending?.result()  // the previous chunk is written: its buffer is free again
            let chunk = SendableRecords(bytes: records, count: rows * stride), sink = SendableSink(sink: writer)
            let sourceRows = stored.slice(offset: start * sourceRowBytes, length: rows * sourceRowBytes)
            pending = BackgroundTask {
                try chunk.bytes.withUnsafeBytes { try sink.sink.append(UnsafeRawBufferPointer(rebasing: $0[0..<chunk.count])) }
                sourceRows?.advise(.dontNeed)
            }
            buffers[chunkIndex % 2] = records
            chunkIndex += 1
            start = end
        }
        try pending?.result()
        return total
    }

    /// Reads the tensor in chunks of whole rows, hands each to `body` (which returns the values as stored), and
    /// accumulates the error between the source values and the stored ones.
    private static func forEachChunk(of tensor: TensorDescriptor, in source: any TensorSource,
                                     _ body: ([Float]) throws -> [Float]) throws -> ErrorMetrics {
        var metrics = ErrorMetrics()
        let stored = try source.storedBytes(tensor.name)
        let rowBytes = stored.count / max(1, tensor.shape.rowCount)
        let rowLength = max(1, tensor.shape.rowLength)
        let rowsPerChunk = max(1, chunkFloats / rowLength)
        var row = 0
        while row < tensor.shape.rowCount {
            let end = min(tensor.shape.rowCount, row + rowsPerChunk)
            let values = try source.floats(tensor.name, rows: row..<end)
            let result = try body(values)
            values.withUnsafeBufferPointer { reference in result.withUnsafeBufferPointer { metrics.add(reference: reference, candidate: $0) } }
            stored.slice(offset: row * rowBytes, length: (end - row) * rowBytes)?.advise(.dontNeed)
            row = end
        }
        return metrics
    }

    /// The source's attachments (configuration and tokenizer files) and its GGUF metadata travel as attached files.
    private static func attachFiles(of source: any TensorSource, to writer: PackWriter) throws {
        var attachments = source.attachments.map { (PackAttachments.recordName(of: $0.name), $0.bytes) }
        if let gguf = try source.ggufMetadata() {
            let carried = MappedFile(bytes: PackAttachments.encodeGGUFMetadata(gguf), name: PackAttachments.ggufMetadataName)
            attachments.append((PackAttachments.recordName(of: PackAttachments.ggufMetadataName), carried.bytes))
        }
        for (name, bytes) in attachments {
            try writer.beginTensor(.init(name: name, role: .other, encoding: .file, shape: TensorShape([bytes.count])!))
            try bytes.withUnsafeBytes { try writer.append($0) }
            try writer.endTensor()
        }
    }

    private static func describeSource(_ source: any TensorSource) throws -> PackMetadata.Source {
        let paths = Array(Set(source.tensors.filter { $0.encoding != .file }.map(\.file))).sorted()
        let files = try paths.map { path -> Provenance.SourceFile in
            let file = try MappedFile(path: path)
            var hasher = XXHash64()
            var offset = 0
            while offset < file.count {
                let piece = file.bytes.slice(offset: offset, length: min(64 << 20, file.count - offset))!
                piece.withUnsafeBytes { hasher.update($0) }
                piece.advise(.dontNeed)
                offset += piece.count
            }
            let hash = hasher.finalize()
            return .init(name: URL(fileURLWithPath: path).lastPathComponent, bytes: file.count, xxh64: String(hash, radix: 16))
        }
        return .init(format: source.formatName, files: files)
    }

    /// Refuses a destination (or its companion) that is not a regular file or is one of the source's files.
    private static func refuseOverwritingInput(_ source: any TensorSource, _ destination: String, splitPLE: Bool) throws {
        let inputs = source.inputFiles
        try OutputGuard.check(destination, inputs: inputs)
        if splitPLE { try OutputGuard.check(PackLayout.companionPath(of: destination), inputs: inputs) }
    }
}

/// What the pieces of one chunk share. `@unchecked Sendable`: raw pointers are not Sendable, but each piece writes
/// only its own rows' records, the importances are only read, and both outlive the pieces.
private struct ChunkBuffers: @unchecked Sendable {
    let output: UnsafeMutableRawBufferPointer
    let importance: UnsafeBufferPointer<Float>?
}

/// Each piece's error metrics and the first failure among them (a lock guards both, hence `@unchecked Sendable`).
private final class WorkerResults: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var metrics: [ErrorMetrics]
    private(set) var failure: (row: Int, reason: String)?

    init(count: Int) { metrics = Array(repeating: ErrorMetrics(), count: count) }

    func store(_ result: ErrorMetrics, piece: Int) {
        lock.lock()
        metrics[piece] = result
        lock.unlock()
    }

    func fail(row: Int, reason: String) {
        lock.lock()
        if failure == nil || row < failure!.row { failure = (row, reason) }
        lock.unlock()
    }
}

/// Where a conversion writes tensors, one at a time: a pack (``PackWriter``) or memory (``QuantizedView``).
protocol TensorSink: AnyObject {
    func beginTensor(_ spec: PackWriter.TensorSpec) throws
    func append(_ bytes: UnsafeRawBufferPointer) throws
    func append(_ bytes: [UInt8]) throws
    func endTensor() throws
}

extension PackWriter: TensorSink {}

/// Work started on another thread whose result (or error) is collected later, once.
final class BackgroundTask<Value>: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    private var outcome: Result<Value, any Error>?

    /// Starts `work` on a global queue. `@unchecked Sendable`: `outcome` is written by the worker before it signals
    /// and read only after waiting for that signal.
    init(_ work: @escaping () throws -> Value) {
        let box = UncheckedBox(work)
        DispatchQueue.global().async { [self] in
            outcome = Result { try box.value() }
            done.signal()
        }
    }

    /// Waits for the work and returns its value or throws its error (call once).
    func result() throws -> Value {
        done.wait()
        return try outcome!.get()
    }
}

/// Moves a non-Sendable value to the one thread that uses it next. `@unchecked Sendable`: the caller hands it over
/// and does not touch it until that thread is done.
private struct UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

/// A chunk of records handed to the writing thread (the array is copy-on-write: the loop does not touch it meanwhile).
private struct SendableRecords: @unchecked Sendable {
    let bytes: [UInt8]
    let count: Int
}

/// The sink, used by one thread at a time: the writing thread between two waits of the converter.
private struct SendableSink: @unchecked Sendable {
    let sink: any TensorSink
}
