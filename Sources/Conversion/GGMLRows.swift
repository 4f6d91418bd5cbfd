import GGUFFormat
import TensorTypes

/// Where ggml blocks and LayerPack row records hold exactly the same numbers: Q8_0 blocks are int8 rows with a scale
/// per 32 columns, Q4_0 blocks are int4 rows with a scale per 32 columns (a Q4_0 nibble n is the value (n − 8)·d, an
/// int4 nibble n the value (n − 8)·scale; only the order of the nibbles differs). Converting either way changes
/// bytes, never values. int2 rows whose 256-column blocks share one scale s are Q2_K blocks with d = dmin = s, every
/// sub-block scale 1 and min 2: (q + 2)·s − 2·s = q·s.
enum GGMLRows {
    /// The ggml type whose blocks hold exactly the rows of `scheme` for rows of `rowLength` columns, if any: every
    /// block (32 columns; 256 for Q2_K) must share one scale.
    static func blockType(holding scheme: RowScheme, rowLength: Int) -> GGMLType? {
        let block = scheme.bits == .int2 ? 256 : 32
        guard rowLength % block == 0, scheme.columnsPerGroup(rowLength: rowLength) % block == 0 else { return nil }
        switch scheme.bits {
        case .int8: return .q8_0
        case .int4: return .q4_0
        case .int2: return .q2_K
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
            case .int2:
                preconditionFailure("no ggml type's rows are int2 rows")
            }
        }
    }

    /// One row record of `scheme` as Q8_0, Q4_0 or Q2_K blocks (for Q8_0 and Q4_0 the inverse of
    /// ``record(fromBlocks:type:scheme:rowLength:into:)``), appended to `blocks`.
    /// - Precondition: ``blockType(holding:rowLength:)`` is not nil.
    static func appendBlocks(fromRecord record: UnsafeRawBufferPointer, scheme: RowScheme, rowLength: Int, to blocks: inout [UInt8]) {
        let groups = scheme.groups(rowLength: rowLength), groupLength = scheme.columnsPerGroup(rowLength: rowLength)
        let values = 2 * groups
        if scheme.bits == .int2 {
            appendQ2KBlocks(fromRecord: record, values: values, groupLength: groupLength, rowLength: rowLength, to: &blocks)
            return
        }
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
            case .int2:
                preconditionFailure("int2 rows are written as Q2_K above")
            }
        }
    }

    /// Q2_K (ggml's `block_q2_K`: 16 bytes of sub-block scale | min << 4, 64 bytes of 2-bit values, f16 d, f16 dmin):
    /// value p of a block sits in byte 32·(p / 128) + p % 32 at bit 2·((p % 128) / 32), as `dequantize_row_q2_K` reads.
    private static func appendQ2KBlocks(fromRecord record: UnsafeRawBufferPointer, values: Int, groupLength: Int, rowLength: Int,
                                        to blocks: inout [UInt8]) {
        for block in 0..<(rowLength / 256) {
            let group = block * 256 / groupLength
            blocks.append(contentsOf: repeatElement(0x21, count: 16))  // scale 1, min 2
            var packed = [UInt8](repeating: 0, count: 64)
            for p in 0..<256 {
                let column = block * 256 + p
                let stored = (record[values + column / 4] >> (2 * UInt8(column % 4))) & 3  // q + 2: Q2_K's unsigned level
                packed[32 * (p / 128) + p % 32] |= stored << (2 * UInt8((p % 128) / 32))
            }
            blocks.append(contentsOf: packed)
            for _ in 0..<2 { blocks.append(record[2 * group]); blocks.append(record[2 * group + 1]) }  // d, dmin
        }
    }

    /// Bits per value of ggml `type` and of `scheme` for rows of `rowLength`.
    static func bitsPerValue(_ type: GGMLType) -> Double { Double(type.blockBytes * 8) / Double(type.blockSize) }
    static func bitsPerValue(_ scheme: RowScheme, rowLength: Int) -> Double {
        Double(scheme.recordBytes(rowLength: rowLength) * 8) / Double(rowLength)
    }
}
