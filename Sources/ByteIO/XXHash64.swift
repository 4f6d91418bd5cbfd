import CChecksum

/// XXH64, the 64-bit xxHash (specification: Cyan4973/xxHash `doc/xxhash_spec.md`), streaming.
///
/// LayerPack checksums every pack section and tensor with it; it is fast enough to verify a pack at memory speed.
public struct XXHash64: Sendable {
    private static let prime1: UInt64 = 0x9E37_79B1_85EB_CA87
    private static let prime2: UInt64 = 0xC2B2_AE3D_27D4_EB4F
    private static let prime3: UInt64 = 0x1656_67B1_9E37_79F9
    private static let prime4: UInt64 = 0x85EB_CA77_C2B2_AE63
    private static let prime5: UInt64 = 0x27D4_EB2F_1656_67C5

    private var lanes: (UInt64, UInt64, UInt64, UInt64)
    private var buffer = [UInt8](repeating: 0, count: 32)
    private var buffered = 0
    private var totalLength: UInt64 = 0
    private let seed: UInt64

    /// Starts a hash with `seed`.
    public init(seed: UInt64 = 0) {
        self.seed = seed
        lanes = (seed &+ Self.prime1 &+ Self.prime2, seed &+ Self.prime2, seed, seed &- Self.prime1)
    }

    /// The hash of `bytes` in one call.
    public static func hash(_ bytes: UnsafeRawBufferPointer, seed: UInt64 = 0) -> UInt64 {
        var hasher = XXHash64(seed: seed)
        hasher.update(bytes)
        return hasher.finalize()
    }

    /// The hash of an array.
    public static func hash(_ bytes: [UInt8], seed: UInt64 = 0) -> UInt64 {
        bytes.withUnsafeBytes { hash($0, seed: seed) }
    }

    @inline(__always)
    private static func round(_ accumulator: UInt64, _ lane: UInt64) -> UInt64 {
        // &-operators: the specification defines all arithmetic modulo 2^64.
        (accumulator &+ lane &* prime2).rotatedLeft(31) &* prime1
    }

    @inline(__always)
    private static func mergeRound(_ accumulator: UInt64, _ lane: UInt64) -> UInt64 {
        (accumulator ^ round(0, lane)) &* prime1 &+ prime4
    }

    @inline(__always)
    private static func lane(_ bytes: UnsafeRawBufferPointer, _ offset: Int) -> UInt64 {
        UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }

    private mutating func consumeStripe(_ bytes: UnsafeRawBufferPointer, _ offset: Int) {
        lanes.0 = Self.round(lanes.0, Self.lane(bytes, offset))
        lanes.1 = Self.round(lanes.1, Self.lane(bytes, offset + 8))
        lanes.2 = Self.round(lanes.2, Self.lane(bytes, offset + 16))
        lanes.3 = Self.round(lanes.3, Self.lane(bytes, offset + 24))
    }

