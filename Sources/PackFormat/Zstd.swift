import CZstd

/// One-shot zstd compression and decompression over libzstd.
public enum Zstd {
    /// A libzstd failure, with its own message.
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Compresses `input` at `level` (1–19).
    public static func compress(_ input: UnsafeRawBufferPointer, level: Int32) throws(Failure) -> [UInt8] {
        let bound = ZSTD_compressBound(input.count)
        var output = [UInt8](repeating: 0, count: bound)
        let written = output.withUnsafeMutableBytes { out in
            ZSTD_compress(out.baseAddress, bound, input.baseAddress, input.count, level)
        }
        guard ZSTD_isError(written) == 0 else { throw Failure(description: "zstd: " + String(cString: ZSTD_getErrorName(written))) }
        output.removeLast(bound - written)
        return output
    }

    /// Decompresses `input`, one frame that must decode to exactly `size` bytes.
    /// The frame's own content size is checked first, so a header that lies about `size` allocates nothing.
    public static func decompress(_ input: UnsafeRawBufferPointer, size: Int) throws(Failure) -> [UInt8] {
        let declared = ZSTD_getFrameContentSize(input.baseAddress, input.count)
        guard declared == UInt64(size) else {
            throw Failure(description: "zstd: the frame does not declare the expected \(size) bytes")
        }
        var output = [UInt8](repeating: 0, count: size)
        let written = output.withUnsafeMutableBytes { out in
            ZSTD_decompress(out.baseAddress, size, input.baseAddress, input.count)
        }
        guard ZSTD_isError(written) == 0 else { throw Failure(description: "zstd: " + String(cString: ZSTD_getErrorName(written))) }
        guard written == size else { throw Failure(description: "zstd: decoded \(written) bytes, expected \(size)") }
        return output
    }
}
