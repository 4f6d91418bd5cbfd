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
        lpk_search_scale(values.baseAddress!, weights?.baseAddress, values.count, Int32(bits.rawValue))
    }
}
