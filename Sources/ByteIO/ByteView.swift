/// A bounds-checked range of a ``MappedFile``: the type format readers pass around instead of pointers.
///
/// Offsets given to a view are relative to its start; ``fileOffset`` converts them to positions in the file for
/// error messages. A view keeps its file mapped for as long as it lives.
public struct ByteView: Sendable {
    /// The file the bytes belong to.
    public let file: MappedFile
    /// Where this view starts in the file.
    public let fileOffset: Int
    /// The number of bytes in this view.
    public let count: Int

    init(file: MappedFile, start: Int, count: Int) {
        self.file = file
        self.fileOffset = start
        self.count = count
    }

    /// The sub-range `offset ..< offset + length` of this view, or `nil` when it does not lie inside it.
    public func slice(offset: Int, length: Int) -> ByteView? {
        guard offset >= 0, length >= 0, offset <= count, length <= count - offset else { return nil }
        return ByteView(file: file, start: fileOffset + offset, count: length)
    }

    /// The byte at `offset`, or `nil` past the end.
    public func byte(at offset: Int) -> UInt8? {
        guard offset >= 0, offset < count else { return nil }
        return withUnsafeBytes { $0[offset] }
    }

    /// A little-endian integer at `offset`, or `nil` when it does not fit in the view.
    public func load<T: FixedWidthInteger>(_: T.Type, at offset: Int) -> T? {
        let size = MemoryLayout<T>.size
        guard offset >= 0, size <= count, offset <= count - size else { return nil }
        return withUnsafeBytes { T(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: T.self)) }
    }

    /// Calls `body` with the view's bytes. The buffer is valid only inside `body`.
    public func withUnsafeBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try file.withUnsafeBytes(start: fileOffset, length: count, body)
    }

    /// A copy of the bytes.
    public var array: [UInt8] { withUnsafeBytes { [UInt8]($0) } }

    /// How the pages of a view are about to be read; see ``advise(_:)``.
    public enum AccessAdvice: Sendable {
        case sequential, random, willNeed
        /// Done with these pages: drop them from this process (a mapped file's pages stay in the page cache).
        case dontNeed
        /// Every page is about to be read: map them all into this process now, reading from storage what the page
        /// cache lacks, instead of one page fault after another on first use (Linux's `MADV_POPULATE_READ`, as
        /// llama.cpp maps models with `MAP_POPULATE`; a read-ahead request where that is unavailable).
        case populate
    }

    /// Tells the kernel how this range will be read, so it can read ahead (or not).
    public func advise(_ advice: AccessAdvice) { file.advise(start: fileOffset, length: count, advice) }
}
