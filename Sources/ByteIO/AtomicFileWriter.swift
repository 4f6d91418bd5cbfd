#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes a file so that it appears whole or not at all.
///
/// Bytes go to an unnamed temporary file in the destination's directory (Linux `O_TMPFILE`; elsewhere a hidden
/// `.NAME.lpk-tmp-XXXXXX` file that is removed on failure). ``commit()`` syncs the data, gives it a name and
/// renames it over the destination, then syncs the directory. A run that is killed before ``commit()`` leaves
/// nothing behind on Linux, and a writer that is dropped without committing removes its temporary file.
public final class AtomicFileWriter {
    /// The path the file will have once committed.
    public let destination: String
    /// Bytes written so far (appended, including those still in the append buffer).
    public private(set) var bytesWritten: Int = 0
    private var descriptor: Int32
    /// The named temporary file when `O_TMPFILE` was unavailable.
    private var namedTemporary: String?
    private var finished = false
    /// The end of the bytes whose write-back to storage has been started (see ``startWriteBack()``).
    private var writeBackStarted = 0
    /// Appended bytes not yet handed to the system: small appends (a table's rows one at a time) are gathered into
    /// writes of ``appendBufferBytes``, so that the page cache holds the file in large folios, as it holds a `cp` of
    /// it. Allocated on the first small append, freed with the writer.
    private var appendBuffer: UnsafeMutableRawBufferPointer?
    private var bufferedBytes = 0
    /// Bytes handed to the system so far.
    private var writtenToSystem: Int { bytesWritten - bufferedBytes }

    /// The size of the writes appends are gathered into. The kernel sizes a written file's page-cache folios by the
    /// writes: the 270M int8 pack written 680-byte row by row decoded at 82 tokens/s, the same bytes written 2 MiB at a
    /// time at 89 (medians of 6 interleaved runs).
    static let appendBufferBytes = 2 << 20

    /// Bytes appended between two requests to start writing them back: the data then reaches storage while the
    /// run goes on, and ``commit()``'s sync waits only for the last of it.
    static let writeBackInterval = 8 << 20

