import ByteIO
import TensorModel
import TensorTypes

/// Writes a pack tensor by tensor, so memory stays bounded by what the caller holds (Formats/lpk.md §1).
///
/// Core tensors must all come before PLE tensors (the sections are laid out in that order). Each tensor's data is
/// streamed with ``append(_:)`` between ``beginTensor(_:)`` and ``endTensor()``, checksummed on the way. Nothing
/// appears at the destination until ``finish(metadata:)`` commits; a writer dropped before that leaves no file.
public final class PackWriter {
    /// A tensor about to be written: everything in its record except the offset, length and checksum.
    public struct TensorSpec: Sendable {
        public var name: String
        public var role: TensorRole
        public var section: PackSection
        public var encoding: PackEncoding
        public var shape: TensorShape
        public var rowStride: Int
        public var sourceDType: DType?

        public init(name: String, role: TensorRole, section: PackSection = .core, encoding: PackEncoding,
                    shape: TensorShape, rowStride: Int = 0, sourceDType: DType? = nil) {
            self.name = name
            self.role = role
            self.section = section
            self.encoding = encoding
            self.shape = shape
            self.rowStride = rowStride
            self.sourceDType = sourceDType
        }
    }

    private let path: String
    private let main: AtomicFileWriter
    private let companion: AtomicFileWriter?
    private var records: [PackTensorRecord] = []
    private var names = Set<String>()
    private var current: (record: PackTensorRecord, hasher: XXHash64, written: Int, sink: AtomicFileWriter)?
    /// The current PLE tensor's block checksums so far: finished blocks, and the hash of the block being filled.
    private var blocks: (sums: [UInt64], hasher: XXHash64, filled: Int)?
    /// Every finished record's block checksums (empty for core tensors), in record order.
    private var blockSums: [[UInt64]] = []
    private var coreEnd = PackLayout.coreSectionOffset
    private var pleStart: Int?
    private var pleEnd = 0

    /// Opens the destination (and its companion `.ple` file when `splitPLE`) for writing.
    public init(destination: String, splitPLE: Bool) throws {
        path = destination
        main = try AtomicFileWriter(destination: destination)
        try main.writeZeros(PackLayout.coreSectionOffset)  // the header is written last, over the first 128 bytes
        if splitPLE {
            let sink = try AtomicFileWriter(destination: PackLayout.companionPath(of: destination))
            try sink.writeZeros(PackLayout.pleAlignment)  // the companion header is written last, over the first 64 bytes
            companion = sink
        } else {
            companion = nil
        }
    }

    private func fail(_ message: String) -> PackError { PackError(.writerMisuse, file: path, offset: nil, message) }

    /// Starts a tensor.
    /// - Throws: when the name repeats, a core tensor follows a PLE tensor, or the shape does not suit the encoding.
    public func beginTensor(_ spec: TensorSpec) throws {
        precondition(current == nil, "endTensor() the previous tensor first")
        guard !spec.name.isEmpty, spec.name.utf8.count <= PackLayout.maxNameBytes else { throw fail("tensor name '\(spec.name.prefix(64))' is empty or too long") }
        guard names.insert(spec.name).inserted else { throw fail("tensor '\(spec.name)' is written twice") }
        guard spec.shape.rank <= PackLayout.maxRank else { throw fail("tensor '\(spec.name)': rank \(spec.shape.rank) exceeds \(PackLayout.maxRank)") }
        guard let length = PackTensorRecord.expectedLength(encoding: spec.encoding, shape: spec.shape, rowStride: spec.rowStride) else {
            throw fail("tensor '\(spec.name)': shape \(spec.shape) cannot be stored as \(spec.encoding)")
        }
        if spec.section == .core && pleStart != nil { throw fail("core tensor '\(spec.name)' after a PLE tensor") }
        let sink: AtomicFileWriter
        let offset: Int
        if spec.section == .core {
            sink = main
            offset = PackLayout.align(coreEnd, to: PackLayout.tensorAlignment)!
        } else {
            sink = companion ?? main
            let start = pleStart ?? PackLayout.align(companion == nil ? coreEnd : PackLayout.pleAlignment, to: PackLayout.pleAlignment)!
            if pleStart == nil { pleStart = start }
            offset = PackLayout.align(max(pleEnd, start), to: PackLayout.pleAlignment)!
        }
        try sink.writeZeros(offset - sink.bytesWritten)
        let record = PackTensorRecord(name: spec.name, role: spec.role, section: spec.section, encoding: spec.encoding,
                                      shape: spec.shape, dataOffset: offset, dataLength: length, rowStride: spec.rowStride,
                                      checksum: 0, sourceDType: spec.sourceDType)
        current = (record, XXHash64(), 0, sink)
        blocks = spec.section == .ple ? ([], XXHash64(), 0) : nil
    }

