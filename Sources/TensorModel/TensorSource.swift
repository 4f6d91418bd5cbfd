import ByteIO
import TensorTypes

/// A model checkpoint seen as named tensors plus a configuration, whatever the container.
///
/// Safetensors checkpoints, GGUF files and (later) packs all serve this protocol; everything downstream
/// (inspection, quantization, inference) reads models only through it.
public protocol TensorSource: Sendable {
    /// The path that was opened.
    var path: String { get }
    /// The container, for display (`safetensors`, `GGUF v3`).
    var formatName: String { get }
    /// Every tensor, in the source's order.
    var tensors: [TensorDescriptor] { get }
    /// The model description, when the source carries one (config.json, GGUF metadata).
    var configuration: ModelConfiguration? { get }
    /// Total bytes of the source's files.
    var fileBytes: Int { get }
    /// Rows `rows` of the named tensor as `Float` (a row is the innermost dimension).
    func floats(_ name: String, rows: Range<Int>) throws -> [Float]
    /// The tensor's bytes as stored (in its ``TensorDescriptor/encoding``), zero-copy.
    func storedBytes(_ name: String) throws -> ByteView
    /// Runs every check opening skipped (full metadata decoding, every tensor readable); returns problems found.
    func deepCheck() -> [String]
}

extension TensorSource {
    /// The whole named tensor as `Float`.
    public func floats(_ name: String) throws -> [Float] {
        guard let descriptor = tensors.first(where: { $0.name == name }) else { throw TensorSourceError.noSuchTensor(name, path) }
        return try floats(name, rows: 0..<descriptor.shape.rowCount)
    }

    /// The descriptor of the named tensor.
    public func descriptor(_ name: String) throws -> TensorDescriptor {
        guard let descriptor = tensors.first(where: { $0.name == name }) else { throw TensorSourceError.noSuchTensor(name, path) }
        return descriptor
    }
}

/// Errors of opening or reading a model independent of its format.
public enum TensorSourceError: Error, CustomStringConvertible {
    case noSuchTensor(String, String)
    case rowsOutOfRange(tensor: String, rows: Range<Int>, rowCount: Int)
    case unrecognizedFormat(String)
    case invalidConfiguration(file: String, reason: String)

    public var description: String {
        switch self {
        case .noSuchTensor(let name, let path): "\(path): no tensor named '\(name)'"
        case .rowsOutOfRange(let tensor, let rows, let count):
            "tensor '\(tensor)': rows \(rows.lowerBound):\(rows.upperBound) outside 0:\(count)"
        case .unrecognizedFormat(let path): "\(path): not a safetensors file, GGUF file, or model directory"
        case .invalidConfiguration(let file, let reason): "\(file): \(reason)"
        }
    }
}
