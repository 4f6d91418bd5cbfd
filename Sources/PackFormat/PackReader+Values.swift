import ByteIO
import GGUFFormat
import TensorModel
import TensorTypes

extension PackReader {
    /// Rows `rows` of `tensor` as floats, decoded from whatever encoding it has (Formats/lpk.md §3, §5).
    /// - Throws: ``PackError`` for rows outside the tensor, attached files and types with no float conversion.
    public func floats(_ tensor: Tensor, rows: Range<Int>) throws(PackError) -> [Float] {
        let record = tensor.record
        let name = record.name
        let rowLength = record.shape.rowLength
        let rowCount = record.shape.rowCount
        guard rows.lowerBound >= 0, rows.upperBound <= rowCount else {
            throw PackError(.invalidRequest, file: path, offset: nil, "tensor '\(name)': rows \(rows.lowerBound):\(rows.upperBound) outside 0:\(rowCount)")
        }
        guard !rows.isEmpty, rowLength > 0 else { return [] }  // empty tensors may declare huge row lengths
        var values = [Float](repeating: 0, count: rows.count * rowLength)
        switch record.encoding {
        case .plain(let dtype):
            guard let rowBytes = dtype.byteCount(elements: rowLength), dtype.convertsToFloat else {
                throw PackError(.invalidRequest, file: path, offset: tensor.data.fileOffset, "tensor '\(name)': \(dtype.rawValue) has no float conversion")
            }
            let slice = tensor.data.slice(offset: rows.lowerBound * rowBytes, length: rows.count * rowBytes)!  // rows checked above
            do {
                try slice.withUnsafeBytes { raw in try LittleEndianDecoding.decode(raw, as: dtype, count: values.count, into: &values) }
            } catch {
                throw PackError(.invalidRequest, file: path, offset: tensor.data.fileOffset, "tensor '\(name)': \(error)")
            }
        case .ggml(let type):
            guard type.isDequantizable else {
                throw PackError(.invalidRequest, file: path, offset: tensor.data.fileOffset, "unsupported type \(type.name) in tensor '\(name)'")
            }
            let rowBytes = type.byteCount(elements: rowLength)!  // whole blocks, checked when opened
            let slice = tensor.data.slice(offset: rows.lowerBound * rowBytes, length: rows.count * rowBytes)!
            slice.withUnsafeBytes { raw in values.withUnsafeMutableBufferPointer { GGMLDequantizer.dequantize(type, raw, into: $0) } }
        case .rows(let scheme):
            let stride = record.rowStride
            let slice = tensor.data.slice(offset: rows.lowerBound * stride, length: rows.count * stride)!
            slice.withUnsafeBytes { raw in
                values.withUnsafeMutableBufferPointer { out in
                    for row in 0..<rows.count {
                        RowDequantizer.dequantize(UnsafeRawBufferPointer(rebasing: raw[(row * stride)..<((row + 1) * stride)]), scheme: scheme,
                                                  into: UnsafeMutableBufferPointer(rebasing: out[(row * rowLength)..<((row + 1) * rowLength)]))
                    }
                }
            }
        case .file:
            throw PackError(.invalidRequest, file: path, offset: tensor.data.fileOffset, "'\(name)' is an attached file, not a tensor")
        case .mlx:
            throw PackError(.invalidRequest, file: path, offset: tensor.data.fileOffset, "'\(name)': a pack holds no MLX groups")
        }
        return values
    }
}
