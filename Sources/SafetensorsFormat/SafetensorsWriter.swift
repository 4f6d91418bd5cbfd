import ByteIO
import StrictJSON
import TensorTypes

/// Writes a `.safetensors` file atomically, streaming one tensor at a time.
///
/// The header lists tensors in the given order with contiguous offsets and is padded with spaces to a multiple
/// of 8 bytes, as the reference writer does. The file appears at the destination only once every byte is written.
public struct SafetensorsWriter {
    /// A tensor to be written: its name, type and shape (the bytes come later, from the producer).
    public struct Entry: Sendable {
        public let name: String
        public let dtype: DType
        public let shape: TensorShape
        public init(name: String, dtype: DType, shape: TensorShape) {
            self.name = name
            self.dtype = dtype
            self.shape = shape
        }
        /// The bytes this tensor occupies.
        public var byteCount: Int { dtype.byteCount(elements: shape.elementCount)! }
    }

    /// A writer's misuse or failure, naming the output and the tensor.
    public struct WriteError: LayerPackError {
        /// What went wrong.
        public enum Kind: Sendable, Equatable {
            case system
            case wrongByteCount
            case duplicateName
            case invalidSize
        }

        public let kind: Kind
        public let path: String?
        public let location: ErrorLocation?
        public let message: String

        init(_ kind: Kind, path: String, tensor: String?, _ message: String) {
            self.kind = kind
            self.path = path
            location = tensor.map(ErrorLocation.tensor)
            self.message = message
        }
    }

    /// Writes `entries` to `path`; `produce(index, sink)` must write exactly that entry's bytes to `sink`.
    public static func write(
        to path: String, entries: [Entry], metadata: [String: String] = [:],
        produce: (Int, AtomicFileWriter) throws -> Void
    ) throws {
        var seen = Set<String>()
        var parts: [String] = []
        if !metadata.isEmpty {
            let fields = metadata.sorted { $0.key < $1.key }.map { JSONString.quoted($0.key) + ":" + JSONString.quoted($0.value) }
            parts.append("\"__metadata__\":{" + fields.joined(separator: ",") + "}")
        }
        var offset = 0
        for entry in entries {
            guard seen.insert(entry.name).inserted else { throw WriteError(.duplicateName, path: path, tensor: entry.name, "listed twice") }
            guard entry.dtype.byteCount(elements: entry.shape.elementCount) != nil else {
                throw WriteError(.invalidSize, path: path, tensor: entry.name, "shape does not fill whole bytes")
            }
            let end = offset + entry.byteCount
            parts.append(JSONString.quoted(entry.name) + ":{\"dtype\":\"\(entry.dtype.rawValue)\",\"shape\":["
                + entry.shape.dimensions.map(String.init).joined(separator: ",")
                + "],\"data_offsets\":[\(offset),\(end)]}")
            offset = end
        }
        var header = Array(("{" + parts.joined(separator: ",") + "}").utf8)
        while header.count % 8 != 0 { header.append(UInt8(ascii: " ")) }

        let sink: AtomicFileWriter
        do { sink = try AtomicFileWriter(destination: path) } catch { throw WriteError(.system, path: path, tensor: nil, error.message) }
        var length = UInt64(header.count).littleEndian
        do {
            try sink.write(withUnsafeBytes(of: &length) { Array($0) } + header)
        } catch { throw WriteError(.system, path: path, tensor: nil, error.message) }
        for (index, entry) in entries.enumerated() {
            let before = sink.bytesWritten
            try produce(index, sink)
            let written = sink.bytesWritten - before
            guard written == entry.byteCount else {
                throw WriteError(.wrongByteCount, path: path, tensor: entry.name, "producer wrote \(written) bytes, expected \(entry.byteCount)")
            }
        }
        do { try sink.commit() } catch { throw WriteError(.system, path: path, tensor: nil, error.message) }
    }
}