    /// Appends data to the current tensor.
    public func append(_ bytes: UnsafeRawBufferPointer) throws {
        guard var state = current else { preconditionFailure("beginTensor() first") }
        guard bytes.count <= state.record.dataLength - state.written else {
            throw fail("tensor '\(state.record.name)': more than its \(state.record.dataLength) bytes")
        }
        try state.sink.write(bytes)
        state.written += bytes.count
        if var running = blocks {
            // The tensor's hash and its block's take the same bytes in one pass (blocks are whole stripes).
            var offset = 0
            while offset < bytes.count {
                let take = min(bytes.count - offset, PackLayout.pleBlockSize - running.filled)
                XXHash64.update(&state.hasher, &running.hasher, with: UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + take)]))
                running.filled += take
                offset += take
                if running.filled == PackLayout.pleBlockSize {
                    running.sums.append(running.hasher.finalize())
                    running = (running.sums, XXHash64(), 0)
                }
            }
            blocks = running
        } else {
            state.hasher.update(bytes)
        }
        current = state
    }

    /// Appends an array of bytes to the current tensor.
    public func append(_ bytes: [UInt8]) throws { try bytes.withUnsafeBytes { try append($0) } }

    /// Ends the current tensor; its data must be complete.
    public func endTensor() throws {
        guard var state = current else { preconditionFailure("beginTensor() first") }
        guard state.written == state.record.dataLength else {
            throw fail("tensor '\(state.record.name)': \(state.written) of \(state.record.dataLength) bytes written")
        }
        state.record.checksum = state.hasher.finalize()
        if let running = blocks {
            var sums = running.sums
            if running.filled > 0 { sums.append(running.hasher.finalize()) }
            state.record.blockCount = sums.count
            state.record.blockSize = PackLayout.pleBlockSize
            blockSums.append(sums)
        } else {
            blockSums.append([])
        }
        blocks = nil
        let end = state.record.dataOffset + state.record.dataLength
        if state.record.section == .core { coreEnd = end } else { pleEnd = end }
        records.append(state.record)
        current = nil
    }

    /// Writes a whole tensor at once.
    public func addTensor(_ spec: TensorSpec, data: UnsafeRawBufferPointer) throws {
        try beginTensor(spec)
        try append(data)
        try endTensor()
    }

    /// Writes the index and header and makes the pack (and its companion) appear at the destination.
    public func finish(metadata: [UInt8]) throws {
        precondition(current == nil, "endTensor() the last tensor first")
        var header = PackHeader()
        header.tensorCount = records.count
        header.coreLength = coreEnd - PackLayout.coreSectionOffset
        if let pleStart {
            header.pleOffset = pleStart
            header.pleLength = pleEnd - pleStart
        }
        header.flags = companion == nil ? 0 : PackLayout.companionFlag
        let indexOffset = PackLayout.align(main.bytesWritten, to: PackLayout.tensorAlignment)!
        try main.writeZeros(indexOffset - main.bytesWritten)
        // Index: records, names, metadata, then (8-aligned) the PLE tensors' block checksums (§3, §4).
        let namesLength = records.reduce(0) { $0 + $1.name.utf8.count }
        header.metadataOffset = indexOffset + records.count * PackLayout.recordBytes + namesLength
        header.metadataLength = metadata.count
        var checksumOffset = PackLayout.align(header.metadataOffset + metadata.count, to: 8)!
        for position in records.indices where !blockSums[position].isEmpty {
            records[position].blockChecksumOffset = checksumOffset
            checksumOffset += 8 * blockSums[position].count
        }
        var strings: [UInt8] = []
        var index: [UInt8] = []
        for record in records {
            index += record.encoded(nameOffset: strings.count)
            strings += Array(record.name.utf8)
        }
        index += strings
        index += metadata
        if blockSums.contains(where: { !$0.isEmpty }) {
            index += [UInt8](repeating: 0, count: PackLayout.align(index.count, to: 8)! - index.count)  // indexOffset is 64-aligned
            for sums in blockSums { for sum in sums { withUnsafeBytes(of: sum.littleEndian) { index += $0 } } }
        }
        header.indexOffset = indexOffset
        header.indexLength = index.count
        header.indexChecksum = XXHash64.hash(index)
        header.fileLength = indexOffset + index.count
        try main.write(index)
        try main.overwrite(header.encoded, at: 0)
        if let companion {
            var head = PackLayout.companionMagic
            func put(_ value: UInt64) { withUnsafeBytes(of: value.littleEndian) { head += $0 } }
            put(header.indexChecksum)
            put(UInt64(companion.bytesWritten))
            for _ in 0..<4 { put(0) }
            put(XXHash64.hash(head))
            try companion.overwrite(head, at: 0)
            try AtomicFileWriter.commitTogether([companion, main])  // no reader or rival writer sees a mixed pair
        } else {
            try main.commit()
        }
    }
}
