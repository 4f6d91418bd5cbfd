import ByteIO
import TensorModel
import TensorTypes

/// An opened pack: header and index parsed and checked (Formats/lpk.md §10), tensor data mapped but untouched.
public struct PackReader: Sendable {
    /// A tensor's record and its mapped bytes.
    public struct Tensor: Sendable {
        public let record: PackTensorRecord
        public let data: ByteView
    }

    public var path: String { file.path }
    public let file: MappedFile
    /// The companion PLE file of a split pack.
    public let companion: MappedFile?
    public let tensors: [Tensor]
    let header: PackHeader
    private let tensorIndex: [String: Int]

    /// Opens a pack (and its companion, when the header says there is one).
    public init(path: String) throws(PackError) {
        // Both files are opened under the directory's shared lock, so a writer publishing a new pair (under the
        // exclusive lock) is seen whole or not at all.
        self = try AtomicFileWriter.withSharedDirectoryLock(of: path) { () throws(PackError) -> PackReader in
            let file: MappedFile
            do { file = try MappedFile(path: path) } catch let error as SystemCallError {
                throw PackError(.system, file: path, offset: nil, error.message)
            } catch {
                throw PackError(.system, file: path, offset: nil, "\(error)")
            }
            return try PackReader(file: file, companionPath: PackLayout.companionPath(of: path))
        }
    }

