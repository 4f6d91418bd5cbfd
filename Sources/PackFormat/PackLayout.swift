import GGUFFormat
import TensorModel
import TensorTypes

/// Fixed numbers of the pack format (Formats/lpk.md §2, §3, §6, §9).
public enum PackLayout {
    /// `LAYRPACK`.
    public static let magic: [UInt8] = Array("LAYRPACK".utf8)
    /// `LAYRPLE1`, the companion PLE file's magic (§7).
    public static let companionMagic: [UInt8] = Array("LAYRPLE1".utf8)
    public static let majorVersion: UInt16 = 1
    public static let minorVersion: UInt16 = 0
    public static let headerBytes = 128
    public static let companionHeaderBytes = 64
    public static let recordBytes = 128
    /// Where the core section starts, and the alignment of PLE tensors.
    public static let pageBytes = 4096
    /// Alignment of core tensors and of the index.
    public static let tensorAlignment = 64
    /// Stride alignment of PLE row records.
    public static let pleRecordAlignment = 64
    /// Longest tensor name.
    public static let maxNameBytes = 4096
    /// Highest rank a record can describe.
    public static let maxRank = 4
    /// Flag bit 0: the PLE section is in a companion file.
    public static let companionFlag: UInt32 = 1
    /// The source-dtype value meaning "not known".
    public static let unknownDType: UInt32 = 0xFFFF_FFFF

    /// The companion PLE file of the pack at `path`.
    public static func companionPath(of path: String) -> String { path + ".ple" }

    /// `value` rounded up to a multiple of `alignment` (a power of two), or nil on overflow.
    public static func align(_ value: Int, to alignment: Int) -> Int? {
        let (sum, overflow) = value.addingReportingOverflow(alignment - 1)
        return overflow ? nil : sum & ~(alignment - 1)
    }

    // MARK: - §9 enumerations

    /// dtype ids in §9 order.
    static let dtypeOrder: [DType] = [.bool, .u8, .i8, .i16, .u16, .f16, .bf16, .i32, .u32, .f32, .f64, .i64, .u64,
                                      .f8E4M3, .f8E5M2, .f8E4M3FNUZ, .f8E5M2FNUZ, .f8E8M0, .f4, .f6E2M3, .f6E3M2, .c64]

    /// The §9 id of a dtype.
    public static func id(of dtype: DType) -> UInt32 { UInt32(dtypeOrder.firstIndex(of: dtype)!) }

    /// The dtype with §9 id `id`.
    public static func dtype(id: UInt32) -> DType? { id < dtypeOrder.count ? dtypeOrder[Int(id)] : nil }

    /// The §9 id of a role (its position in `TensorRole.allCases`).
    public static func id(of role: TensorRole) -> UInt8 { UInt8(TensorRole.allCases.firstIndex(of: role)!) }

    /// The role with §9 id `id`.
    public static func role(id: UInt8) -> TensorRole? { Int(id) < TensorRole.allCases.count ? TensorRole.allCases[Int(id)] : nil }
}

/// A pack tensor's encoding (§3, byte 14) is the model-wide ``TensorEncoding``.
public typealias PackEncoding = TensorEncoding

extension TensorEncoding {
    /// The §3 encoding byte.
    var packCode: UInt8 {
        switch self {
        case .plain: 0
        case .ggml: 1
        case .rows: 2
        case .file: 3
        }
    }
}

/// Which section holds a tensor (§3, byte 13).
public enum PackSection: UInt8, Sendable {
    case core = 0
    case ple = 1
}
