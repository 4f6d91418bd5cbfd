/// MLX's affine quantization (`mlx.core.quantize`, mode "affine", as MLX-LM checkpoints store it): each group of
/// ``groupSize`` values along a row is stored as unsigned ``bits``-bit integers `u`, packed least significant bit
/// first into little-endian `uint32` words (a continuous bit stream for 3, 5 and 6 bits), with one scale and one
/// bias per group, so that `w = scale · u + bias`.
///
/// Values are computed in f32 from the stored scale and bias, as MLX's quantized products do.
public struct MLXAffine: Sendable, Hashable, CustomStringConvertible {
    /// The widths MLX writes.
    public static let supportedBits: Set<Int> = [2, 3, 4, 5, 6, 8]
    /// The group sizes MLX writes.
    public static let supportedGroupSizes: Set<Int> = [32, 64, 128]

    public let bits: Int
    public let groupSize: Int
    /// The dtype of the scales and biases (the model's float type: bf16, f16 or f32).
    public let scaleType: DType

    public init(bits: Int, groupSize: Int, scaleType: DType) {
        self.bits = bits
        self.groupSize = groupSize
        self.scaleType = scaleType
    }

    /// `mlx affine 4-bit g64`.
    public var description: String { "mlx affine \(bits)-bit g\(groupSize)" }

    /// Whether rows of `columns` values are whole groups (and so whole 32-bit words).
    public func accepts(columns: Int) -> Bool { columns > 0 && columns % groupSize == 0 }

    /// Bytes of one row's packed integers.
    public func packedBytes(columns: Int) -> Int { columns * bits / 8 }

    /// Dequantizes one row: `packed` holds its ``packedBytes(columns:)`` bytes, `scales` and `biases` one value per
    /// group, `output` the row's values.
    /// - Precondition: the buffers have those sizes.
    public func dequantize(row packed: UnsafeRawBufferPointer, scales: UnsafeBufferPointer<Float>, biases: UnsafeBufferPointer<Float>,
                           into output: UnsafeMutableBufferPointer<Float>) {
        let columns = output.count
        precondition(packed.count == packedBytes(columns: columns) && scales.count == columns / groupSize && biases.count == scales.count,
                     "MLX row of \(columns) values: \(packed.count) bytes, \(scales.count) scales, \(biases.count) biases")
        let mask = UInt32((1 << bits) - 1)
        for column in 0..<columns {
            let bit = column * bits
            let first = bit / 8
            // At most 8 + 7 bits span two bytes beyond the first; read what the row holds.
            var window: UInt32 = 0
            for k in 0..<min(3, packed.count - first) { window |= UInt32(packed[first + k]) << (8 * k) }
            let level = (window >> UInt32(bit % 8)) & mask
            let group = column / groupSize
            output[column] = scales[group] * Float(level) + biases[group]
        }
    }
}
