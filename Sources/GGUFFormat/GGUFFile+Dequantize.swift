import ByteIO
import TensorTypes

extension GGUFFile {
    /// A tensor's values as `Float`, dequantizing its blocks.
    /// - Throws: ``GGUFError`` `.unsupportedType` for types LayerPack cannot dequantize.
    public func floats(_ tensor: GGUFTensorInfo) throws(GGUFError) -> [Float] {
        try floats(tensor, rows: 0..<(tensor.elementCount / max(1, tensor.ne.first ?? 1)))
    }

    /// Rows `rows` of a tensor (a row is `ne[0]` elements) as `Float`.
    /// - Precondition: `rows` lies within the tensor's row count.
    public func floats(_ tensor: GGUFTensorInfo, rows: Range<Int>) throws(GGUFError) -> [Float] {
        guard tensor.type.isDequantizable else {
            throw GGUFError(file: path, offset: tensor.infoOffset, kind: .unsupportedType(tensor: tensor.name, type: tensor.type))
        }
        let rowLength = tensor.ne.first ?? 1
        let rowCount = rowLength == 0 ? 0 : tensor.elementCount / rowLength
        precondition(rows.lowerBound >= 0 && rows.upperBound <= rowCount, "rows out of range")
        // An empty tensor may declare a row length whose byte size overflows (e.g. ne = [2^62, 0]): nothing to read.
        guard !rows.isEmpty, rowLength > 0 else { return [] }
        let rowBytes = tensor.type.byteCount(elements: rowLength)!  // whole blocks, checked when opened
        let slice = tensor.data.slice(offset: rows.lowerBound * rowBytes, length: rows.count * rowBytes)!
        var values = [Float](repeating: 0, count: rows.count * rowLength)
        slice.withUnsafeBytes { source in
            values.withUnsafeMutableBufferPointer { GGMLDequantizer.dequantize(tensor.type, source, into: $0) }
        }
        return values
    }
}