    /// Checks `file` as a pack; `companionPath` is opened only when the header's flag asks for it.
    public init(file: MappedFile, companionPath: String?) throws(PackError) {
        self.file = file
        func fail(_ kind: PackError.Kind, _ offset: Int?, _ message: String) -> PackError { PackError(kind, file: file.path, offset: offset, message) }
        let header = try PackHeader.decode(file)
        guard header.fileLength == file.count else {
            throw fail(.truncated, 16, "header says \(header.fileLength) bytes but the file has \(file.count) (truncated or extended)")
        }
        guard header.indexOffset >= PackLayout.headerBytes, header.indexOffset % PackLayout.tensorAlignment == 0,
              let index = file.bytes.slice(offset: header.indexOffset, length: header.indexLength)
        else { throw fail(.invalidHeader, 24, "index [\(header.indexOffset), +\(header.indexLength)) lies outside the file") }
        guard index.withUnsafeBytes({ XXHash64.hash($0) }) == header.indexChecksum else {
            throw fail(.checksumMismatch, header.indexOffset, "index checksum mismatch (the tensor table or metadata is damaged)")
        }
        guard header.alignment == PackLayout.tensorAlignment else { throw fail(.invalidHeader, 44, "alignment \(header.alignment) is not \(PackLayout.tensorAlignment)") }
        let recordsLength = header.tensorCount.multipliedReportingOverflow(by: PackLayout.recordBytes)
        guard !recordsLength.overflow, recordsLength.partialValue <= header.indexLength,
              header.metadataOffset >= header.indexOffset + recordsLength.partialValue,
              header.metadataLength <= header.indexOffset + header.indexLength - header.metadataOffset
        else { throw fail(.invalidHeader, 40, "\(header.tensorCount) tensor records and the metadata do not fit in the index") }
        let strings = file.bytes.slice(offset: header.indexOffset + recordsLength.partialValue,
                                       length: header.metadataOffset - header.indexOffset - recordsLength.partialValue)!

        // The companion file, bound to this pack by the index checksum.
        var companion: MappedFile?
        if header.flags & PackLayout.companionFlag != 0 {
            guard let companionPath else { throw fail(.companionMismatch, 12, "the PLE section is in a companion file but none was given") }
            let other: MappedFile
            do { other = try MappedFile(path: companionPath) } catch {
                throw PackError(.companionMismatch, file: companionPath, offset: nil,
                                "the companion PLE file of \(file.path) cannot be opened: \(error.message)")
            }
            try Self.checkCompanion(other, indexChecksum: header.indexChecksum)
            companion = other
        }
        self.companion = companion

        var tensors: [Tensor] = []
        var tensorIndex: [String: Int] = [:]
        for position in 0..<header.tensorCount {
            let recordOffset = header.indexOffset + position * PackLayout.recordBytes
            let record: PackTensorRecord
            do {
                record = try PackTensorRecord.decode(file.bytes.slice(offset: recordOffset, length: PackLayout.recordBytes)!, strings: strings)
            } catch {
                throw fail(.invalidRecord, recordOffset, (error.tensor.map { "tensor '\($0)': " } ?? "tensor record \(position): ") + error.reason)
            }
            guard tensorIndex[record.name] == nil else { throw fail(.invalidLayout, recordOffset, "duplicate tensor '\(record.name)'") }
            if record.blockCount > 0 {
                let end = record.blockChecksumOffset.addingReportingOverflow(8 * record.blockCount)
                guard record.blockChecksumOffset % 8 == 0, record.blockChecksumOffset >= header.metadataOffset + header.metadataLength,
                      !end.overflow, end.partialValue <= header.indexOffset + header.indexLength
                else { throw fail(.invalidRecord, recordOffset, "tensor '\(record.name)': its block checksums lie outside the index") }
            }
            let holder = record.section == .ple ? (companion ?? file) : file
            let sectionRange = record.section == .ple
                ? header.pleOffset..<(header.pleOffset + header.pleLength)
                : header.coreOffset..<(header.coreOffset + header.coreLength)
            let alignment = record.section == .ple ? PackLayout.pleAlignment(minorVersion: header.minorVersion) : PackLayout.tensorAlignment
            guard record.dataOffset % alignment == 0, record.dataOffset >= sectionRange.lowerBound,
                  record.dataLength <= sectionRange.upperBound - record.dataOffset,
                  let data = holder.bytes.slice(offset: record.dataOffset, length: record.dataLength)
            else { throw fail(.invalidLayout, recordOffset, "tensor '\(record.name)': data [\(record.dataOffset), +\(record.dataLength)) is misaligned or outside its section") }
            tensorIndex[record.name] = tensors.count
            tensors.append(Tensor(record: record, data: data))
        }
        for section in [PackSection.core, .ple] {
            let ordered = tensors.filter { $0.record.section == section }.sorted { $0.record.dataOffset < $1.record.dataOffset }
            for (a, b) in zip(ordered, ordered.dropFirst()) where a.record.dataOffset + a.record.dataLength > b.record.dataOffset {
                throw fail(.invalidLayout, nil, "tensors '\(a.record.name)' and '\(b.record.name)' overlap")
            }
        }
        self.header = header
        self.tensors = tensors
        self.tensorIndex = tensorIndex
    }

    private static func checkCompanion(_ file: MappedFile, indexChecksum: UInt64) throws(PackError) {
        func fail(_ offset: Int, _ message: String) -> PackError { PackError(.companionMismatch, file: file.path, offset: offset, message) }
        guard let head = file.bytes.slice(offset: 0, length: PackLayout.companionHeaderBytes)?.array else {
            throw fail(0, "too short for a companion PLE file")
        }
        guard Array(head[0..<8]) == PackLayout.companionMagic else { throw fail(0, "not a LayerPack PLE file (bad magic)") }
        guard XXHash64.hash(Array(head[0..<56])) == file.bytes.load(UInt64.self, at: 56) else { throw fail(56, "companion header checksum mismatch") }
        guard file.bytes.load(UInt64.self, at: 8) == indexChecksum else { throw fail(8, "this PLE file belongs to another pack") }
        guard file.bytes.load(UInt64.self, at: 16) == UInt64(file.count) else { throw fail(16, "companion length does not match (truncated?)") }
    }

    /// The tensor named `name`.
    public func tensor(named name: String) throws(PackError) -> Tensor {
        guard let index = tensorIndex[name] else { throw PackError(.invalidRequest, file: path, offset: nil, "no tensor named '\(name)'") }
        return tensors[index]
    }

