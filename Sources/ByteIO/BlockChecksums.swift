import Synchronization

/// XXH64 checksums of fixed-size blocks of one stored tensor, each verified the first time a read touches it: what
/// lets a lookup table that lives in flash be checked without reading it whole (Formats/lpk.md §3, §10).
///
/// `@unchecked Sendable`: the checksums and bytes are immutable; the set of verified blocks is guarded by a mutex.
public final class BlockChecksums: @unchecked Sendable {
    /// A block whose bytes do not hash to their checksum.
    public struct Mismatch: LayerPackError {
        /// The one way a block can fail: its bytes hash to something else.
        public enum Kind: Sendable, Equatable { case damagedBlock }
        public var kind: Kind { .damagedBlock }
        public let path: String?
        public let offset: Int
        public let message: String
        public var location: ErrorLocation? { .offset(offset) }
    }

    /// The bytes checked.
    public let bytes: ByteView
    /// Bytes per block (the last block may be shorter).
    public let blockSize: Int
    /// One checksum per block.
    public let checksums: [UInt64]
    /// What the bytes are, for messages (`tensor 'x'`).
    public let name: String
    private let verified: Mutex<[Bool]>

    /// - Precondition: `checksums` has one entry per `blockSize` bytes of `bytes` (rounded up).
    public init(bytes: ByteView, blockSize: Int, checksums: [UInt64], name: String) {
        precondition(blockSize > 0 && checksums.count == Self.blockCount(bytes: bytes.count, blockSize: blockSize), "one checksum per block")
        self.bytes = bytes
        self.blockSize = blockSize
        self.checksums = checksums
        self.name = name
        verified = Mutex([Bool](repeating: false, count: checksums.count))
    }

    /// Blocks of `blockSize` needed for `bytes` bytes.
    public static func blockCount(bytes: Int, blockSize: Int) -> Int { (bytes + blockSize - 1) / blockSize }

    /// The checksums of `bytes` in blocks of `blockSize`.
    public static func compute(_ bytes: UnsafeRawBufferPointer, blockSize: Int) -> [UInt64] {
        stride(from: 0, to: bytes.count, by: blockSize).map { start in
            XXHash64.hash(UnsafeRawBufferPointer(rebasing: bytes[start..<min(bytes.count, start + blockSize)]))
        }
    }

    /// Verifies every block that `range` (offsets within the bytes) touches and that has not been verified yet.
    /// - Throws: ``Mismatch`` naming the file, the block's offset and the tensor.
    public func verify(_ range: Range<Int>) throws(Mismatch) {
        guard !range.isEmpty else { return }
        let first = max(0, range.lowerBound) / blockSize, last = min(checksums.count - 1, (range.upperBound - 1) / blockSize)
        guard first <= last else { return }
        for block in first...last where !verified.withLock({ $0[block] }) {
            let start = block * blockSize, length = min(blockSize, bytes.count - start)
            let sum = bytes.slice(offset: start, length: length)!.withUnsafeBytes { XXHash64.hash($0) }  // inside by construction
            guard sum == checksums[block] else {
                throw Mismatch(path: bytes.file.path, offset: bytes.fileOffset + start,
                               message: "\(name): block \(block) (\(length) bytes) does not match its checksum (the data is damaged)")
            }
            verified.withLock { $0[block] = true }
        }
    }

    /// Verifies every block.
    public func verifyAll() throws(Mismatch) { try verify(0..<bytes.count) }
}
