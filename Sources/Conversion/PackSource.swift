import ByteIO
import GGUFFormat
import PackFormat
import Quantization
import TensorModel
import TensorTypes

/// A pack served as a ``TensorSource``: values decoded row by row from whatever encoding each tensor has.
public struct PackSource: TensorSource {
    public let pack: PackReader
    public let tensors: [TensorDescriptor]
    public let metadata: PackMetadata?
    public var path: String { pack.path }
    public var formatName: String { "LayerPack pack v1" + (pack.isSplit ? " (PLE in \(PackLayout.companionPath(of: pack.path)))" : "") }
    public var fileBytes: Int { pack.file.count + (pack.companion?.count ?? 0) }
    public var configuration: ModelConfiguration? { metadata?.configuration }

    /// Opens a pack and decodes its metadata.
    public init(path: String) throws {
        pack = try PackReader(path: path)
        metadata = try? PackMetadata.decode(pack.metadataBytes)
        tensors = pack.tensors.map { tensor in
            TensorDescriptor(name: tensor.record.name, role: tensor.record.role, encoding: tensor.record.encoding,
                             shape: tensor.record.shape, byteCount: tensor.record.dataLength, file: tensor.data.file.path,
                             fileOffset: tensor.data.fileOffset)
        }
    }

    public func storedBytes(_ name: String) throws -> ByteView { try pack.tensor(named: name).data }

    public func floats(_ name: String, rows: Range<Int>) throws -> [Float] {
        let tensor = try pack.tensor(named: name)
        let record = tensor.record
        let rowLength = record.shape.rowLength
        let rowCount = record.shape.rowCount
        guard rows.lowerBound >= 0, rows.upperBound <= rowCount else {
            throw TensorSourceError.rowsOutOfRange(tensor: name, rows: rows, rowCount: rowCount)
        }
        guard !rows.isEmpty, rowLength > 0 else { return [] }  // empty tensors may declare huge row lengths
        var values = [Float](repeating: 0, count: rows.count * rowLength)
        switch record.encoding {
        case .plain(let dtype):
            guard let rowBytes = dtype.byteCount(elements: rowLength), dtype.convertsToFloat else {
                throw PackError(file: path, offset: tensor.data.fileOffset, "tensor '\(name)': \(dtype.rawValue) has no float conversion")
            }
            let slice = tensor.data.slice(offset: rows.lowerBound * rowBytes, length: rows.count * rowBytes)!
            try slice.withUnsafeBytes { raw in try LittleEndianDecoding.decode(raw, as: dtype, count: values.count, into: &values) }
        case .ggml(let type):
            guard type.isDequantizable else {
                throw PackError(file: path, offset: tensor.data.fileOffset, "unsupported type \(type.name) in tensor '\(name)'")
            }
            let rowBytes = type.byteCount(elements: rowLength)!  // checked when opened
            let slice = tensor.data.slice(offset: rows.lowerBound * rowBytes, length: rows.count * rowBytes)!
            slice.withUnsafeBytes { raw in values.withUnsafeMutableBufferPointer { GGMLDequantizer.dequantize(type, raw, into: $0) } }
        case .rows(let scheme):
            let slice = tensor.data.slice(offset: rows.lowerBound * record.rowStride, length: rows.count * record.rowStride)!
            slice.withUnsafeBytes { raw in
                values.withUnsafeMutableBufferPointer { out in
                    for row in 0..<rows.count {
                        let record = UnsafeRawBufferPointer(rebasing: raw[(row * record.rowStride)..<((row + 1) * record.rowStride)])
                        RowDequantizer.dequantize(record, scheme: scheme, into: UnsafeMutableBufferPointer(rebasing: out[(row * rowLength)..<((row + 1) * rowLength)]))
                    }
                }
            }
        case .file:
            throw PackError(file: path, offset: tensor.data.fileOffset, "'\(name)' is an attached file, not a tensor")
        }
        return values
    }

    public func deepCheck() -> [String] {
        var problems = pack.verify()
        if metadata == nil { problems.append("\(path): metadata JSON could not be decoded") }
        return problems
    }
}
