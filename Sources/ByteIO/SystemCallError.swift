#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A failed system call, with the path it concerned and the `errno` it returned.
public struct SystemCallError: LayerPackError, Equatable {
    /// The system call (`open`, `mmap`, `write`, `rename`, …).
    public let call: String
    /// The file the call concerned.
    public let file: String

    /// The file the call concerned (``LayerPackError``).
    public var path: String? { file }
    /// The `errno` value.
    public let code: Int32

    /// Creates an error for `call` on `path` from the current `errno` unless one is given.
    public init(call: String, path: String, errno code: Int32 = currentErrno()) {
        self.call = call
        self.file = path
        self.code = code
    }

    /// The calling thread's `errno`.
    public static func currentErrno() -> Int32 { errno }

    /// The C library's text for ``errno``.
    public var reason: String { String(cString: strerror(code)) }

    /// The `errno` value, to match on (`ENOSPC`, `EACCES`, …).
    public var kind: Int32 { code }
    /// The path the call concerned.
    public var location: ErrorLocation? { nil }
    public var message: String { "\(call) failed: \(reason) (errno \(code))" }
}
