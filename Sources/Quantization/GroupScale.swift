import CDotKernels
import TensorTypes

/// Chooses the scale of one group of a row record (Formats/lpk.md §5: value = q · scale, q in the width's range, any
/// f16 scale, negative ones included).
///
/// - ``nearest(_:bits:)``: scale = max|w| / maxLevel, ggml's `quantize_row_q8_0_ref` rule (q never reaches −8 for
///   int4).
/// - ``search(_:weights:bits:)``: llama.cpp's `make_qx_quants`: the value of largest magnitude maps to the most negative
///   level (so all 16 int4 levels are used), the scale is the weighted least-squares fit of the levels, and 18 more
///   candidate scales around it are tried, keeping the one with the least weighted squared error.
enum GroupScale {
    /// max|w| / maxLevel.
    @inline(__always)
    static func nearest(_ values: UnsafeBufferPointer<Float>, bits: RowBits) -> Float {
        var amax: Float = 0
        for value in values { amax = max(amax, abs(value)) }
        return amax / Float(bits.maxLevel)
    }

    /// The level of `value` at `inverse` = 1 / scale: rounded to nearest, clamped to the width's range.
    @inline(__always)
    static func level(_ value: Float, _ inverse: Float, bits: RowBits) -> Int {
        max(bits.minValue, min(bits.maxValue, Int((value * inverse).rounded())))
    }

    /// The weighted least-squares scale of `values` (weights `weights`, all ≥ 0; nil: all 1, the plain squared error),
    /// searched as `make_qx_quants` searches it. Levels may then reach the most negative one.
    static func search(_ values: UnsafeBufferPointer<Float>, weights: UnsafeBufferPointer<Float>?, bits: RowBits) -> Float {
        var extreme: Float = 0
        for value in values where abs(value) > abs(extreme) { extreme = value }
        guard abs(extreme) >= 1e-15 else { return 0 }
        let levels = Float(-bits.minValue)  // 8 for int4, 127 for int8 (int8 keeps its symmetric range)
        let low = Float(bits.minValue), high = Float(bits.maxValue)
        func fit(_ inverse: Float) -> (numerator: Float, denominator: Float) {
            var sumXL: Float = 0, sumL2: Float = 0
            lpk_fit_levels(values.baseAddress!, weights?.baseAddress, values.count, inverse, low, high, &sumXL, &sumL2)
            return (sumXL, sumL2)
        }
        var (sumXL, sumL2) = fit(-levels / extreme)
        var best = sumL2 > 0 ? sumXL * sumXL / sumL2 : 0
        var scale = sumL2 > 0 ? sumXL / sumL2 : 0
        for step in -9...9 where step != 0 {
            (sumXL, sumL2) = fit(-(levels + 0.1 * Float(step)) / extreme)
            if sumL2 > 0, sumXL * sumXL > best * sumL2 {
                best = sumXL * sumXL / sumL2
                scale = sumXL / sumL2
            }
        }
        return scale
    }
}
