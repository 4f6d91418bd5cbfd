#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A read-only view of a whole file's bytes, memory-mapped (or, for tests and small inputs, held in memory).
///
/// `@unchecked Sendable`: the mapping is read-only and `base` and `count` are immutable, so any thread may read it.
///
/// Invariant: `base` and `count` never change after `init`, and `base` points to `count` readable bytes until
/// `deinit`. All access goes through ``ByteView``, which checks every range against `count`; this class and
/// ``ByteView`` are the only places in LayerPack's readers that hold a raw pointer.
public final class MappedFile: @unchecked Sendable {
    /// The path the bytes came from (or a name given to in-memory bytes); used in every error message.
    public let path: String
    /// The number of bytes.
    public let count: Int
    private let base: UnsafeRawPointer?
    private let storage: Storage

    private enum Storage { case mapped, owned, empty }

    /// Maps the file at `path` read-only.
    ///
    /// The file is opened without blocking (`O_NONBLOCK`, which changes nothing for a regular file), so that a FIFO
    /// or a device given by mistake is refused at once instead of hanging in `open`.
    /// - Throws: ``SystemCallError`` when the file cannot be opened, is not a regular file, or cannot be mapped.
    public init(path: String) throws(SystemCallError) {
        self.path = path
        let descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard descriptor >= 0 else { throw SystemCallError(call: "open", path: path) }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw SystemCallError(call: "fstat", path: path) }
        guard (status.st_mode & S_IFMT) == S_IFREG else {
            throw SystemCallError(call: "open", path: path, errno: (status.st_mode & S_IFMT) == S_IFDIR ? EISDIR : EINVAL)
        }
        let size = Int(status.st_size)
        count = size
        guard size > 0 else {
            base = nil
            storage = .empty
            return
        }
        let address = mmap(nil, size, PROT_READ, MAP_PRIVATE, descriptor, 0)
        guard let address, address != MAP_FAILED else { throw SystemCallError(call: "mmap", path: path) }
        base = UnsafeRawPointer(address)
        storage = .mapped
    }

    /// Copies `bytes` into memory owned by this object; `name` stands in for a path in error messages.
    public init(bytes: [UInt8], name: String) {
        path = name
        count = bytes.count
        guard !bytes.isEmpty else {
            base = nil
            storage = .empty
            return
        }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 64)
        buffer.copyBytes(from: bytes)
        base = UnsafeRawPointer(buffer.baseAddress!)
        storage = .owned
    }

    deinit {
        switch storage {
        case .mapped: munmap(UnsafeMutableRawPointer(mutating: base), count)
        case .owned: base?.deallocate()
        case .empty: break
        }
    }

    /// All bytes of the file.
    public var bytes: ByteView { ByteView(file: self, start: 0, count: count) }

    /// Calls `body` with the bytes in `start ..< start + length`, which the caller (``ByteView``) has checked.
    func withUnsafeBytes<R, E: Error>(
        start: Int, length: Int, _ body: (UnsafeRawBufferPointer) throws(E) -> R
    ) throws(E) -> R {
        precondition(start >= 0 && length >= 0 && start <= count && length <= count - start, "range outside file")
        guard let base else { return try body(UnsafeRawBufferPointer(start: nil, count: 0)) }
        return try body(UnsafeRawBufferPointer(start: base + start, count: length))
    }

    /// Hints the kernel how the pages in a range will be read (a no-op for in-memory bytes).
    func advise(start: Int, length: Int, _ advice: ByteView.AccessAdvice) {
        guard storage == .mapped, let base, length > 0 else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        // Only whole pages inside the range are dropped, so neighbouring data is never discarded by accident.
        let alignedStart = advice == .dontNeed ? (start + page - 1) / page * page : start / page * page
        if advice == .dontNeed {
            let end = (start + length) / page * page
            guard end > alignedStart else { return }
            _ = madvise(UnsafeMutableRawPointer(mutating: base + alignedStart), end - alignedStart, Int32(MADV_DONTNEED))
            return
        }
        let pointer = UnsafeMutableRawPointer(mutating: base + alignedStart)
        let flag: Int32 = switch advice {
        case .sequential: Int32(MADV_SEQUENTIAL)
        case .random: Int32(MADV_RANDOM)
        case .willNeed, .populate: Int32(MADV_WILLNEED)
        case .dontNeed: Int32(MADV_DONTNEED)
        }
        let length = length + (start - alignedStart)
        if advice == .populate, Self.populateRead(pointer, length) { return }
        _ = madvise(pointer, length, flag)
    }

    /// `madvise(MADV_POPULATE_READ)`: maps every page of the range, reading what is not cached. False where the
    /// system lacks it (Linux before 5.14, other systems), or the range could not be populated (the pages then come
    /// on demand as before).
    private static func populateRead(_ pointer: UnsafeMutableRawPointer, _ length: Int) -> Bool {
        #if os(Linux)
        let populateReadAdvice: Int32 = 22  // MADV_POPULATE_READ in <linux/mman.h>, which Glibc's module does not export
        return madvise(pointer, length, populateReadAdvice) == 0
        #else
        return false
        #endif
    }
}
