import ByteIO
import TensorModel
import TensorTypes

/// The compressed transfer form of a pack (`.lpkz`, Formats/lpk.md §12): the pack's files cut into segments, float
/// tensors byte-grouped before zstd, everything else zstd as is. Decompressing gives back the pack byte for byte.
public enum CompressedPack {
    public static let magic: [UInt8] = Array("LAYRPKZ1".utf8)
    /// The most bytes one segment decodes to.
    public static let maxSegmentBytes = 64 << 20

    /// How many bytes one kind of data took before and after.
    public struct Statistics: Codable, Sendable {
        public var floatBytes = 0, floatCompressed = 0, otherBytes = 0, otherCompressed = 0
        public var totalBytes: Int { floatBytes + otherBytes }
        public var totalCompressed: Int { floatCompressed + otherCompressed }
    }

    /// Compresses the pack at `packPath` (and its companion) into `destination`, verifying every tensor's checksum
    /// (and block checksums) first, so damage is refused instead of passed on.
    public static func compress(packPath: String, to destination: String, level: Int32 = 3) throws -> Statistics {
        let pack = try PackReader(path: packPath)
        try OutputGuard.check(destination, inputs: [packPath] + (pack.companion.map { [$0.path] } ?? []))
        for tensor in pack.tensors {
            try pack.verifyChecksum(of: tensor)
            try pack.blockChecksums(of: tensor)?.verifyAll()
        }
        let sink = try AtomicFileWriter(destination: destination)
        var statistics = Statistics()
        let files = [pack.file] + (pack.companion.map { [$0] } ?? [])
        var head = magic
        put(UInt32(files.count), &head)
        try sink.write(head)
        for file in files {
            // Segments: tensor ranges by kind, and the gaps between them (header, padding, index).
            var ranges: [(start: Int, length: Int, width: Int)] = []
            var position = 0
            for tensor in pack.tensors.filter({ $0.data.file === file }).sorted(by: { $0.data.fileOffset < $1.data.fileOffset }) {
                if tensor.data.fileOffset > position { ranges.append((position, tensor.data.fileOffset - position, 1)) }
                var width = 1
                if case .plain(let dtype) = tensor.record.encoding, dtype.isFloatingPoint, dtype.bitWidth >= 16 {
                    width = dtype.bitWidth / 8
                }
                ranges.append((tensor.data.fileOffset, tensor.data.count, width))
                position = tensor.data.fileOffset + tensor.data.count
            }
            if file.count > position { ranges.append((position, file.count - position, 1)) }
            var segments: [(start: Int, length: Int, width: Int)] = []
            for range in ranges where range.length > 0 {
                var offset = 0
                while offset < range.length {
                    let take = min(range.length - offset, maxSegmentBytes)
                    segments.append((range.start + offset, take, range.width))
                    offset += take
                }
            }
            var fileHead = [UInt8]()
            put(UInt64(file.count), &fileHead)
            put(file.bytes.withUnsafeBytes { XXHash64.hash($0) }, &fileHead)
            put(UInt64(segments.count), &fileHead)
            try sink.write(fileHead)
            for segment in segments {
                let view = file.bytes.slice(offset: segment.start, length: segment.length)!
                let compressed: [UInt8] = try view.withUnsafeBytes { raw in
                    if segment.width > 1 {
                        let planes = ByteGrouping.group(raw, width: segment.width)
                        return try planes.withUnsafeBytes { try Zstd.compress($0, level: level) }
                    }
                    return try Zstd.compress(raw, level: level)
                }
                var segmentHead = [UInt8(segment.width > 1 ? 1 : 0), UInt8(segment.width), 0, 0, 0, 0, 0, 0]
                put(UInt64(segment.length), &segmentHead)
                put(UInt64(compressed.count), &segmentHead)
                try sink.write(segmentHead)
                try sink.write(compressed)
                if segment.width > 1 {
                    statistics.floatBytes += segment.length
                    statistics.floatCompressed += compressed.count
                } else {
                    statistics.otherBytes += segment.length
                    statistics.otherCompressed += compressed.count
                }
            }
        }
        try sink.commit()
        return statistics
    }

    /// Decompresses `path` into the pack `destination` (and `destination.ple` for a split pack).
    public static func decompress(_ path: String, to destination: String) throws {
        let file = try MappedFile(path: path)
        for output in [destination, PackLayout.companionPath(of: destination)] { try OutputGuard.check(output, inputs: [path]) }
        var reader = ByteReader(file.bytes)
        func fail(_ message: String) -> PackError { PackError(.invalidCompressedPack, file: path, offset: reader.fileOffset, message) }
        func read<T: FixedWidthInteger>(_ type: T.Type) throws -> T {
            do { return try reader.read(type) } catch { throw fail("truncated compressed pack: \(error)") }
        }
        guard (try? reader.readView(count: 8).array) == magic else { throw PackError(.notAPack, file: path, offset: 0, "not a compressed LayerPack pack") }
        let fileCount = try read(UInt32.self)
        guard fileCount == 1 || fileCount == 2 else { throw fail("\(fileCount) files (expected 1 or 2)") }
        var writers: [AtomicFileWriter] = []
        for index in 0..<Int(fileCount) {
            let sink = try AtomicFileWriter(destination: index == 0 ? destination : PackLayout.companionPath(of: destination))
            writers.append(sink)
            let length = try read(UInt64.self), expectedHash = try read(UInt64.self), segmentCount = try read(UInt64.self)
            guard segmentCount <= UInt64(reader.remaining / 24) else { throw fail("segment count \(segmentCount) exceeds what the file can hold") }
            var hasher = XXHash64()
            var total: UInt64 = 0
            for _ in 0..<Int(segmentCount) {
                let method = try read(UInt8.self), width = try read(UInt8.self)
                _ = try read(UInt16.self)
                _ = try read(UInt32.self)
                let size = try read(UInt64.self), compressedSize = try read(UInt64.self)
                guard size <= UInt64(maxSegmentBytes), method <= 1, width >= 1, width <= 8, size % UInt64(width) == 0,
                      compressedSize <= UInt64(reader.remaining) else { throw fail("invalid segment header") }
                let segmentStart = reader.fileOffset
                let compressed = try reader.readView(count: Int(compressedSize))
                var bytes: [UInt8]
                do {
                    bytes = try compressed.withUnsafeBytes { try Zstd.decompress($0, size: Int(size)) }
                } catch {
                    throw PackError(.invalidCompressedPack, file: path, offset: segmentStart, "compressed segment: \(error)")
                }
                if method == 1 { bytes = ByteGrouping.ungroup(bytes, width: Int(width)) }
                hasher.update(bytes)
                try sink.write(bytes)
                total += size
            }
            guard total == length, hasher.finalize() == expectedHash else {
                throw fail("file \(index) decoded to \(total) bytes with the wrong checksum (expected \(length) bytes)")
            }
        }
        guard reader.remaining == 0 else { throw fail("\(reader.remaining) trailing bytes") }
        try AtomicFileWriter.commitTogether(writers.reversed())  // the companion, then the pack, as one step
    }

    private static func put<T: FixedWidthInteger>(_ value: T, _ bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { bytes += $0 }
    }
}
