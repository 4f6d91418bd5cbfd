import ByteIO
import Synchronization
import GGUFFormat
import PackFormat
import TensorModel
import TensorTypes

/// A pack served as a ``TensorSource``: values decoded row by row from whatever encoding each tensor has, attached
/// files as ``Attachment``s, the metadata as configuration and provenance.
public struct PackSource: TensorSource {
    public let pack: PackReader
    public let tensors: [TensorDescriptor]
    public let attachments: [Attachment]
    public let metadata: PackMetadata
    public var path: String { pack.path }
    public var format: SourceFormat {
        .pack(major: Int(pack.version.major), minor: Int(pack.version.minor), companion: pack.companion?.path)
    }
    public var fileBytes: Int { pack.file.count + (pack.companion?.count ?? 0) }
    public var configuration: ModelConfiguration? { metadata.configuration }
    public var provenance: Provenance? { metadata.provenance }
    public var sections: [SourceSection] { pack.sections }

    /// Opens a pack and decodes its metadata.
    /// - Throws: ``PackError`` when the pack or its metadata is damaged.
    public init(path: String) throws {
        pack = try PackReader(path: path)
        do {
            metadata = try PackMetadata.decode(pack.metadataBytes)
        } catch {
            throw PackError(.invalidMetadata, file: path, offset: pack.metadataOffset, "metadata JSON cannot be decoded: \(error)")
        }
        do {
            try metadata.configuration?.validate(file: path)
        } catch let error as TensorSourceError {
            throw PackError(.invalidMetadata, file: path, offset: pack.metadataOffset, "configuration \(error.location.map { "\($0): " } ?? "")\(error.message)")
        }
        var tensors: [TensorDescriptor] = []
        var attachments: [Attachment] = []
        for tensor in pack.tensors {
            if tensor.record.encoding == .file, let name = PackAttachments.attachmentName(ofRecord: tensor.record.name) {
                attachments.append(Attachment(name: name, bytes: tensor.data))
                continue
            }
            tensors.append(TensorDescriptor(name: tensor.record.name, role: tensor.record.role, encoding: tensor.record.encoding,
                                            shape: tensor.record.shape, byteCount: tensor.record.dataLength, file: tensor.data.file.path,
                                            fileOffset: tensor.data.fileOffset))
        }
        self.tensors = tensors
        self.attachments = attachments.filter { $0.name != PackAttachments.ggufMetadataName }
        carriedGGUFMetadata = attachments.first { $0.name == PackAttachments.ggufMetadataName }
    }

    /// The metadata of the GGUF this pack was made from, as carried.
    private let carriedGGUFMetadata: Attachment?

    public func ggufMetadata() throws -> GGUFFile? {
        guard let carried = carriedGGUFMetadata else { return nil }
        return try PackAttachments.decodeGGUFMetadata(carried.bytes, name: path + " (carried GGUF metadata)")
    }

    /// The tensor's bytes, its checksum verified the first time they are asked for.
    public func storedBytes(_ name: String) throws -> ByteView {
        let tensor = try pack.tensor(named: name)
        try verified.check(tensor, in: pack)
        return tensor.data
    }

    /// A PLE table with block checksums comes with them, unverified (each row's blocks are verified when first read);
    /// any other tensor is verified whole.
    public func lookupTable(_ name: String) throws -> LookupTable {
        let tensor = try pack.tensor(named: name)
        if let checksums = pack.blockChecksums(of: tensor) { return LookupTable(bytes: tensor.data, checksums: checksums) }
        try verified.check(tensor, in: pack)
        return LookupTable(bytes: tensor.data, checksums: nil)
    }

    public func floats(_ name: String, rows: Range<Int>) throws -> [Float] {
        let tensor = try pack.tensor(named: name)
        if let checksums = pack.blockChecksums(of: tensor), tensor.record.rowStride > 0 {
            let stride = tensor.record.rowStride
            try checksums.verify(max(0, rows.lowerBound) * stride..<(max(0, rows.upperBound) * stride))
        } else {
            try verified.check(tensor, in: pack)
        }
        return try pack.floats(tensor, rows: rows)
    }

    public func deepCheck() -> [String] { pack.verify() }

    /// The tensors whose checksums have been verified (shared by copies of this source).
    private let verified = VerifiedTensors()
}

/// Which of a pack's tensors have had their checksum verified. `@unchecked Sendable`: the set is guarded by a mutex.
private final class VerifiedTensors: @unchecked Sendable {
    private let names = Mutex(Set<String>())

    /// Verifies `tensor`'s checksum unless it was verified before.
    func check(_ tensor: PackReader.Tensor, in pack: PackReader) throws {
        let name = tensor.record.name
        guard !names.withLock({ $0.contains(name) }) else { return }
        try pack.verifyChecksum(of: tensor)
        names.withLock { _ = $0.insert(name) }
    }
}
