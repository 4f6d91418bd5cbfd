import ByteIO

/// Why a pack (or its companion `.ple` file, or a `.lpkz`) could not be opened, read or written: the kind, the file,
/// the byte offset and what is wrong.
public struct PackError: LayerPackError {
    /// What kind of problem.
    public enum Kind: Sendable, Equatable {
        /// The file could not be opened or mapped.
        case system
        /// Shorter (or longer) than its header says.
        case truncated
        /// Not a LayerPack file at all (bad magic).
        case notAPack
        /// A major version this reader does not read.
        case unsupportedVersion
        /// A checksum does not match: the header, the index, a tensor or a decompressed file is damaged.
        case checksumMismatch
        /// A header field is out of range or a reserved field is set.
        case invalidHeader
        /// A tensor record is wrong (unknown ids, impossible lengths, bad names).
        case invalidRecord
        /// Tensors overlap, repeat, or lie outside their section.
        case invalidLayout
        /// The companion PLE file is missing, belongs to another pack, or is damaged.
        case companionMismatch
        /// The metadata JSON cannot be decoded.
        case invalidMetadata
        /// No tensor of that name, rows outside the tensor, or a tensor that has no float values.
        case invalidRequest
        /// A writer was asked to write something the format cannot hold.
        case writerMisuse
        /// A `.lpkz` file is damaged.
        case invalidCompressedPack
    }

    public let kind: Kind
    public let file: String
    public let offset: Int?
    public let message: String

    public init(_ kind: Kind, file: String, offset: Int?, _ message: String) {
        self.kind = kind
        self.file = file
        self.offset = offset
        self.message = message
    }

    public var path: String? { file }
    public var location: ErrorLocation? { offset.map(ErrorLocation.offset) }
}
