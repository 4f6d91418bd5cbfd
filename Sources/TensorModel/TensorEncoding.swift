import GGUFFormat
import TensorTypes

/// How a tensor's stored bytes encode its values, whatever container holds them.
public enum TensorEncoding: Sendable, Equatable, Hashable, CustomStringConvertible {
    /// Plain little-endian elements of a dtype (safetensors, GGUF's plain types).
    case plain(DType)
    /// ggml quantized blocks (GGUF, or carried into a pack verbatim).
    case ggml(GGMLType)
    /// LayerPack row records (Formats/lpk.md §5).
    case rows(RowScheme)
    /// A file carried verbatim (tokenizer files in a pack).
    case file
    /// MLX affine groups (an MLX-LM checkpoint's packed weight with its scales and biases); read from sources only,
    /// never written to a pack.
    case mlx(MLXAffine)

    public var description: String {
        switch self {
        case .plain(let dtype): dtype.rawValue
        case .ggml(let type): type.name
        case .rows(let scheme): scheme.description
        case .file: "file"
        case .mlx(let affine): affine.description
        }
    }

    /// Whether values can be read as `Float` from this encoding.
    public var isReadable: Bool {
        switch self {
        case .plain(let dtype): dtype.convertsToFloat
        case .ggml(let type): type.isDequantizable
        case .rows: true
        case .file: false
        case .mlx: true
        }
    }
}
