import ByteIO
import TensorTypes

/// One tensor declared in a safetensors header.
public struct SafetensorsTensor: Sendable {
    /// The tensor's name as written in the header.
    public let name: String
    /// The element type.
    public let dtype: DType
    /// The shape, row-major.
    public let shape: TensorShape
    /// The tensor's bytes (zero-copy, inside the mapped file).
    public let data: ByteView
}
