#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Process-wide settings every tool applies before it parses its arguments.
package enum ToolSetup {
    /// Turns a file-size limit (`ulimit -f`) into a write error the tool reports, instead of a SIGXFSZ kill.
    package static func prepareProcess() {
        signal(SIGXFSZ, SIG_IGN)
    }
}