    /// Adds bytes.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard let offset = fillBuffer(from: bytes) else { return }
        // Whole stripes straight from the base address, in C (which asks for the memory ahead): `stripes` whole
        // stripes lie inside `bytes`.
        let stripes = (bytes.count - offset) / 32
        if stripes > 0 {
            withUnsafeMutableBytes(of: &lanes) { state in  // a homogeneous tuple: four contiguous UInt64
                lpk_xxh64_stripes(state.baseAddress!.assumingMemoryBound(to: UInt64.self), bytes.baseAddress! + offset, stripes)
            }
        }
        keepTail(of: bytes, from: offset + 32 * stripes)
    }

    /// Adds the same bytes to two hashes. Where both have taken the same number of bytes modulo 32 (a tensor's hash
    /// and the hash of its current block, which start together), their stripes are computed in one pass.
    public static func update(_ first: inout XXHash64, _ second: inout XXHash64, with bytes: UnsafeRawBufferPointer) {
        guard first.buffered == second.buffered else {
            first.update(bytes)
            second.update(bytes)
            return
        }
        // Equal buffered counts fill alike: both return the same start.
        let start = first.fillBuffer(from: bytes)
        _ = second.fillBuffer(from: bytes)
        guard let offset = start else { return }
        let stripes = (bytes.count - offset) / 32
        if stripes > 0 {
            withUnsafeMutableBytes(of: &first.lanes) { firstState in
                withUnsafeMutableBytes(of: &second.lanes) { secondState in
                    lpk_xxh64_stripes_pair(firstState.baseAddress!.assumingMemoryBound(to: UInt64.self),
                                           secondState.baseAddress!.assumingMemoryBound(to: UInt64.self), bytes.baseAddress! + offset, stripes)
                }
            }
        }
        first.keepTail(of: bytes, from: offset + 32 * stripes)
        second.keepTail(of: bytes, from: offset + 32 * stripes)
    }

    /// Counts `bytes` into the length and completes a partly filled stripe from their start, consuming it once whole.
    /// Returns where the rest of `bytes` begins, or nil when all of them went into the unfinished stripe.
    private mutating func fillBuffer(from bytes: UnsafeRawBufferPointer) -> Int? {
        totalLength &+= UInt64(bytes.count)
        guard buffered > 0 else { return 0 }
        let take = min(32 - buffered, bytes.count)
        for i in 0..<take { buffer[buffered + i] = bytes[i] }
        buffered += take
        guard buffered == 32 else { return nil }
        buffer.withUnsafeBytes { consumeStripe($0, 0) }
        buffered = 0
        return take
    }

    /// Keeps the bytes from `offset` on (less than a stripe) for the next update or the final steps.
    private mutating func keepTail(of bytes: UnsafeRawBufferPointer, from offset: Int) {
        for i in offset..<bytes.count { buffer[i - offset] = bytes[i] }
        buffered = bytes.count - offset
    }

    /// Adds an array of bytes.
    public mutating func update(_ bytes: [UInt8]) { bytes.withUnsafeBytes { update($0) } }

    /// The hash of everything added.
    public func finalize() -> UInt64 {
        var hash: UInt64
        if totalLength >= 32 {
            hash = lanes.0.rotatedLeft(1) &+ lanes.1.rotatedLeft(7) &+ lanes.2.rotatedLeft(12) &+ lanes.3.rotatedLeft(18)
            hash = Self.mergeRound(hash, lanes.0)
            hash = Self.mergeRound(hash, lanes.1)
            hash = Self.mergeRound(hash, lanes.2)
            hash = Self.mergeRound(hash, lanes.3)
        } else {
            hash = seed &+ Self.prime5
        }
        hash &+= totalLength
        buffer.withUnsafeBytes { tail in
            var offset = 0
            while buffered - offset >= 8 {
                hash ^= Self.round(0, Self.lane(tail, offset))
                hash = hash.rotatedLeft(27) &* Self.prime1 &+ Self.prime4
                offset += 8
            }
            if buffered - offset >= 4 {
                let word = UInt64(UInt32(littleEndian: tail.loadUnaligned(fromByteOffset: offset, as: UInt32.self)))
                hash ^= word &* Self.prime1
                hash = hash.rotatedLeft(23) &* Self.prime2 &+ Self.prime3
                offset += 4
            }
            while offset < buffered {
                hash ^= UInt64(tail[offset]) &* Self.prime5
                hash = hash.rotatedLeft(11) &* Self.prime1
                offset += 1
            }
        }
        hash ^= hash >> 33
        hash &*= Self.prime2
        hash ^= hash >> 29
        hash &*= Self.prime3
        hash ^= hash >> 32
        return hash
    }
}

extension UInt64 {
    @inline(__always)
    func rotatedLeft(_ count: UInt64) -> UInt64 { (self &<< count) | (self &>> (64 &- count)) }  // masking shifts: one rotate
}
