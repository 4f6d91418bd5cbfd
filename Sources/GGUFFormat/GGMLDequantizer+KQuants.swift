/// The 256-element "K" super-blocks (`ggml-common.h` layouts; order of operations as in ggml's reference
/// `dequantize_row_*`, so results match gguf-py's to the last bit in the usual case).
extension GGMLDequantizer {
    /// Q2_K: 16 bytes of 4-bit scale/min pairs, 64 bytes of 2-bit values, f16 d, f16 dmin.
    @inline(__always)
    static func q2_K(_ s: UnsafeRawBufferPointer, _ o: Int, _ y: UnsafeMutableBufferPointer<Float>, _ i: Int) {
        let d = half(s, o + 80), dmin = half(s, o + 82)
        var out = i
        var scaleIndex = 0
        for half128 in 0..<2 {
            let q = o + 16 + half128 * 32
            for shiftStep in 0..<4 {
                let shift = UInt8(shiftStep * 2)
                for part in 0..<2 {
                    let sc = s[o + scaleIndex]
                    scaleIndex += 1
                    let dl = d * Float(sc & 0xF), ml = dmin * Float(sc >> 4)
                    for l in 0..<16 {
                        y[out] = dl * Float((s[q + part * 16 + l] >> shift) & 3) - ml
                        out += 1
                    }
                }
            }
        }
    }

    /// Q3_K: 32 bytes of high bits, 64 bytes of 2-bit values, 12 bytes of packed 6-bit scales, f16 d.
    @inline(__always)
    static func q3_K(_ s: UnsafeRawBufferPointer, _ o: Int, _ y: UnsafeMutableBufferPointer<Float>, _ i: Int) {
        let d = half(s, o + 108)
        let scales = q3Scales(s, o + 96)
        var out = i
        var scaleIndex = 0
        var mask: UInt8 = 1
        for half128 in 0..<2 {
            let q = o + 32 + half128 * 32
            for shiftStep in 0..<4 {
                let shift = UInt8(shiftStep * 2)
                for part in 0..<2 {
                    let dl = d * Float(Int(scales[scaleIndex]) - 32)
                    scaleIndex += 1
                    for l in 0..<16 {
                        let low = Int((s[q + part * 16 + l] >> shift) & 3)
                        let high = s[o + part * 16 + l] & mask != 0 ? 0 : 4
                        y[out] = dl * Float(low - high)
                        out += 1
                    }
                }
                mask <<= 1
            }
        }
    }

    /// Unpacks Q3_K's sixteen 6-bit scales: low 4 bits in bytes 0–7, high 2 bits in bytes 8–11.
    @inline(__always)
    private static func q3Scales(_ s: UnsafeRawBufferPointer, _ o: Int) -> [UInt8] {
        var scales = [UInt8](repeating: 0, count: 16)
        for j in 0..<16 {
            let low = j < 8 ? s[o + j] & 0xF : s[o + j - 8] >> 4
            let high = (s[o + 8 + j % 4] >> UInt8(2 * (j / 4))) & 3
            scales[j] = low | high << 4
        }
        return scales
    }

    /// The 6-bit scale and min of sub-block `j` from K-quants' 12 packed bytes at `o` (`get_scale_min_k4`).
    @inline(__always)
    static func scaleMin(_ s: UnsafeRawBufferPointer, _ o: Int, _ j: Int) -> (Float, Float) {
        if j < 4 {
            return (Float(s[o + j] & 63), Float(s[o + j + 4] & 63))
        }
        let scale = (s[o + j + 4] & 0xF) | ((s[o + j - 4] >> 6) << 4)
        let minimum = (s[o + j + 4] >> 4) | ((s[o + j] >> 6) << 4)
        return (Float(scale), Float(minimum))
    }

