import ByteIO

/// Why a GGUF file was refused: the file, the byte offset, and what is wrong.
public struct GGUFError: LayerPackError {
    /// What is wrong.
    public enum Kind: Sendable, Equatable {
        case badMagic([UInt8])
        case unsupportedVersion(UInt32)
        case bigEndian
        case truncated(what: String, needed: Int, available: Int)
        case countTooLarge(what: String, count: UInt64, available: Int)
        case invalidKey(String)
        case duplicateKey(String)
        case unknownValueType(key: String, type: UInt32)
        case invalidValue(key: String, reason: String)
        case invalidString(what: String, reason: String)
        case arrayTooDeep(key: String)
        case badAlignment(String)
        case invalidTensorName(String)
        case duplicateTensor(String)
        case tooManyDimensions(tensor: String, count: UInt32, limit: Int)
        case shapeOverflow(tensor: String, dimensions: [UInt64])
        case unknownType(tensor: String, id: UInt32)
        case notWholeBlocks(tensor: String, type: GGMLType, rowLength: Int)
        case misalignedOffset(tensor: String, offset: UInt64, alignment: Int)
        case dataOutOfBounds(tensor: String, offset: UInt64, size: Int, dataSize: Int)
        case overlappingTensors(String, String)
        case unsupportedType(tensor: String, type: GGMLType)
        case noSuchTensor(String)
        case system(SystemCallError)
    }

    /// The file the problem is in.
    public let file: String
    /// Byte offset of the problem (`nil` when it concerns no single place).
    public let offset: Int?
    /// What is wrong.
    public let kind: Kind

    public init(file: String, offset: Int?, kind: Kind) {
        self.file = file
        self.offset = offset
        self.kind = kind
    }

    /// The file the problem is in (``LayerPackError``).
    public var path: String? { file }
    /// The byte offset, when the problem has one.
    public var location: ErrorLocation? { offset.map(ErrorLocation.offset) }

    public var message: String {
        switch kind {
        case .badMagic(let bytes): return "not a GGUF file (magic \(bytes.map { String($0, radix: 16) }))"
        case .unsupportedVersion(let v): return "GGUF version \(v) is not supported (versions 2 and 3 are)"
        case .bigEndian: return "big-endian GGUF files are not supported"
        case .truncated(let what, let needed, let available):
            return "truncated \(what): needs \(needed) bytes but only \(available) remain"
        case .countTooLarge(let what, let count, let available):
            return "\(what) count \(count) cannot fit in the \(available) bytes that remain"
        case .invalidKey(let reason): return "invalid metadata key: \(reason)"
        case .duplicateKey(let key): return "duplicate metadata key '\(key)'"
        case .unknownValueType(let key, let type): return "metadata '\(key)': unknown value type \(type)"
        case .invalidValue(let key, let reason): return "metadata '\(key)': \(reason)"
        case .invalidString(let what, let reason): return "\(what): \(reason)"
        case .arrayTooDeep(let key): return "metadata '\(key)': arrays nested too deeply"
        case .badAlignment(let reason): return "general.alignment \(reason)"
        case .invalidTensorName(let reason): return "invalid tensor name: \(reason)"
        case .duplicateTensor(let name): return "duplicate tensor '\(name)'"
        case .tooManyDimensions(let tensor, let count, let limit): return "tensor '\(tensor)': \(count) dimensions (at most \(limit))"
        case .shapeOverflow(let tensor, let dims): return "tensor '\(tensor)': dimensions \(dims) overflow the element count"
        case .unknownType(let tensor, let id): return "tensor '\(tensor)': unknown ggml type id \(id)"
        case .notWholeBlocks(let tensor, let type, let rowLength):
            return "tensor '\(tensor)': row length \(rowLength) is not a multiple of \(type.name)'s block size \(type.blockSize)"
        case .misalignedOffset(let tensor, let offset, let alignment):
            return "tensor '\(tensor)': data offset \(offset) is not a multiple of the alignment \(alignment)"
        case .dataOutOfBounds(let tensor, let offset, let size, let dataSize):
            return "tensor '\(tensor)': \(size) bytes at data offset \(offset) run past the \(dataSize)-byte data section"
        case .overlappingTensors(let a, let b): return "tensors '\(a)' and '\(b)' overlap"
        case .unsupportedType(let tensor, let type):
            return "unsupported type \(type.name) in tensor '\(tensor)' (supported: \(GGMLType.dequantizable.map(\.name).joined(separator: ", ")))"
        case .noSuchTensor(let name): return "no tensor named '\(name)'"
        case .system(let error): return error.description
        }
    }
}
