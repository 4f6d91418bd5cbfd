import Foundation

#if os(Linux)
/// What this process has mapped, read from `/proc/self/smaps`.
public enum ProcessMappings {
    /// Resident bytes (`Rss`) of this process's mappings of the file at `path` (as the mappings name it): the pages
    /// that are in its page tables now.
    public static func residentBytes(of path: String) throws -> Int {
        // /proc files report size 0: read to the end instead of by size.
        guard let smaps = FileHandle(forReadingAtPath: "/proc/self/smaps") else { throw CocoaError(.fileReadUnknown) }
        var total = 0, inside = false
        for line in String(decoding: smaps.readDataToEndOfFile(), as: UTF8.self).split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            if let first = fields.first, first.contains("-"), fields.count >= 5 {
                inside = fields.count >= 6 && fields.last! == path
            } else if inside, fields.first == "Rss:", fields.count >= 2, let kilobytes = Int(fields[1]) {
                total += kilobytes * 1024
            }
        }
        return total
    }
}
#endif