    /// Opens a temporary file next to `destination`.
    /// - Throws: ``SystemCallError`` when the directory cannot be written to, or (`EEXIST`… `ENOTSUP`) when
    ///   `destination` exists and is not a regular file: a device or a FIFO is never replaced by a file.
    public init(destination: String) throws(SystemCallError) {
        self.destination = destination
        if let existing = OutputGuard.identity(destination), !existing.regular {
            throw SystemCallError(call: "replace (the destination is not a regular file)", path: destination, errno: EEXIST)
        }
        let directory = Self.directory(of: destination)
        #if os(Linux)
        let unnamed = open(directory, Self.temporaryFileFlag | O_WRONLY | O_CLOEXEC, mode_t(0o644))
        if unnamed >= 0 {
            descriptor = unnamed
            return
        }
        guard errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL else {
            throw SystemCallError(call: "open(O_TMPFILE)", path: directory)
        }
        #endif
        let template = Self.temporaryName(for: destination)
        var path = Array(template.utf8CString)
        let named = path.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard named >= 0 else { throw SystemCallError(call: "mkstemp", path: template) }
        descriptor = named
        namedTemporary = String(decoding: path.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    deinit {
        if !finished { abandon() }
        appendBuffer?.deallocate()
    }

    /// Appends bytes: gathered in the append buffer, or written at once when the buffer is empty and they fill it.
    public func write(_ bytes: UnsafeRawBufferPointer) throws(SystemCallError) {
        precondition(!finished, "write after commit or abandon")
        var rest = bytes
        while !rest.isEmpty {
            if bufferedBytes == 0, rest.count >= Self.appendBufferBytes {
                try writeFully(rest)
                bytesWritten += rest.count
                break
            }
            let buffer = appendBuffer ?? UnsafeMutableRawBufferPointer.allocate(byteCount: Self.appendBufferBytes, alignment: 4096)
            appendBuffer = buffer
            let take = min(rest.count, buffer.count - bufferedBytes)
            UnsafeMutableRawBufferPointer(rebasing: buffer[bufferedBytes..<(bufferedBytes + take)]).copyMemory(from: UnsafeRawBufferPointer(rebasing: rest[0..<take]))
            bufferedBytes += take
            bytesWritten += take
            rest = UnsafeRawBufferPointer(rebasing: rest[take...])
            if bufferedBytes == buffer.count { try flushAppendBuffer() }
        }
        if writtenToSystem - writeBackStarted >= Self.writeBackInterval { startWriteBack() }
    }

    /// Hands the append buffer's bytes to the system.
    private func flushAppendBuffer() throws(SystemCallError) {
        guard let appendBuffer, bufferedBytes > 0 else { return }
        try writeFully(UnsafeRawBufferPointer(rebasing: appendBuffer[0..<bufferedBytes]))
        bufferedBytes = 0
    }

    /// `write(2)` until every byte is written.
    private func writeFully(_ bytes: UnsafeRawBufferPointer) throws(SystemCallError) {
        var offset = 0
        while offset < bytes.count {
            let written = systemWrite(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                throw SystemCallError(call: "write", path: destination)
            }
            offset += written
        }
    }

    /// Asks the system to start writing the bytes handed to it since the last request to storage, without waiting
    /// (Linux `sync_file_range(SYNC_FILE_RANGE_WRITE)`; elsewhere nothing: ``commit()`` syncs everything anyway).
    private func startWriteBack() {
        #if os(Linux)
        _ = linuxSyncFileRange(descriptor, Int64(writeBackStarted), Int64(writtenToSystem - writeBackStarted), 2)  // SYNC_FILE_RANGE_WRITE
        #endif
        writeBackStarted = writtenToSystem
    }

    /// Appends an array of bytes.
    public func write(_ bytes: [UInt8]) throws(SystemCallError) {
        let outcome = bytes.withUnsafeBytes { raw in Result { () throws(SystemCallError) in try write(raw) } }
        try outcome.get()
    }

    /// Replaces already-written bytes at `offset` (a header filled in last); does not move the append position.
    /// - Precondition: `offset + bytes.count ≤ bytesWritten`.
    public func overwrite(_ bytes: [UInt8], at offset: Int) throws(SystemCallError) {
        precondition(!finished && offset >= 0 && offset + bytes.count <= bytesWritten, "overwrite outside written bytes")
        try flushAppendBuffer()
        var done = 0
        while done < bytes.count {
            let written = bytes.withUnsafeBytes { pwrite(descriptor, $0.baseAddress! + done, bytes.count - done, off_t(offset + done)) }
            if written < 0 {
                if errno == EINTR { continue }
                throw SystemCallError(call: "pwrite", path: destination)
            }
            done += written
        }
    }

    /// Appends `count` zero bytes (padding).
    public func writeZeros(_ count: Int) throws(SystemCallError) {
        var left = count
        let chunk = [UInt8](repeating: 0, count: min(count, 1 << 16))
        while left > 0 {
            let take = min(left, chunk.count)
            let outcome = chunk.withUnsafeBytes { raw in
                Result { () throws(SystemCallError) in try write(UnsafeRawBufferPointer(rebasing: raw[0..<take])) }
            }
            try outcome.get()
            left -= take
        }
    }

    /// Makes the file durable and visible at ``destination``, replacing any file there.
    public func commit() throws(SystemCallError) {
        precondition(!finished, "commit twice")
        try flushAppendBuffer()
        guard fsync(descriptor) == 0 else { throw SystemCallError(call: "fsync", path: destination) }
        let visible: String
        if let namedTemporary {
            visible = namedTemporary
        } else {
            // Give the unnamed file a hidden name, then rename it over the destination (link cannot replace).
            visible = try linkUnnamedFile()
        }
        guard close(descriptor) == 0 else {
            let error = SystemCallError(call: "close", path: destination)
            unlink(visible)
            finished = true
            throw error
        }
        finished = true
        guard rename(visible, destination) == 0 else {
            let error = SystemCallError(call: "rename", path: destination)
            unlink(visible)
            throw error
        }
        let directory = open(Self.directory(of: destination), O_RDONLY | O_CLOEXEC)
        if directory >= 0 {
            _ = fsync(directory)
            close(directory)
        }
    }

    /// Commits several files that belong together (a pack and its companion) while holding an exclusive lock on
    /// their directory, so that two runs publishing the same pair cannot interleave their renames and leave one run's
    /// first file beside the other's second. Files are committed in the order given.
    /// - Precondition: all writers' destinations are in one directory.
    public static func commitTogether(_ writers: [AtomicFileWriter]) throws(SystemCallError) {
        guard let first = writers.first else { return }
        let directory = Self.directory(of: first.destination)
        precondition(writers.allSatisfy { Self.directory(of: $0.destination) == directory }, "one directory")
        let handle = open(directory, O_RDONLY | O_CLOEXEC)
        guard handle >= 0 else { throw SystemCallError(call: "open", path: directory) }
        defer { close(handle) }
        while flock(handle, LOCK_EX) != 0 {
            guard errno == EINTR else { throw SystemCallError(call: "flock", path: directory) }
        }
        defer { _ = flock(handle, LOCK_UN) }
        for writer in writers { try writer.commit() }
    }

    /// Runs `body` holding a shared lock on `path`'s directory: files opened inside it are a pair that
    /// ``commitTogether(_:)`` published together (a reader never sees one run's pack beside another run's companion).
    /// Where the directory cannot be locked (an unusual file system), `body` runs without the lock.
    public static func withSharedDirectoryLock<R, E: Error>(of path: String, _ body: () throws(E) -> R) throws(E) -> R {
        let handle = open(directory(of: path), O_RDONLY | O_CLOEXEC)
        guard handle >= 0 else { return try body() }
        defer { close(handle) }
        var locked = false
        while !locked {
            if flock(handle, LOCK_SH) == 0 { locked = true } else if errno != EINTR { break }
        }
        defer { if locked { _ = flock(handle, LOCK_UN) } }
        return try body()
    }

    /// Discards everything written; the destination is left as it was.
    public func abandon() {
        guard !finished else { return }
        finished = true
        close(descriptor)
        if let namedTemporary { unlink(namedTemporary) }
    }

    private func linkUnnamedFile() throws(SystemCallError) -> String {
        for attempt in 0..<100 {
            let name = Self.temporaryName(for: destination).replacingXs(with: attempt)
            let status = linkat(AT_FDCWD, "/proc/self/fd/\(descriptor)", AT_FDCWD, name, AT_SYMLINK_FOLLOW)
            if status == 0 { return name }
            if errno != EEXIST { throw SystemCallError(call: "linkat", path: name) }
        }
        throw SystemCallError(call: "linkat", path: destination, errno: EEXIST)
    }

    private static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let directory = String(path[..<slash])
        return directory.isEmpty ? "/" : directory
    }

    private static func temporaryName(for destination: String) -> String {
        let directory = directory(of: destination)
        let name = destination.split(separator: "/").last.map(String.init) ?? destination
        return "\(directory)/.\(name).lpk-tmp-XXXXXX"
    }

    #if os(Linux)
    /// `O_TMPFILE` (`__O_TMPFILE | O_DIRECTORY`), which Swift does not import as it is a compound macro.
    private static var temporaryFileFlag: Int32 {
        #if arch(x86_64) || arch(i386)
        return 0o20_000_000 | 0o200_000
        #else
        return 0o20_000_000 | 0o40_000
        #endif
    }
    #endif
}

private extension String {
    func replacingXs(with attempt: Int) -> String {
        let suffix = String(UInt32(truncatingIfNeeded: getpid()) &* 31 &+ UInt32(attempt), radix: 36)
        return String(dropLast(6)) + String(repeating: "0", count: max(0, 6 - suffix.count)) + suffix.suffix(6)
    }
}

/// `write(2)`, named apart from ``AtomicFileWriter/write(_:)-(UnsafeRawBufferPointer)``.
private func systemWrite(_ descriptor: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
    write(descriptor, buffer, count)
}

#if os(Linux)
/// glibc's `sync_file_range(int fd, off64_t offset, off64_t nbytes, unsigned int flags)`, which the Glibc module does
/// not export (it is declared only under `_GNU_SOURCE`); every argument is a plain integer, so the C call is direct.
@_silgen_name("sync_file_range")
private func linuxSyncFileRange(_ descriptor: Int32, _ offset: Int64, _ count: Int64, _ flags: UInt32) -> Int32
#endif