    /// Q4_K: f16 d, f16 dmin, 12 bytes of scales/mins, 128 bytes of nibbles; x = d·sc·q − dmin·m.
    @inline(__always)
    static func q4_K(_ s: UnsafeRawBufferPointer, _ o: Int, _ y: UnsafeMutableBufferPointer<Float>, _ i: Int) {
        let d = half(s, o), dmin = half(s, o + 2)
        var out = i
        for group in 0..<4 {
            let (sc1, m1) = scaleMin(s, o + 4, 2 * group)
            let (sc2, m2) = scaleMin(s, o + 4, 2 * group + 1)
            let d1 = d * sc1, min1 = dmin * m1, d2 = d * sc2, min2 = dmin * m2
            let q = o + 16 + group * 32
            for l in 0..<32 { y[out + l] = d1 * Float(s[q + l] & 0xF) - min1 }
            for l in 0..<32 { y[out + 32 + l] = d2 * Float(s[q + l] >> 4) - min2 }
            out += 64
        }
    }

    /// Q5_K: f16 d, f16 dmin, 12 bytes of scales/mins, 32 bytes of fifth bits, 128 bytes of nibbles.
    @inline(__always)
    static func q5_K(_ s: UnsafeRawBufferPointer, _ o: Int, _ y: UnsafeMutableBufferPointer<Float>, _ i: Int) {
        let d = half(s, o), dmin = half(s, o + 2)
        var out = i
        var mask1: UInt8 = 1, mask2: UInt8 = 2
        for group in 0..<4 {
            let (sc1, m1) = scaleMin(s, o + 4, 2 * group)
            let (sc2, m2) = scaleMin(s, o + 4, 2 * group + 1)
            let d1 = d * sc1, min1 = dmin * m1, d2 = d * sc2, min2 = dmin * m2
            let q = o + 48 + group * 32
            for l in 0..<32 {
                let high: UInt8 = s[o + 16 + l] & mask1 != 0 ? 16 : 0
                y[out + l] = d1 * Float((s[q + l] & 0xF) + high) - min1
            }
            for l in 0..<32 {
                let high: UInt8 = s[o + 16 + l] & mask2 != 0 ? 16 : 0
                y[out + 32 + l] = d2 * Float((s[q + l] >> 4) + high) - min2
            }
            out += 64
            mask1 <<= 2
            mask2 <<= 2
        }
    }

    /// Q6_K: 128 bytes of low 4 bits, 64 bytes of high 2 bits, 16 signed scales, f16 d; x = d·sc·(q − 32).
    @inline(__always)
    static func q6_K(_ s: UnsafeRawBufferPointer, _ o: Int, _ y: UnsafeMutableBufferPointer<Float>, _ i: Int) {
        let d = half(s, o + 208)
        for half128 in 0..<2 {
            let ql = o + half128 * 64, qh = o + 128 + half128 * 32, sc = o + 192 + half128 * 8
            let out = i + half128 * 128
            for l in 0..<32 {
                let scaleIndex = l / 16
                let h = s[qh + l]
                let q1 = Int((s[ql + l] & 0xF) | ((h & 3) << 4)) - 32
                let q2 = Int((s[ql + l + 32] & 0xF) | (((h >> 2) & 3) << 4)) - 32
                let q3 = Int((s[ql + l] >> 4) | (((h >> 4) & 3) << 4)) - 32
                let q4 = Int((s[ql + l + 32] >> 4) | (((h >> 6) & 3) << 4)) - 32
                y[out + l] = d * Float(Int8(bitPattern: s[sc + scaleIndex])) * Float(q1)
                y[out + l + 32] = d * Float(Int8(bitPattern: s[sc + scaleIndex + 2])) * Float(q2)
                y[out + l + 64] = d * Float(Int8(bitPattern: s[sc + scaleIndex + 4])) * Float(q3)
                y[out + l + 96] = d * Float(Int8(bitPattern: s[sc + scaleIndex + 6])) * Float(q4)
            }
        }
    }
}
