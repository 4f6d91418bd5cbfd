/// Decodes little-endian element bytes of a ``DType`` into `Float`s.
///
/// The only raw-memory access here is through `UnsafeRawBufferPointer.loadUnaligned`, after checking that the
/// buffer holds exactly the bytes the element count needs.
public enum LittleEndianDecoding {
    /// Why elements could not be decoded.
    public enum Failure: Error, Sendable, Equatable {
        /// The type has no single-float value per element (complex, 6-bit packed floats).
        case noFloatConversion(DType)
        /// The byte count does not match the element count.
        case sizeMismatch(expected: Int, actual: Int)
    }

    /// Decodes `count` elements of `dtype` from `bytes` into `output`, starting at `output[outputOffset]`.
    /// - Throws: ``Failure`` when the type has no float conversion or `bytes` is not exactly `count` elements.
    /// - Precondition: `output` has room for `count` elements from `outputOffset`.
    public static func decode(
        _ bytes: UnsafeRawBufferPointer, as dtype: DType, count: Int,
        into output: inout [Float], at outputOffset: Int = 0
    ) throws(Failure) {
        guard dtype.convertsToFloat else { throw .noFloatConversion(dtype) }
        guard let expected = dtype.byteCount(elements: count), expected == bytes.count else {
            throw .sizeMismatch(expected: dtype.byteCount(elements: count) ?? -1, actual: bytes.count)
        }
        precondition(outputOffset >= 0 && output.count - outputOffset >= count, "output too small")
        output.withUnsafeMutableBufferPointer { buffer in
            let out = UnsafeMutableBufferPointer(rebasing: buffer[outputOffset..<(outputOffset + count)])
            decodeChecked(bytes, as: dtype, into: out)
        }
    }

    /// Decodes a whole buffer of `dtype` elements into a new array.
    public static func decode(_ bytes: UnsafeRawBufferPointer, as dtype: DType, count: Int) throws(Failure) -> [Float] {
        var result = [Float](repeating: 0, count: count)
        try decode(bytes, as: dtype, count: count, into: &result)
        return result
    }

    /// The loops; `bytes.count` was checked to equal `out.count` elements of `dtype`.
    private static func decodeChecked(_ bytes: UnsafeRawBufferPointer, as dtype: DType,
                                      into out: UnsafeMutableBufferPointer<Float>) {
        func load<T: FixedWidthInteger>(_ index: Int, _: T.Type) -> T {
            T(littleEndian: bytes.loadUnaligned(fromByteOffset: index * MemoryLayout<T>.size, as: T.self))
        }
        switch dtype {
        case .f32:
            for i in out.indices { out[i] = Float(bitPattern: load(i, UInt32.self)) }
        case .bf16 where Int(bitPattern: bytes.baseAddress) % 2 == 0:
            // Aligned halves: a plain widening loop the compiler vectorizes (bf16 is the top half of an f32).
            let halves = bytes.baseAddress!.assumingMemoryBound(to: UInt16.self)
            for i in out.indices { out[i] = Float(bitPattern: UInt32(UInt16(littleEndian: halves[i])) << 16) }
        case .f16:
            for i in out.indices { out[i] = FloatConversion.float(fromHalf: load(i, UInt16.self)) }
        case .bf16:
            for i in out.indices { out[i] = FloatConversion.float(fromBFloat16: load(i, UInt16.self)) }
        case .f64:
            for i in out.indices { out[i] = Float(Double(bitPattern: load(i, UInt64.self))) }
        case .bool, .u8:
            for i in out.indices { out[i] = Float(bytes[i]) }
        case .i8:
            for i in out.indices { out[i] = Float(Int8(bitPattern: bytes[i])) }
        case .i16:
            for i in out.indices { out[i] = Float(load(i, Int16.self)) }
        case .u16:
            for i in out.indices { out[i] = Float(load(i, UInt16.self)) }
        case .i32:
            for i in out.indices { out[i] = Float(load(i, Int32.self)) }
        case .u32:
            for i in out.indices { out[i] = Float(load(i, UInt32.self)) }
        case .i64:
            for i in out.indices { out[i] = Float(load(i, Int64.self)) }
        case .u64:
            for i in out.indices { out[i] = Float(load(i, UInt64.self)) }
        case .f8E4M3:
            for i in out.indices { out[i] = FloatConversion.float(fromF8E4M3: bytes[i]) }
        case .f8E5M2:
            for i in out.indices { out[i] = FloatConversion.float(fromF8E5M2: bytes[i]) }
        case .f8E4M3FNUZ:
            for i in out.indices { out[i] = FloatConversion.float(fromF8E4M3FNUZ: bytes[i]) }
        case .f8E5M2FNUZ:
            for i in out.indices { out[i] = FloatConversion.float(fromF8E5M2FNUZ: bytes[i]) }
        case .f8E8M0:
            for i in out.indices { out[i] = FloatConversion.float(fromF8E8M0: bytes[i]) }
        case .f4:
            // Two elements per byte, the first in the low nibble (torch float4_e2m1fn_x2).
            for i in out.indices {
                let byte = bytes[i / 2]
                out[i] = FloatConversion.float(fromF4E2M1: i % 2 == 0 ? byte & 0xF : byte >> 4)
            }
        case .c64, .f6E2M3, .f6E3M2:
            preconditionFailure("checked by convertsToFloat")
        }
    }
}
