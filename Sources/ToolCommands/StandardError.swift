#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Diagnostics (warnings, progress) go to standard error so that standard output holds only results.
package enum StandardError {
    /// Writes `text` and a newline to standard error.
    package static func line(_ text: String) { write(text + "\n") }

    /// Writes `text` as is.
    package static func write(_ text: String) {
        let bytes = Array(text.utf8)
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let written = writeToStandardError(raw.baseAddress! + offset, raw.count - offset)
                guard written > 0 else { return }
                offset += written
            }
        }
    }

    /// Whether standard error is a terminal (progress bars are drawn only then).
    package static var isTerminal: Bool { isatty(2) == 1 }
}

/// The C library's `write(2, …)` (Glibc and Darwin alike), out of reach of ``StandardError/write(_:)``'s name.
private func writeToStandardError(_ bytes: UnsafeRawPointer, _ count: Int) -> Int { write(2, bytes, count) }
