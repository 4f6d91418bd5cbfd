import GGUFFormat
import TensorTypes

/// Where ggml blocks and LayerPack row records hold exactly the same numbers: Q8_0 blocks are int8 rows with a scale
/// per 32 columns, Q4_0 blocks are int4 rows with a scale per 32 columns (a Q4_0 nibble n is the value (n − 8)·d, an
/// int4 nibble n the value (n − 8)·scale; only the order of the nibbles differs). Converting either way changes
/// bytes, never values.
enum GGMLRows {
    /// The ggml type whose blocks hold exactly the rows of `scheme` for rows of `rowLength` columns, if any: every
    /// 32-column block must share one scale.
    static func blockType(holding scheme: RowScheme, rowLength: Int) -> GGMLType? {
        guard rowLength % 32 == 0, scheme.columnsPerGroup(rowLength: rowLength) % 32 == 0 else { return nil }
        switch scheme.bits {
        case .int8: return .q8_0
        case .int4: return .q4_0
        }
    }

    /// Whether rows of `type` blocks are exactly rows of `scheme` (Q8_0 as int8, Q4_0 as int4, groups of 32).
    static func rowsHold(_ type: GGMLType, as scheme: RowScheme, rowLength: Int) -> Bool {
        scheme.groupSize == 32 && rowLength % 32 == 0 && ((type == .q8_0 && scheme.bits == .int8) || (type == .q4_0 && scheme.bits == .int4))
    }

    /// One row of Q8_0 or Q4_0 `blocks` as a row record of `scheme` (groups of 32).
    /// - Precondition: ``rowsHold(_:as:rowLength:)``; `blocks` is one row, `record` one record.
    static func record(fromBlocks blocks: UnsafeRawBufferPointer, type: GGMLType, scheme: RowScheme, rowLength: Int,
                       into record: UnsafeMutableRawBufferPointer) {
        precondition(rowsHold(type, as: scheme, rowLength: rowLength), "blocks that rows do not hold")
        let groups = rowLength / 32, values = 2 * groups
        for block in 0..<groups {
            let base = block * type.blockBytes
            record[2 * block] = blocks[base]
            record[2 * block + 1] = blocks[base + 1]
            switch scheme.bits {
            case .int8:
                for j in 0..<32 { record[values + block * 32 + j] = blocks[base + 2 + j] }
            case .int4:
                // Q4_0: element j in the low nibble of byte j, element j + 16 in the high nibble. Ours: element 2i
                // low, 2i + 1 high.
                func nibble(_ element: Int) -> UInt8 {
                    element < 16 ? blocks[base + 2 + element] & 0xF : blocks[base + 2 + element - 16] >> 4
                }
                for i in 0..<16 { record[values + block * 16 + i] = nibble(2 * i) | nibble(2 * i + 1) << 4 }
            }
        }
    }

    /// One row record of `scheme` as Q8_0 or Q4_0 blocks (the inverse of ``record(fromBlocks:type:scheme:rowLength:into:)``),
    /// appended to `blocks`.
    /// - Precondition: ``blockType(holding:rowLength:)`` is `type`.
    static func appendBlocks(fromRecord record: UnsafeRawBufferPointer, scheme: RowScheme, rowLength: Int, to blocks: inout [UInt8]) {
        let groups = scheme.groups(rowLength: rowLength), groupLength = scheme.columnsPerGroup(rowLength: rowLength)
        let values = 2 * groups
        for block in 0..<(rowLength / 32) {
            let group = block * 32 / groupLength
            blocks.append(record[2 * group])
            blocks.append(record[2 * group + 1])
            switch scheme.bits {
            case .int8:
                for j in 0..<32 { blocks.append(record[values + block * 32 + j]) }
            case .int4:
                func nibble(_ column: Int) -> UInt8 {
                    let byte = record[values + column / 2]
                    return column % 2 == 0 ? byte & 0xF : byte >> 4
                }
                for j in 0..<16 { blocks.append(nibble(block * 32 + j) | nibble(block * 32 + j + 16) << 4) }
            }
        }
    }

    /// Bits per value of ggml `type` and of `scheme` for rows of `rowLength`.
    static func bitsPerValue(_ type: GGMLType) -> Double { Double(type.blockBytes * 8) / Double(type.blockSize) }
    static func bitsPerValue(_ scheme: RowScheme, rowLength: Int) -> Double {
        Double(scheme.recordBytes(rowLength: rowLength) * 8) / Double(rowLength)
    }
}
