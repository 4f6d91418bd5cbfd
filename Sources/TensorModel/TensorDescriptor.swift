import TensorTypes

/// One tensor as every source describes it: name, role, storage, shape and where its bytes are.
public struct TensorDescriptor: Sendable {
    /// The tensor's name in its source.
    public let name: String
    /// What the tensor is for.
    public let role: TensorRole
    /// How the stored bytes encode the values.
    public let encoding: TensorEncoding
    /// The shape, row-major (outermost first) for every source; GGUF's `ne` order reversed.
    public let shape: TensorShape
    /// Bytes the tensor occupies in its file.
    public let byteCount: Int
    /// The file holding the bytes.
    public let file: String
    /// Offset of the first byte in that file.
    public let fileOffset: Int
    /// The storage type's name in the source's own terms (`BF16`, `Q4_K`, `int4/row`).
    public var storage: String { encoding.description }

    /// Whether LayerPack can read the values as `Float`.
    public var isReadable: Bool { encoding.isReadable }

    public init(name: String, role: TensorRole, encoding: TensorEncoding, shape: TensorShape, byteCount: Int,
                file: String, fileOffset: Int) {
        self.name = name
        self.role = role
        self.encoding = encoding
        self.shape = shape
        self.byteCount = byteCount
        self.file = file
        self.fileOffset = fileOffset
    }
}
