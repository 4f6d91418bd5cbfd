/// A read past the end of the bytes: what was asked for, where, and what was left.
public struct ByteReadError: LayerPackError, Equatable {
    /// The only kind: a read past the end.
    public enum Kind: Sendable, Equatable { case pastEnd }
    public var kind: Kind { .pastEnd }
    /// Byte readers see views, not paths: the format reader that catches this names the file.
    public var path: String? { nil }
    public var location: ErrorLocation? { .offset(offset) }

    /// Absolute file offset at which the read started.
    public let offset: Int
    /// Bytes the read needed.
    public let needed: Int
    /// Bytes that were left.
    public let available: Int

    public init(offset: Int, needed: Int, available: Int) {
        self.offset = offset
        self.needed = needed
        self.available = available
    }

    public var message: String { "needs \(needed) bytes but only \(available) remain" }
}

/// A cursor that reads little-endian values from a ``ByteView``, checking `needed ≤ remaining` before each read.
public struct ByteReader: Sendable {
    /// The bytes being read.
    public let view: ByteView
    /// The position of the next read, relative to the start of ``view``.
    public private(set) var position: Int = 0

    /// Creates a reader at the start of `view`.
    public init(_ view: ByteView) { self.view = view }

    /// Bytes not yet read.
    public var remaining: Int { view.count - position }

    /// The absolute file offset of the next read.
    public var fileOffset: Int { view.fileOffset + position }

    private func check(_ needed: Int) throws(ByteReadError) {
        guard needed >= 0, needed <= remaining else {
            throw ByteReadError(offset: fileOffset, needed: needed, available: remaining)
        }
    }

    /// Reads a little-endian integer.
    public mutating func read<T: FixedWidthInteger>(_: T.Type) throws(ByteReadError) -> T {
        let size = MemoryLayout<T>.size
        try check(size)
        let value = view.load(T.self, at: position)!  // checked above
        position += size
        return value
    }

    /// Reads a little-endian binary32.
    public mutating func readFloat32() throws(ByteReadError) -> Float { Float(bitPattern: try read(UInt32.self)) }

    /// Reads a little-endian binary64.
    public mutating func readFloat64() throws(ByteReadError) -> Double { Double(bitPattern: try read(UInt64.self)) }

    /// Reads `count` bytes as a view without copying.
    public mutating func readView(count: Int) throws(ByteReadError) -> ByteView {
        try check(count)
        let slice = view.slice(offset: position, length: count)!  // checked above
        position += count
        return slice
    }

    /// Skips `count` bytes.
    public mutating func skip(_ count: Int) throws(ByteReadError) {
        try check(count)
        position += count
    }

    /// Skips `count` strings that each start with a little-endian u64 length, checking every length against the
    /// bytes left; one pass, no copies. On failure the reader stays where it was and the error gives the offset of
    /// the string that does not fit.
    public mutating func skipLengthPrefixedStrings(count: Int) throws(ByteReadError) {
        var position = self.position
        let end = view.count
        let base = view.fileOffset
        let failure: ByteReadError? = view.withUnsafeBytes { raw in
            for _ in 0..<count {
                guard end - position >= 8 else { return ByteReadError(offset: base + position, needed: 8, available: end - position) }
                let length = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: position, as: UInt64.self))
                position += 8
                guard length <= UInt64(end - position) else {
                    return ByteReadError(offset: base + position - 8, needed: Int(clamping: length), available: end - position)
                }
                position += Int(length)
            }
            return nil
        }
        if let failure { throw failure }
        self.position = position
    }

    /// Moves to `position` (relative to the view), which must lie within it.
    public mutating func seek(to newPosition: Int) throws(ByteReadError) {
        guard newPosition >= 0, newPosition <= view.count else {
            throw ByteReadError(offset: view.fileOffset + max(0, newPosition), needed: 0, available: 0)
        }
        position = newPosition
    }
}

/// Formats an offset or size as `0x…` for error messages.
public struct Hex: CustomStringConvertible, Sendable {
    let value: UInt64
    /// Wraps a non-negative integer.
    public init<T: BinaryInteger>(_ value: T) { self.value = UInt64(truncatingIfNeeded: value) }
    public var description: String { "0x" + String(value, radix: 16) }
}
