import ByteIO

/// The 128-byte header (Formats/lpk.md §2).
struct PackHeader: Equatable {
    /// The minor version the file declares (the major version is always ``PackLayout/majorVersion``).
    var minorVersion = PackLayout.minorVersion
    var flags: UInt32 = 0
    var fileLength = 0
    var indexOffset = 0
    var indexLength = 0
    var tensorCount = 0
    var alignment = PackLayout.tensorAlignment
    var coreOffset = PackLayout.coreSectionOffset
    var coreLength = 0
    var pleOffset = 0
    var pleLength = 0
    var metadataOffset = 0
    var metadataLength = 0
    var indexChecksum: UInt64 = 0

    var encoded: [UInt8] {
        var bytes = PackLayout.magic
        func put<T: FixedWidthInteger>(_ value: T) { withUnsafeBytes(of: value.littleEndian) { bytes += $0 } }
        put(PackLayout.majorVersion)
        put(minorVersion)
        put(flags)
        for value in [fileLength, indexOffset, indexLength] { put(UInt64(value)) }
        put(UInt32(tensorCount))
        put(UInt32(alignment))
        for value in [coreOffset, coreLength, pleOffset, pleLength, metadataOffset, metadataLength] { put(UInt64(value)) }
        put(indexChecksum)
        put(UInt64(0))
        put(UInt64(0))
        put(XXHash64.hash(bytes))
        return bytes
    }

    /// Decodes and checks the header fields that need nothing else (magic, version, checksum, flags).
    static func decode(_ file: MappedFile) throws(PackError) -> PackHeader {
        func fail(_ kind: PackError.Kind, _ offset: Int, _ message: String) -> PackError { PackError(kind, file: file.path, offset: offset, message) }
        guard let view = file.bytes.slice(offset: 0, length: PackLayout.headerBytes) else {
            throw fail(.truncated, 0, "file of \(file.count) bytes is shorter than the \(PackLayout.headerBytes)-byte pack header")
        }
        let bytes = view.array
        guard Array(bytes[0..<8]) == PackLayout.magic else { throw fail(.notAPack, 0, "not a LayerPack pack (bad magic)") }
        var reader = ByteReader(view)
        try! reader.skip(8)  // the view is exactly 128 bytes: every read below is in bounds
        func read<T: FixedWidthInteger>(_: T.Type) -> T { try! reader.read(T.self) }
        let major = read(UInt16.self), minor = read(UInt16.self)
        guard major == PackLayout.majorVersion else {
            throw fail(.unsupportedVersion, 8, "pack format version \(major).\(minor) is not supported (this reader reads \(PackLayout.majorVersion).x)")
        }
        let stored = view.load(UInt64.self, at: 120)!
        guard XXHash64.hash(Array(bytes[0..<120])) == stored else { throw fail(.checksumMismatch, 120, "header checksum mismatch (the header is damaged)") }
        var header = PackHeader()
        header.minorVersion = minor
        header.flags = read(UInt32.self)
        guard header.flags & ~PackLayout.companionFlag == 0 else { throw fail(.invalidHeader, 12, "unknown flags \(Hex(header.flags))") }
        func int(_ offset: Int) throws(PackError) -> Int {
            guard let value = Int(exactly: read(UInt64.self)) else { throw fail(.invalidHeader, offset, "field exceeds 2^63") }
            return value
        }
        header.fileLength = try int(16)
        header.indexOffset = try int(24)
        header.indexLength = try int(32)
        header.tensorCount = Int(read(UInt32.self))
        header.alignment = Int(read(UInt32.self))
        header.coreOffset = try int(48)
        header.coreLength = try int(56)
        header.pleOffset = try int(64)
        header.pleLength = try int(72)
        header.metadataOffset = try int(80)
        header.metadataLength = try int(88)
        header.indexChecksum = read(UInt64.self)
        guard read(UInt64.self) == 0, read(UInt64.self) == 0 else { throw fail(.invalidHeader, 104, "reserved header fields are not zero") }
        return header
    }
}
