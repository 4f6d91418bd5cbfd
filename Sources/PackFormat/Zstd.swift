import ByteIO
import CZstd

/// A libzstd failure, with libzstd's own words (the `.lpkz` reader adds the file and the segment's offset).
public struct ZstdError: LayerPackError {
    /// What failed.
    public enum Kind: Sendable, Equatable {
        case compression
        /// A frame that does not declare the size its segment header gives.
        case frameSize
        case decompression
    }

    public let kind: Kind
    public let message: String
    public var path: String? { nil }
    public var location: ErrorLocation? { nil }
}

/// One-shot zstd compression and decompression over libzstd.
public enum Zstd {
    /// Compresses `input` at `level` (1–19).
    public static func compress(_ input: UnsafeRawBufferPointer, level: Int32) throws(ZstdError) -> [UInt8] {
        let bound = ZSTD_compressBound(input.count)
        var output = [UInt8](repeating: 0, count: bound)
        let written = output.withUnsafeMutableBytes { out in
            ZSTD_compress(out.baseAddress, bound, input.baseAddress, input.count, level)
        }
        guard ZSTD_isError(written) == 0 else { throw ZstdError(kind: .compression, message: "zstd: " + String(cString: ZSTD_getErrorName(written))) }
        output.removeLast(bound - written)
        return output
    }

    /// Decompresses `input`, one frame that must decode to exactly `size` bytes.
    /// The frame's own content size is checked first, so a header that lies about `size` allocates nothing.
    public static func decompress(_ input: UnsafeRawBufferPointer, size: Int) throws(ZstdError) -> [UInt8] {
        let declared = ZSTD_getFrameContentSize(input.baseAddress, input.count)
        guard declared == UInt64(size) else {
            throw ZstdError(kind: .frameSize, message: "zstd: the frame does not declare the expected \(size) bytes")
        }
        var output = [UInt8](repeating: 0, count: size)
        let written = output.withUnsafeMutableBytes { out in
            ZSTD_decompress(out.baseAddress, size, input.baseAddress, input.count)
        }
        guard ZSTD_isError(written) == 0 else { throw ZstdError(kind: .decompression, message: "zstd: " + String(cString: ZSTD_getErrorName(written))) }
        guard written == size else { throw ZstdError(kind: .decompression, message: "zstd: decoded \(written) bytes, expected \(size)") }
        return output
    }
}
