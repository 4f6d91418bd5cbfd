/// Conversions from the narrow floating-point encodings found in checkpoints to `Float`.
///
/// Every function is total: each bit pattern maps to a value (NaN where the encoding defines one).
public enum FloatConversion {
    /// IEEE 754 binary16.
    @inline(__always)
    public static func float(fromHalf bits: UInt16) -> Float {
        // Integer arithmetic instead of Float(Float16(bitPattern:)), which is a libcall on x86-64 without F16C.
        // Exponent rebias; infinities and NaNs keep an all-ones exponent; subnormals renormalise via a float subtract.
        let exponentMask: UInt32 = 0x7C00 << 13
        var magnitude = UInt32(bits & 0x7FFF) << 13
        let exponent = magnitude & exponentMask
        magnitude &+= (127 - 15) << 23
        if exponent == exponentMask {
            magnitude &+= (128 - 16) << 23
        } else if exponent == 0 {
            magnitude &+= 1 << 23
            magnitude = (Float(bitPattern: magnitude) - Float(bitPattern: 113 << 23)).bitPattern
        }
        return Float(bitPattern: magnitude | UInt32(bits & 0x8000) << 16)
    }

    /// bfloat16: the upper half of a binary32.
    @inline(__always)
    public static func float(fromBFloat16 bits: UInt16) -> Float {
        Float(bitPattern: UInt32(bits) << 16)
    }

    /// Rounds to bfloat16 (round to nearest, ties to even; NaN stays NaN).
    @inline(__always)
    public static func bfloat16(from value: Float) -> UInt16 {
        let bits = value.bitPattern
        if value.isNaN { return UInt16(truncatingIfNeeded: bits >> 16) | 0x40 }
        let rounding = UInt32(0x7FFF) + ((bits >> 16) & 1)
        return UInt16(truncatingIfNeeded: (bits &+ rounding) >> 16)  // &+: a finite max value rounds to inf, as in IEEE
    }

    /// Rounds to IEEE binary16.
    @inline(__always)
    public static func half(from value: Float) -> UInt16 {
        Float16(value).bitPattern
    }

    /// A minifloat with the given exponent and mantissa widths and bias: finite values only, no infinity.
    ///
    /// - Parameters:
    ///   - nanPattern: the code that means NaN after the sign is removed (`nil` when none does), as in E4M3FN.
    ///   - negativeZeroIsNaN: the FNUZ convention, where `0x80` is the only NaN.
    @inline(__always)
    static func minifloat(
        _ code: UInt32, exponentBits: UInt32, mantissaBits: UInt32, bias: Int,
        nanPattern: UInt32?, negativeZeroIsNaN: Bool, hasInfinity: Bool
    ) -> Float {
        let signBit = UInt32(1) << (exponentBits + mantissaBits)
        let magnitude = code & (signBit - 1)
        let negative = code & signBit != 0
        if negativeZeroIsNaN && negative && magnitude == 0 { return .nan }
        if let nanPattern, magnitude == nanPattern { return .nan }
        let exponentField = magnitude >> mantissaBits
        let mantissa = magnitude & ((1 << mantissaBits) - 1)
        let exponentMax = (UInt32(1) << exponentBits) - 1
        if hasInfinity && exponentField == exponentMax {
            return mantissa == 0 ? (negative ? -.infinity : .infinity) : .nan
        }
        let value: Float
        if exponentField == 0 {
            value = Float(mantissa) * Float(sign: .plus, exponent: 1 - bias - Int(mantissaBits), significand: 1)
        } else {
            let significand = 1 + Float(mantissa) / Float(1 << mantissaBits)
            value = Float(sign: .plus, exponent: Int(exponentField) - bias, significand: significand)
        }
        return negative ? -value : value
    }

    /// FP8 E4M3 ("FN": no infinity, `S.1111.111` is NaN).
    public static func float(fromF8E4M3 code: UInt8) -> Float {
        minifloat(UInt32(code), exponentBits: 4, mantissaBits: 3, bias: 7,
                  nanPattern: 0x7F, negativeZeroIsNaN: false, hasInfinity: false)
    }

    /// FP8 E5M2 (IEEE-like, with infinities and NaNs).
    public static func float(fromF8E5M2 code: UInt8) -> Float {
        minifloat(UInt32(code), exponentBits: 5, mantissaBits: 2, bias: 15,
                  nanPattern: nil, negativeZeroIsNaN: false, hasInfinity: true)
    }

    /// FP8 E4M3 FNUZ (bias 8, `0x80` is the only NaN, no negative zero).
    public static func float(fromF8E4M3FNUZ code: UInt8) -> Float {
        minifloat(UInt32(code), exponentBits: 4, mantissaBits: 3, bias: 8,
                  nanPattern: nil, negativeZeroIsNaN: true, hasInfinity: false)
    }

    /// FP8 E5M2 FNUZ (bias 16, `0x80` is the only NaN).
    public static func float(fromF8E5M2FNUZ code: UInt8) -> Float {
        minifloat(UInt32(code), exponentBits: 5, mantissaBits: 2, bias: 16,
                  nanPattern: nil, negativeZeroIsNaN: true, hasInfinity: false)
    }

    /// E8M0: an unsigned power of two, 2^(code − 127); `0xFF` is NaN.
    public static func float(fromF8E8M0 code: UInt8) -> Float {
        code == 0xFF ? .nan : Float(sign: .plus, exponent: Int(code) - 127, significand: 1)
    }

    /// FP4 E2M1 (one nibble; no NaN or infinity).
    public static func float(fromF4E2M1 nibble: UInt8) -> Float {
        minifloat(UInt32(nibble & 0xF), exponentBits: 2, mantissaBits: 1, bias: 1,
                  nanPattern: nil, negativeZeroIsNaN: false, hasInfinity: false)
    }
}