    /// The block checksums of `tensor` (format 1.1 PLE tensors), or nil when it has none.
    public func blockChecksums(of tensor: Tensor) -> BlockChecksums? {
        let record = tensor.record
        guard record.blockCount > 0,
              let table = file.bytes.slice(offset: record.blockChecksumOffset, length: 8 * record.blockCount)  // checked when opened
        else { return nil }
        let sums = table.withUnsafeBytes { raw in
            (0..<record.blockCount).map { UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * $0, as: UInt64.self)) }
        }
        return BlockChecksums(bytes: tensor.data, blockSize: record.blockSize, checksums: sums, name: "tensor '\(record.name)'")
    }

    /// Throws unless `tensor`'s bytes match the checksum in its record.
    public func verifyChecksum(of tensor: Tensor) throws(PackError) {
        guard tensor.data.withUnsafeBytes({ XXHash64.hash($0) }) == tensor.record.checksum else {
            throw PackError(.checksumMismatch, file: tensor.data.file.path, offset: tensor.data.fileOffset,
                            "tensor '\(tensor.record.name)' does not match its checksum (the data is damaged)")
        }
    }

    /// The metadata JSON bytes (decoded by the caller when it needs them).
    public var metadataBytes: [UInt8] { file.bytes.slice(offset: header.metadataOffset, length: header.metadataLength)!.array }

    /// Where the metadata JSON starts in the file.
    public var metadataOffset: Int { header.metadataOffset }

    /// The format version the file declares.
    public var version: (major: UInt16, minor: UInt16) { (PackLayout.majorVersion, header.minorVersion) }

    /// The header, the sections and the index, in file order (the PLE section in its own file for a split pack).
    public var sections: [SourceSection] {
        var parts = [SourceSection(name: "header", file: path, offset: 0, bytes: PackLayout.headerBytes),
                     SourceSection(name: "core tensors", file: path, offset: header.coreOffset, bytes: header.coreLength)]
        if header.pleOffset > 0 {
            parts.append(SourceSection(name: "per-layer embeddings", file: companion?.path ?? path, offset: header.pleOffset,
                                       bytes: header.pleLength))
        }
        parts.append(SourceSection(name: "index and metadata", file: path, offset: header.indexOffset, bytes: header.indexLength))
        return parts
    }

    /// Whether the PLE section lives in a companion file.
    public var isSplit: Bool { companion != nil }

    /// Size of the core section, the PLE section and the index.
    public var sectionSizes: (core: Int, ple: Int, index: Int) { (header.coreLength, header.pleLength, header.indexLength) }

    /// Verifies every tensor checksum and block checksum and that every padding byte is zero; returns the problems
    /// found.
    public func verify() -> [String] {
        var problems: [String] = []
        for tensor in tensors {
            do { try verifyChecksum(of: tensor) } catch { problems.append("\(error)") }
            do { try blockChecksums(of: tensor)?.verifyAll() } catch { problems.append("\(error)") }
        }
        // Padding: every byte of each file not covered by the header, a tensor or the index must be zero.
        for holder in [file] + (companion.map { [$0] } ?? []) {
            var covered: [(Int, Int)] = [(0, holder === file ? PackLayout.headerBytes : PackLayout.companionHeaderBytes)]
            if holder === file { covered.append((header.indexOffset, header.indexLength)) }
            for tensor in tensors where tensor.data.file === holder { covered.append((tensor.data.fileOffset, tensor.data.count)) }
            covered.sort { $0.0 < $1.0 }
            var position = 0
            for (start, length) in covered + [(holder.count, 0)] {
                if start > position, let gap = holder.bytes.slice(offset: position, length: start - position),
                   let bad = gap.withUnsafeBytes({ $0.firstIndex(where: { $0 != 0 }) }) {
                    problems.append("\(holder.path): non-zero padding byte at offset \(Hex(position + bad)) (between \(Hex(position)) and \(Hex(start)))")
                }
                position = max(position, start + length)
            }
        }
        return problems
    }
}
