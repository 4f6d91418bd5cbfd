#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A failed system call, with the path it concerned and the `errno` it returned.
public struct SystemCallError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The system call (`open`, `mmap`, `write`, `rename`, …).
    public let call: String
    /// The file the call concerned.
    public let path: String
    /// The `errno` value.
    public let code: Int32

    /// Creates an error for `call` on `path` from the current `errno` unless one is given.
    public init(call: String, path: String, errno code: Int32 = currentErrno()) {
        self.call = call
        self.path = path
        self.code = code
    }

    /// The calling thread's `errno`.
    public static func currentErrno() -> Int32 { errno }

    /// The C library's text for ``errno``.
    public var reason: String { String(cString: strerror(code)) }

    public var description: String { "\(path): \(call) failed: \(reason) (errno \(code))" }
}
