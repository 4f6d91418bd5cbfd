import TensorTypes

/// Turns row records back into floats: a scalar reference and a faster path that tests hold to it.
public enum RowDequantizer {
    /// The plain, obviously-correct decoder every faster kernel is tested against.
    public static func dequantizeReference(_ record: UnsafeRawBufferPointer, scheme: QuantizationScheme,
                                           into row: UnsafeMutableBufferPointer<Float>) {
        let length = row.count
        let groupLength = scheme.columnsPerGroup(rowLength: length)
        let groups = scheme.groups(rowLength: length)
        precondition(record.count >= scheme.recordBytes(rowLength: length), "record too small")
        for column in 0..<length {
            let group = column / groupLength
            let scale = FloatConversion.float(fromHalf: UInt16(record[2 * group]) | UInt16(record[2 * group + 1]) << 8)
            let q: Int
            if scheme.bits == 8 {
                q = Int(Int8(bitPattern: record[2 * groups + column]))
            } else {
                let byte = record[2 * groups + column / 2]
                q = Int(column % 2 == 0 ? byte & 0xF : byte >> 4) - 8
            }
            row[column] = Float(q) * scale
        }
    }

    /// Decodes a record group by group with the scale hoisted and nibbles unpacked in pairs.
    public static func dequantize(_ record: UnsafeRawBufferPointer, scheme: QuantizationScheme,
                                  into row: UnsafeMutableBufferPointer<Float>) {
        let length = row.count
        let groupLength = scheme.columnsPerGroup(rowLength: length)
        let groups = scheme.groups(rowLength: length)
        precondition(record.count >= scheme.recordBytes(rowLength: length), "record too small")
        let values = 2 * groups
        for group in 0..<groups {
            let scale = FloatConversion.float(fromHalf: UInt16(record[2 * group]) | UInt16(record[2 * group + 1]) << 8)
            let start = group * groupLength
            if scheme.bits == 8 {
                for column in start..<(start + groupLength) {
                    row[column] = Float(Int8(bitPattern: record[values + column])) * scale
                }
            } else {
                var column = start
                while column < start + groupLength {
                    let byte = record[values + column / 2]
                    row[column] = Float(Int(byte & 0xF) - 8) * scale
                    row[column + 1] = Float(Int(byte >> 4) - 8) * scale
                    column += 2
                }
            }
        }
    }
}
