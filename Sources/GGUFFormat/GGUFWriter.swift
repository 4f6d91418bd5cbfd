import TensorTypes
import ByteIO

/// Writes a GGUF v3 file that llama.cpp's stricter loader accepts: names under 64 bytes, each offset the running
/// sum of the padded sizes before it, `general.alignment` a power of two (Formats/gguf.md).
public enum GGUFWriter {
    /// A tensor to be written; its bytes come later from the producer.
    public struct Tensor: Sendable {
        public let name: String
        public let type: GGMLType
        /// ggml order: ne[0] is the row length.
        public let ne: [Int]
        public init(name: String, type: GGMLType, ne: [Int]) {
            self.name = name
            self.type = type
            self.ne = ne
        }
        var byteCount: Int? { TensorShape(ne).flatMap { type.byteCount(elements: $0.elementCount) } }
    }

    /// A writer misuse (bad names or shapes, a producer that wrote the wrong amount), naming the output and tensor.
    public struct Invalid: LayerPackError {
        /// The only kind: the writer was asked for something GGUF (or llama.cpp's loader) cannot hold.
        public enum Kind: Sendable, Equatable { case misuse }
        public var kind: Kind { .misuse }
        public let path: String?
        public let location: ErrorLocation?
        public let message: String
    }

    /// Writes `tensors` with the given encoded metadata (key/value pairs exactly as GGUF stores them).
    /// `produce(index, sink)` must write exactly that tensor's bytes.
    public static func write(
        to path: String, metadataCount: Int, encodedMetadata: [UInt8], alignment: Int,
        tensors: [Tensor], produce: (Int, AtomicFileWriter) throws -> Void
    ) throws {
        guard alignment > 0, alignment & (alignment - 1) == 0 else { throw Invalid(path: path, location: nil, message: "alignment \(alignment) is not a power of two") }
        var header = ByteBuilderLE()
        header.raw(Array("GGUF".utf8))
        header.u32(3)
        header.u64(UInt64(tensors.count))
        header.u64(UInt64(metadataCount))
        header.raw(encodedMetadata)
        var offset = 0
        var names = Set<String>()
        for tensor in tensors {
            guard !tensor.name.isEmpty, tensor.name.utf8.count < 64, names.insert(tensor.name).inserted else {
                throw Invalid(path: path, location: .tensor(tensor.name), message: "the name is empty, repeated or 64 bytes or longer (llama.cpp's limit)")
            }
            guard (1...4).contains(tensor.ne.count), let size = tensor.byteCount, (tensor.ne.first ?? 0) % tensor.type.blockSize == 0 else {
                throw Invalid(path: path, location: .tensor(tensor.name), message: "shape \(tensor.ne) cannot be stored as \(tensor.type.name)")
            }
            header.string(tensor.name)
            header.u32(UInt32(tensor.ne.count))
            for dimension in tensor.ne { header.u64(UInt64(dimension)) }
            header.u32(tensor.type.rawValue)
            header.u64(UInt64(offset))
            offset += (size + alignment - 1) / alignment * alignment
        }
        let sink = try AtomicFileWriter(destination: path)
        try sink.write(header.bytes)
        try sink.writeZeros((alignment - header.bytes.count % alignment) % alignment)
        for (index, tensor) in tensors.enumerated() {
            let before = sink.bytesWritten
            try produce(index, sink)
            let written = sink.bytesWritten - before
            guard written == tensor.byteCount! else {
                throw Invalid(path: path, location: .tensor(tensor.name), message: "producer wrote \(written) bytes, expected \(tensor.byteCount!)")
            }
            try sink.writeZeros((alignment - written % alignment) % alignment)
        }
        try sink.commit()
    }

    /// Encodes metadata pairs as GGUF stores them (for files that carry no encoded metadata of their own).
    public static func encode(metadata: [(String, GGUFValue)]) -> [UInt8] {
        var builder = ByteBuilderLE()
        for (key, value) in metadata {
            builder.string(key)
            builder.value(value)
        }
        return builder.bytes
    }
}

/// Little-endian byte assembly for the writer.
struct ByteBuilderLE {
    var bytes: [UInt8] = []
    mutating func raw(_ more: [UInt8]) { bytes += more }
    mutating func u32(_ value: UInt32) { withUnsafeBytes(of: value.littleEndian) { bytes += $0 } }
    mutating func u64(_ value: UInt64) { withUnsafeBytes(of: value.littleEndian) { bytes += $0 } }
    mutating func string(_ text: String) {
        u64(UInt64(text.utf8.count))
        bytes += Array(text.utf8)
    }
    mutating func value(_ value: GGUFValue) {
        u32(value.type.rawValue)
        switch value {
        case .uint8(let v): bytes.append(v)
        case .int8(let v): bytes.append(UInt8(bitPattern: v))
        case .uint16(let v): withUnsafeBytes(of: v.littleEndian) { bytes += $0 }
        case .int16(let v): withUnsafeBytes(of: v.littleEndian) { bytes += $0 }
        case .uint32(let v): u32(v)
        case .int32(let v): u32(UInt32(bitPattern: v))
        case .uint64(let v): u64(v)
        case .int64(let v): u64(UInt64(bitPattern: v))
        case .float32(let v): u32(v.bitPattern)
        case .float64(let v): u64(v.bitPattern)
        case .bool(let v): bytes.append(v ? 1 : 0)
        case .string(let v): string(v)
        case .array(let array):
            u32(array.elementType.rawValue)
            u64(UInt64(array.count))
            bytes += array.bytes.array
        }
    }
}

extension GGUFArray {
    /// An array to write, of `values` all of one scalar type (`elementType`); nested arrays are not written (llama.cpp
    /// refuses them).
    /// - Precondition: every value has type `elementType`, which is not `.array`.
    public init(of elementType: GGUFValueType, _ values: [GGUFValue]) {
        precondition(elementType != .array && values.allSatisfy { $0.type == elementType }, "one scalar type per array")
        var builder = ByteBuilderLE()
        for value in values {
            let encoded = ByteBuilderLE.encoded(value)
            builder.raw(Array(encoded.dropFirst(4)))  // the element type is stated once, for the whole array
        }
        self.init(elementType: elementType, count: values.count,
                  bytes: MappedFile(bytes: builder.bytes, name: "GGUF array").bytes, limits: GGUFLimits())
    }
}

extension ByteBuilderLE {
    /// `value` with its type, as a metadata value is encoded.
    static func encoded(_ value: GGUFValue) -> [UInt8] {
        var builder = ByteBuilderLE()
        builder.value(value)
        return builder.bytes
    }
}
