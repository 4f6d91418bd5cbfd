import ByteIO
import GGUFFormat
import TensorTypes

/// A GGUF file served as a ``TensorSource``; its metadata gives the configuration.
public struct GGUFSource: TensorSource {
    public let file: GGUFFile
    public let tensors: [TensorDescriptor]
    public let configuration: ModelConfiguration?

    public var path: String { file.path }
    public var formatName: String { "GGUF v\(file.version)" }
    public var fileBytes: Int { file.file.count }

    /// Opens and validates a GGUF file.
    public init(path: String) throws {
        file = try GGUFFile(path: path)
        tensors = file.tensors.map { tensor in
            TensorDescriptor(name: tensor.name, role: TensorRole(tensorName: tensor.name), storage: tensor.type.name,
                             shape: tensor.shape, byteCount: tensor.data.count, file: path,
                             fileOffset: tensor.data.fileOffset, isReadable: tensor.type.isDequantizable)
        }
        configuration = ModelConfiguration(gguf: file)
    }

    public func floats(_ name: String, rows: Range<Int>) throws -> [Float] {
        let tensor = try file.tensor(named: name)
        let rowCount = tensor.shape.rowCount
        guard rows.lowerBound >= 0, rows.upperBound <= rowCount else {
            throw TensorSourceError.rowsOutOfRange(tensor: name, rows: rows, rowCount: rowCount)
        }
        return try file.floats(tensor, rows: rows)
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
