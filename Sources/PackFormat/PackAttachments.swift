import ByteIO
import GGUFFormat

/// Files a pack carries beside its tensors (Formats/lpk.md §8): records with encoding 3 named `file:NAME`.
///
/// A Hugging Face source's `config.json` and tokenizer files travel under their own names; a GGUF source's metadata
/// travels as `file:gguf-metadata`, its key count (u64) followed by the key/value bytes exactly as the GGUF stored
/// them, so an export can write them back and the tokenizer can read them.
public enum PackAttachments {
    /// The prefix of an attached file's record name.
    public static let recordPrefix = "file:"
    /// The name of the attachment holding a GGUF source's metadata.
    public static let ggufMetadataName = "gguf-metadata"

    /// The record name of the attachment called `name`.
    public static func recordName(of name: String) -> String { recordPrefix + name }

    /// The attachment's name if `recordName` names one.
    public static func attachmentName(ofRecord recordName: String) -> String? {
        recordName.hasPrefix(recordPrefix) ? String(recordName.dropFirst(recordPrefix.count)) : nil
    }

    /// The `gguf-metadata` attachment of `file`.
    public static func encodeGGUFMetadata(_ file: GGUFFile) -> [UInt8] {
        var bytes: [UInt8] = []
        withUnsafeBytes(of: UInt64(file.metadata.count).littleEndian) { bytes += $0 }
        return bytes + file.encodedMetadata.array
    }

    /// Reads a `gguf-metadata` attachment back as a GGUF file with no tensors.
    /// - Parameter name: stands in for a path in error messages.
    /// - Throws: ``GGUFError`` when the carried bytes are damaged.
    public static func decodeGGUFMetadata(_ bytes: ByteView, name: String) throws -> GGUFFile {
        guard let count = bytes.load(UInt64.self, at: 0), let body = bytes.slice(offset: 8, length: bytes.count - 8) else {
            throw GGUFError(file: name, offset: 0, kind: .truncated(what: "carried metadata key count", needed: 8, available: bytes.count))
        }
        var header = Array("GGUF".utf8)
        withUnsafeBytes(of: UInt32(3).littleEndian) { header += $0 }
        withUnsafeBytes(of: UInt64(0).littleEndian) { header += $0 }
        withUnsafeBytes(of: count.littleEndian) { header += $0 }
        return try GGUFFile(file: MappedFile(bytes: header + body.array, name: name))
    }
}
