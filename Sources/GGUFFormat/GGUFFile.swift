import ByteIO
import TensorTypes

/// A validated, memory-mapped GGUF file (versions 2 and 3).
///
/// Format: Formats/gguf.md. Opening reads the header, the metadata and the tensor infos, checks every count,
/// length, shape, type and offset against the file, and touches no tensor data. Arrays in the metadata are walked
/// but not decoded (see ``GGUFArray``).
public struct GGUFFile: Sendable {
    /// The default `general.alignment`.
    public static let defaultAlignment = 32

    /// The path the file was opened from.
    public var path: String { file.path }
    /// The format version (2 or 3).
    public let version: UInt32
    /// Metadata in file order.
    public let metadata: [(key: String, value: GGUFValue)]
    /// Tensors in file order.
    public let tensors: [GGUFTensorInfo]
    /// The data section's alignment.
    public let alignment: Int
    /// Offset of the data section in the file.
    public let dataOffset: Int
    /// The mapped file.
    public let file: MappedFile
    /// The encoded metadata key/value pairs exactly as stored (after the 24-byte header, before the tensor infos).
    public let encodedMetadata: ByteView
    private let metadataIndex: [String: Int]
    private let tensorIndex: [String: Int]

    /// Maps and validates the file at `path`.
    public init(path: String, limits: GGUFLimits = GGUFLimits()) throws(GGUFError) {
        let file: MappedFile
        do { file = try MappedFile(path: path) } catch { throw GGUFError(file: path, offset: nil, kind: .system(error)) }
        try self.init(file: file, limits: limits)
    }

