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
    /// The minor version this writer writes: 1 (PLE tensors on 16 KiB boundaries). Readers also read 0.
    public static let minorVersion: UInt16 = 1
    public static let headerBytes = 128
    public static let companionHeaderBytes = 64
    public static let recordBytes = 128
    /// Where the core section starts.
    public static let coreSectionOffset = 4096
    /// The alignment of PLE tensors, and where a companion file's PLE section starts (§6, §7): 16 KiB since format
    /// 1.1, so that one token's record lies in as few of an Apple silicon device's 16 KiB pages as it can.
    public static let pleAlignment = 16384

    /// Bytes per block-checksummed block of a PLE tensor (§3, format 1.1): one Apple silicon page.
    public static let pleBlockSize = 16384

    /// The PLE alignment a pack of minor version `minor` uses: 4 KiB in 1.0, 16 KiB since 1.1.
    public static func pleAlignment(minorVersion minor: UInt16) -> Int { minor >= 1 ? pleAlignment : 4096 }
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

    /// The §9 id of a dtype. Ids are written into every pack: each is a constant that never changes meaning.
    public static func id(of dtype: DType) -> UInt32 {
        switch dtype {
        case .bool: 0
        case .u8: 1
        case .i8: 2
        case .i16: 3
        case .u16: 4
        case .f16: 5
        case .bf16: 6
        case .i32: 7
        case .u32: 8
        case .f32: 9
        case .f64: 10
        case .i64: 11
        case .u64: 12
        case .f8E4M3: 13
        case .f8E5M2: 14
        case .f8E4M3FNUZ: 15
        case .f8E5M2FNUZ: 16
        case .f8E8M0: 17
        case .f4: 18
        case .f6E2M3: 19
        case .f6E3M2: 20
        case .c64: 21
        }
    }

    /// The dtype with §9 id `id`, nil for ids no version has defined.
    public static func dtype(id: UInt32) -> DType? { dtypesByID[id] }

    /// The §9 id of a role. Ids are written into every pack: each is a constant that never changes meaning, and a
    /// new role takes the next free id.
    public static func id(of role: TensorRole) -> UInt8 {
        switch role {
        case .tokenEmbedding: 0
        case .perLayerEmbedding: 1
        case .perLayerInput: 2
        case .attention: 3
        case .mlp: 4
        case .altup: 5
        case .laurel: 6
        case .norm: 7
        case .layerScalar: 8
        case .ropeFrequencies: 9
        case .outputHead: 10
        case .multimodalEmbedder: 11
        case .visionTower: 12
        case .audioTower: 13
        case .other: 14
        }
    }

    /// The role with §9 id `id`, nil for ids no version has defined.
    public static func role(id: UInt8) -> TensorRole? { rolesByID[id] }

    private static let dtypesByID = Dictionary(uniqueKeysWithValues: DType.allCases.map { (id(of: $0), $0) })
    private static let rolesByID = Dictionary(uniqueKeysWithValues: TensorRole.allCases.map { (id(of: $0), $0) })
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
        case .mlx: preconditionFailure("a pack cannot hold MLX groups: PackWriter refuses them (expectedLength is nil)")
        }
    }
}

/// Which section holds a tensor (§3, byte 13).
public enum PackSection: UInt8, Sendable {
    case core = 0
    case ple = 1
}
