import ByteIO
import TensorTypes

/// One tensor of a GGUF file.
public struct GGUFTensorInfo: Sendable {
    /// The tensor's name.
    public let name: String
    /// How its elements are stored.
    public let type: GGMLType
    /// Dimensions in ggml order: `ne[0]` is the row length (fastest varying).
    public let ne: [Int]
    /// Offset of the data relative to the start of the data section.
    public let offset: Int
    /// The tensor's bytes (zero-copy, inside the mapped file).
    public let data: ByteView
    /// Offset of this tensor's info record in the file (for error messages).
    public let infoOffset: Int

    /// The shape in row-major order (PyTorch's), i.e. `ne` reversed.
    public var shape: TensorShape { TensorShape(ne.reversed())! }  // element count checked when parsed

    /// The number of elements.
    public var elementCount: Int { shape.elementCount }
}