    /// Validates bytes already in memory or mapped.
    public init(file: MappedFile, limits: GGUFLimits = GGUFLimits()) throws(GGUFError) {
        self.file = file
        var cursor = GGUFCursor(file.bytes)
        let magic = try cursor.view(count: 4, "magic").array
        guard magic == Array("GGUF".utf8) else { throw cursor.fail(.badMagic(magic), at: 0) }
        let version = try cursor.read(UInt32.self, "version")
        guard version == 2 || version == 3 else {
            throw cursor.fail(version.byteSwapped == 2 || version.byteSwapped == 3 ? .bigEndian : .unsupportedVersion(version), at: 4)
        }
        self.version = version
        let tensorCount = try cursor.read(UInt64.self, "tensor count")
        let metadataCount = try cursor.read(UInt64.self, "metadata count")
        // A tensor info takes at least 8 + 4 + 4 + 8 bytes, a key/value at least 8 + 4 + 1.
        guard tensorCount <= UInt64(cursor.remaining / 24) else {
            throw cursor.fail(.countTooLarge(what: "tensor", count: tensorCount, available: cursor.remaining), at: 8)
        }
        guard metadataCount <= UInt64(cursor.remaining / 13) else {
            throw cursor.fail(.countTooLarge(what: "metadata", count: metadataCount, available: cursor.remaining), at: 16)
        }

        // Metadata.
        var metadata: [(key: String, value: GGUFValue)] = []
        var metadataIndex: [String: Int] = [:]
        metadata.reserveCapacity(Int(metadataCount))
        for _ in 0..<Int(metadataCount) {
            let keyOffset = cursor.fileOffset
            let key = try GGUFMetadataReader.readString(from: &cursor, what: "metadata key", maxBytes: limits.maxKeyBytes)
            guard !key.isEmpty else { throw cursor.fail(.invalidKey("empty key"), at: keyOffset) }
            guard metadataIndex[key] == nil else { throw cursor.fail(.duplicateKey(key), at: keyOffset) }
            let type = try GGUFMetadataReader.readType(from: &cursor, key: key)
            let value = try GGUFMetadataReader.readValue(of: type, from: &cursor, depth: 0, limits: limits, key: key)
            metadataIndex[key] = metadata.count
            metadata.append((key, value))
        }
        self.metadata = metadata
        self.metadataIndex = metadataIndex
        self.encodedMetadata = file.bytes.slice(offset: 24, length: cursor.fileOffset - 24)!  // read above

        // Alignment.
        var alignment = Self.defaultAlignment
        if let index = metadataIndex["general.alignment"] {
            guard case .uint32(let value) = metadata[index].value else {
                throw cursor.fail(.badAlignment("must be a UINT32, found \(metadata[index].value.type.name)"), at: nil)
            }
            guard value > 0, value & (value - 1) == 0 else {
                throw cursor.fail(.badAlignment("\(value) is not a power of two"), at: nil)
            }
            alignment = Int(value)
        }
        self.alignment = alignment

        // Tensor infos.
        var pending: [(name: String, type: GGMLType, ne: [Int], offset: UInt64, size: Int, infoOffset: Int)] = []
        var tensorIndex: [String: Int] = [:]
        for _ in 0..<Int(tensorCount) {
            let infoOffset = cursor.fileOffset
            let name = try GGUFMetadataReader.readString(from: &cursor, what: "tensor name")
            guard !name.isEmpty else { throw cursor.fail(.invalidTensorName("empty name"), at: infoOffset) }
            guard name.utf8.count <= limits.maxTensorNameBytes else {
                throw cursor.fail(.invalidTensorName("'\(name.prefix(80))' is longer than \(limits.maxTensorNameBytes) bytes"), at: infoOffset)
            }
            guard tensorIndex[name] == nil else { throw cursor.fail(.duplicateTensor(name), at: infoOffset) }
            let dimensionCount = try cursor.read(UInt32.self, "dimension count of '\(name)'")
            guard dimensionCount <= UInt32(limits.maxDimensions) else {
                throw cursor.fail(.tooManyDimensions(tensor: name, count: dimensionCount, limit: limits.maxDimensions), at: infoOffset)
            }
            var dimensions: [UInt64] = []
            for _ in 0..<Int(dimensionCount) { dimensions.append(try cursor.read(UInt64.self, "dimensions of '\(name)'")) }
            let typeOffset = cursor.fileOffset
            let typeID = try cursor.read(UInt32.self, "type of '\(name)'")
            let offset = try cursor.read(UInt64.self, "offset of '\(name)'")
            guard let ne = dimensions.map({ Int(exactly: $0) ?? -1 }) as [Int]?, let shape = TensorShape(ne) else {
                throw cursor.fail(.shapeOverflow(tensor: name, dimensions: dimensions), at: infoOffset)
            }
            guard let type = GGMLType(rawValue: typeID) else { throw cursor.fail(.unknownType(tensor: name, id: typeID), at: typeOffset) }
            guard (ne.first ?? 1) % type.blockSize == 0 else {
                throw cursor.fail(.notWholeBlocks(tensor: name, type: type, rowLength: ne.first ?? 1), at: infoOffset)
            }
            guard let size = type.byteCount(elements: shape.elementCount) else {
                throw cursor.fail(.shapeOverflow(tensor: name, dimensions: dimensions), at: infoOffset)
            }
            guard offset % UInt64(alignment) == 0 else {
                throw cursor.fail(.misalignedOffset(tensor: name, offset: offset, alignment: alignment), at: infoOffset)
            }
            tensorIndex[name] = pending.count
            pending.append((name, type, ne, offset, size, infoOffset))
        }

        // Data section: the first multiple of the alignment after the infos.
        let headerEnd = cursor.fileOffset
        let padding = (alignment - headerEnd % alignment) % alignment
        let dataOffset = headerEnd + padding
        let dataSize = max(0, file.count - dataOffset)
        if !pending.isEmpty && dataOffset > file.count {
            throw cursor.fail(.truncated(what: "data section", needed: padding, available: file.count - headerEnd), at: headerEnd)
        }
        self.dataOffset = dataOffset

        var tensors: [GGUFTensorInfo] = []
        tensors.reserveCapacity(pending.count)
        for entry in pending {
            guard entry.offset <= UInt64(dataSize), entry.size <= dataSize - Int(entry.offset) else {
                throw cursor.fail(.dataOutOfBounds(tensor: entry.name, offset: entry.offset, size: entry.size, dataSize: dataSize),
                                  at: entry.infoOffset)
            }
            let view = file.bytes.slice(offset: dataOffset + Int(entry.offset), length: entry.size)!  // checked above
            tensors.append(GGUFTensorInfo(name: entry.name, type: entry.type, ne: entry.ne, offset: Int(entry.offset),
                                          data: view, infoOffset: entry.infoOffset))
        }
        let byOffset = tensors.sorted { ($0.offset, $0.data.count) < ($1.offset, $1.data.count) }
        for (previous, next) in zip(byOffset, byOffset.dropFirst()) where previous.offset + previous.data.count > next.offset {
            throw cursor.fail(.overlappingTensors(previous.name, next.name), at: next.infoOffset)
        }
        self.tensors = tensors
        self.tensorIndex = tensorIndex
    }

    // MARK: - Lookup

    /// The metadata value for `key`, if present.
    public subscript(key: String) -> GGUFValue? { metadataIndex[key].map { metadata[$0].value } }

    /// The tensor named `name`.
    public func tensor(named name: String) throws(GGUFError) -> GGUFTensorInfo {
        guard let index = tensorIndex[name] else { throw GGUFError(file: path, offset: nil, kind: .noSuchTensor(name)) }
        return tensors[index]
    }

    /// Whether the file has a tensor named `name`.
    public func contains(_ name: String) -> Bool { tensorIndex[name] != nil }

    /// The architecture named by `general.architecture`, if present.
    public var architecture: String? { self["general.architecture"]?.stringValue }

    /// Decodes every metadata array, checking the UTF-8 of every string; the checks opening leaves for later.
    public func validateAll() throws(GGUFError) {
        func walk(_ value: GGUFValue) throws(GGUFError) {
            guard case .array(let array) = value else { return }
            for element in try array.elements() { try walk(element) }
        }
        for entry in metadata { try walk(entry.value) }
    }
}
