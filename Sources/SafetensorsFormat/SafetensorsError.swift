import ByteIO
import StrictJSON
import TensorTypes

/// Why a safetensors file or checkpoint was refused: the file, the byte offset, and what is wrong.
public struct SafetensorsError: LayerPackError {
    /// What is wrong.
    public enum Kind: Sendable, Equatable {
        case fileTooSmall
        case headerTooLarge(length: UInt64, limit: Int)
        case headerBeyondFile(length: UInt64, fileSize: Int)
        case headerNotJSONObject
        case invalidJSON(String)
        case invalidMetadata(String)
        case invalidEntry(tensor: String, reason: String)
        case unknownDType(tensor: String, dtype: String)
        case shapeOverflow(tensor: String, shape: [UInt64])
        case sizeMismatch(tensor: String, begin: UInt64, end: UInt64, shape: [Int], dtype: DType)
        case notContiguous(tensor: String, begin: UInt64, expected: UInt64)
        case incompleteBuffer(coveredBytes: UInt64, bufferBytes: Int)
        case tooManyTensors(count: Int, limit: Int)
        case noFloatConversion(tensor: String, dtype: DType)
        case noSuchTensor(String)
        case system(SystemCallError)
        case invalidIndex(String)
        case duplicateTensor(tensor: String, otherFile: String)
        case noSafetensorsFiles
    }

    /// The file the problem is in.
    public let file: String
    /// Byte offset of the problem in that file (`nil` when it concerns the whole file).
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
        case .fileTooSmall: return "file is smaller than the 8-byte header length"
        case .headerTooLarge(let length, let limit): return "header length \(length) exceeds the limit of \(limit) bytes"
        case .headerBeyondFile(let length, let size): return "header length \(length) runs past the end of the \(size)-byte file"
        case .headerNotJSONObject: return "header is not a JSON object"
        case .invalidJSON(let reason): return "header is not valid JSON: \(reason)"
        case .invalidMetadata(let reason): return "__metadata__ \(reason)"
        case .invalidEntry(let tensor, let reason): return "tensor '\(tensor)': \(reason)"
        case .unknownDType(let tensor, let dtype):
            return "tensor '\(tensor)': unknown dtype \"\(dtype)\" (known: \(DType.allCases.map(\.rawValue).joined(separator: ", ")))"
        case .shapeOverflow(let tensor, let shape): return "tensor '\(tensor)': shape \(shape) has more elements than fit in 64 bits"
        case .sizeMismatch(let tensor, let begin, let end, let shape, let dtype):
            let needed = TensorShape(shape).flatMap { dtype.byteCount(elements: $0.elementCount) }
            let held = end >= begin ? "hold \(end - begin) bytes" : "end before they begin"
            return "tensor '\(tensor)': data_offsets [\(begin), \(end)) \(held) but shape \(shape) \(dtype.rawValue) needs "
                + (needed.map { "\($0) bytes" } ?? "a whole number of bytes")
        case .notContiguous(let tensor, let begin, let expected):
            return "tensor '\(tensor)': data starts at \(begin) but the previous tensor ends at \(expected) (offsets must be contiguous and non-overlapping)"
        case .incompleteBuffer(let covered, let buffer):
            return "tensors cover \(covered) bytes but the data buffer holds \(buffer) (trailing or missing bytes)"
        case .tooManyTensors(let count, let limit): return "\(count) tensors exceed the limit of \(limit)"
        case .noFloatConversion(let tensor, let dtype): return "tensor '\(tensor)': \(dtype.rawValue) has no float conversion"
        case .noSuchTensor(let name): return "no tensor named '\(name)'"
        case .system(let error): return error.description
        case .invalidIndex(let reason): return "invalid index: \(reason)"
        case .duplicateTensor(let tensor, let other): return "tensor '\(tensor)' also appears in \(other)"
        case .noSafetensorsFiles: return "no .safetensors files found"
        }
    }
}
