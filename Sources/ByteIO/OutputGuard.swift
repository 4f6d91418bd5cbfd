#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Refuses to write where writing would destroy something: a path that is not a regular file (a device, a FIFO, a
/// directory), or the same file (after links: same device and inode) as one of the inputs.
public enum OutputGuard {
    /// Why an output path was refused.
    public struct Refusal: LayerPackError {
        /// What is wrong with the path.
        public enum Kind: Sendable, Equatable {
            /// It exists and is not a regular file.
            case notARegularFile
            /// It is one of the inputs (or a link to one).
            case isAnInput
        }

        public let kind: Kind
        public let path: String?
        public let message: String
        public var location: ErrorLocation? { nil }
    }

    /// The device and inode of `path` (following links), or nil when nothing is there.
    static func identity(_ path: String) -> (device: UInt64, inode: UInt64, regular: Bool)? {
        var status = stat()
        guard stat(path, &status) == 0 else { return nil }
        return (UInt64(status.st_dev), UInt64(status.st_ino), (status.st_mode & S_IFMT) == S_IFREG)
    }

    /// Checks that `output` is absent or a regular file, and is none of `inputs`.
    /// - Throws: ``Refusal`` naming the path and, for an input, which one.
    public static func check(_ output: String, inputs: [String]) throws(Refusal) {
        guard let target = identity(output) else { return }
        guard target.regular else {
            throw Refusal(kind: .notARegularFile, path: output, message: "exists and is not a regular file; LayerPack writes only regular files")
        }
        for input in inputs {
            if let source = identity(input), source.device == target.device, source.inode == target.inode {
                throw Refusal(kind: .isAnInput, path: output, message: "is the input \(input)" + (input == output ? "" : " (the same file)")
                              + "; choose another output path")
            }
        }
    }
}
