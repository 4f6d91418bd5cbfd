import ByteIO
import GGUFFormat
import TensorModel
import TensorTypes

/// A GGUF file served as a ``TensorSource``; its metadata gives the configuration.
public struct GGUFSource: TensorSource {
    public let file: GGUFFile
    public let tensors: [TensorDescriptor]
    public let configuration: ModelConfiguration?

    public var path: String { file.path }
    public var format: SourceFormat { .gguf(version: Int(file.version)) }
    public var fileBytes: Int { file.file.count }
    public var attachments: [Attachment] { [] }
    public var provenance: Provenance? { nil }
    public func ggufMetadata() -> GGUFFile? { file }

    public var sections: [SourceSection] {
        [SourceSection(name: "header, metadata and tensor infos", file: path, offset: 0, bytes: file.dataOffset),
         SourceSection(name: "tensor data", file: path, offset: file.dataOffset, bytes: file.file.count - file.dataOffset)]
    }

    /// Opens and validates a GGUF file.
    public init(path: String) throws {
        file = try GGUFFile(path: path)
        tensors = file.tensors.map { tensor in
            TensorDescriptor(name: tensor.name, role: TensorRole(tensorName: tensor.name),
                             encoding: tensor.type.isQuantized ? .ggml(tensor.type) : .plain(Self.dtype(of: tensor.type)),
                             shape: tensor.shape, byteCount: tensor.data.count, file: path,
                             fileOffset: tensor.data.fileOffset)
        }
        configuration = try ModelConfiguration(gguf: file)
    }

    public func floats(_ name: String, rows: Range<Int>) throws -> [Float] {
        let tensor = try file.tensor(named: name)
        let rowCount = tensor.shape.rowCount
        guard rows.lowerBound >= 0, rows.upperBound <= rowCount else {
            throw TensorSourceError.rowsOutOfRange(path, tensor: name, rows: rows, rowCount: rowCount)
        }
        return try file.floats(tensor, rows: rows)
    }

    public func storedBytes(_ name: String) throws -> ByteView { try file.tensor(named: name).data }

    /// The safetensors dtype of a plain ggml type.
    static func dtype(of type: GGMLType) -> DType {
        switch type {
        case .f16: .f16
        case .bf16: .bf16
        case .f64: .f64
        case .i8: .i8
        case .i16: .i16
        case .i32: .i32
        case .i64: .i64
        default: .f32
        }
    }

    public func deepCheck() -> [String] {
        var problems: [String] = []
        do { try file.validateAll() } catch { problems.append("\(error)") }
        for tensor in file.tensors {
            do {
                let values = try file.floats(tensor)
                if tensor.type != .i8, tensor.type != .i16, tensor.type != .i32, tensor.type != .i64,
                   let bad = values.firstIndex(where: { !$0.isFinite }) {
                    problems.append("tensor '\(tensor.name)': non-finite value \(values[bad]) at element \(bad)")
                }
            } catch {
                problems.append("\(error)")
            }
        }
        return problems
    }
}
