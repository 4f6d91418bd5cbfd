/// Turns row records (Formats/lpk.md §5) back into floats: a scalar reference and a faster path that tests hold to it.
public enum RowDequantizer {
    /// The f16 scale of group `group`, stored little-endian at the start of `record`.
    @inline(__always)
    static func scale(_ record: UnsafeRawBufferPointer, group: Int) -> Float {
        FloatConversion.float(fromHalf: UInt16(record[2 * group]) | UInt16(record[2 * group + 1]) << 8)
    }

    /// The stored integer of column `column`, whose values start at byte `values` of `record`.
    @inline(__always)
    static func value(_ record: UnsafeRawBufferPointer, values: Int, column: Int, bits: RowBits) -> Int {
        switch bits {
        case .int8: Int(Int8(bitPattern: record[values + column]))
        case .int4:
            Int(column % 2 == 0 ? record[values + column / 2] & 0xF : record[values + column / 2] >> 4) - 8
        case .int2:
            Int((record[values + column / 4] >> (2 * UInt8(column % 4))) & 3) - 2
        }
    }

    /// The plain, obviously-correct decoder every faster kernel is tested against.
    /// - Precondition: `record` holds at least `scheme.recordBytes(rowLength: row.count)` bytes.
    public static func dequantizeReference(_ record: UnsafeRawBufferPointer, scheme: RowScheme,
                                           into row: UnsafeMutableBufferPointer<Float>) {
        let length = row.count
        let groupLength = scheme.columnsPerGroup(rowLength: length)
        let groups = scheme.groups(rowLength: length)
        precondition(record.count >= scheme.recordBytes(rowLength: length), "record too small")
        for column in 0..<length {
            row[column] = Float(value(record, values: 2 * groups, column: column, bits: scheme.bits))
                * scale(record, group: column / groupLength)
        }
    }

    /// Decodes a record group by group with the scale hoisted and values unpacked a byte at a time.
    /// - Precondition: `record` holds at least `scheme.recordBytes(rowLength: row.count)` bytes.
    public static func dequantize(_ record: UnsafeRawBufferPointer, scheme: RowScheme, into row: UnsafeMutableBufferPointer<Float>) {
        let length = row.count
        let groupLength = scheme.columnsPerGroup(rowLength: length)
        let groups = scheme.groups(rowLength: length)
        precondition(record.count >= scheme.recordBytes(rowLength: length), "record too small")
        let values = 2 * groups
        for group in 0..<groups {
            let scale = scale(record, group: group)
            let start = group * groupLength
            switch scheme.bits {
            case .int8:
                for column in start..<(start + groupLength) {
                    row[column] = Float(Int8(bitPattern: record[values + column])) * scale
                }
            case .int4:
                var column = start
                while column < start + groupLength {
                    let byte = record[values + column / 2]
                    row[column] = Float(Int(byte & 0xF) - 8) * scale
                    row[column + 1] = Float(Int(byte >> 4) - 8) * scale
                    column += 2
                }
            case .int2:
                var column = start
                while column < start + groupLength {
                    let byte = record[values + column / 4]
                    for k in 0..<4 { row[column + k] = Float(Int((byte >> (2 * UInt8(k))) & 3) - 2) * scale }
                    column += 4
                }
            }
        }
    }
}
