import ByteIO

/// Why a conversion or export stopped: the kind, the file, the tensor, and what is wrong.
public struct ConversionError: LayerPackError {
    /// What kind of problem.
    public enum Kind: Sendable, Equatable {
        /// A row could not be quantized (a non-finite value, a scale beyond f16).
        case unquantizableRow
        /// A tensor the output format cannot hold (an export refuses it rather than dropping it).
        case unexportable
    }

    public let kind: Kind
    /// The file concerned.
    public let file: String
    public let tensor: String?
    public let message: String

    public init(_ kind: Kind, file: String, tensor: String? = nil, _ message: String) {
        self.kind = kind
        self.file = file
        self.tensor = tensor
        self.message = message
    }

    public var path: String? { file }
    public var location: ErrorLocation? { tensor.map(ErrorLocation.tensor) }
}
