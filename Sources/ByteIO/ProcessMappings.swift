#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// What this process has mapped, as Linux reports it in `/proc/self/smaps`.
public enum ProcessMappings {
    /// Resident bytes (`Rss`) of this process's mappings of files whose path satisfies `matches`: the pages that are
    /// in its page tables now. Nil where `/proc/self/smaps` cannot be read (systems other than Linux).
    public static func residentBytes(ofFilesWhere matches: (Substring) -> Bool) -> Int? {
        guard let text = smaps() else { return nil }
        var total = 0, inside = false
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            if let first = fields.first, first.contains("-"), fields.count >= 5 {
                inside = fields.count >= 6 && matches(fields.last!)
            } else if inside, fields.first == "Rss:", fields.count >= 2, let kilobytes = Int(fields[1]) {
                total += kilobytes * 1024
            }
        }
        return total
    }

    /// The text of `/proc/self/smaps`, read to its end (/proc files report size 0, so not by size).
    private static func smaps() -> String? {
        let descriptor = open("/proc/self/smaps", O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress!, $0.count) }
            if count < 0, errno == EINTR { continue }
            guard count >= 0 else { return nil }
            if count == 0 { return String(decoding: bytes, as: UTF8.self) }
            bytes += chunk[0..<count]
        }
    }
}
