import ByteIO
import CChecksum
import Foundation
import Testing
import TestSupport

@Suite struct ByteReaderTests {
    @Test("reads little-endian values and refuses reads past the end with the file offset")
    func readsAndBounds() throws {
        var builder = ByteBuilder()
        builder.u32(0xDEADBEEF)
        builder.u64(42)
        builder.u8(7)
        let file = MappedFile(bytes: builder.bytes, name: "mem")
        var reader = ByteReader(file.bytes)
        #expect(try reader.read(UInt32.self) == 0xDEADBEEF)
        #expect(try reader.read(UInt64.self) == 42)
        #expect(throws: ByteReadError(offset: 12, needed: 4, available: 1)) { try reader.read(UInt32.self) }
        #expect(try reader.read(UInt8.self) == 7)
        #expect(reader.remaining == 0)
        #expect(throws: ByteReadError.self) { try reader.readView(count: Int.max) }
        #expect(throws: ByteReadError.self) { try reader.skip(-1) }
    }

    @Test("views refuse ranges outside the file, including overflowing ones")
    func viewBounds() {
        let view = MappedFile(bytes: [1, 2, 3, 4], name: "mem").bytes
        #expect(view.slice(offset: 2, length: 2)?.array == [3, 4])
        #expect(view.slice(offset: 3, length: 2) == nil)
        #expect(view.slice(offset: Int.max, length: Int.max) == nil)
        #expect(view.load(UInt32.self, at: 1) == nil)
        #expect(view.byte(at: 4) == nil)
    }

    @Test("maps a file from disk and reports missing files and directories with the path")
    func mapsFiles() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = try directory.write([9, 8, 7], to: "f.bin")
        #expect(try MappedFile(path: path).bytes.array == [9, 8, 7])
        #expect(try MappedFile(path: try directory.write([], to: "empty")).count == 0)
        #expect { try MappedFile(path: path + ".missing") } throws: { ($0 as? SystemCallError)?.kind == ENOENT && ($0 as? SystemCallError)?.file == path + ".missing" }
        #expect { try MappedFile(path: directory.path) } throws: { ($0 as? SystemCallError)?.code == EISDIR }
    }

    #if os(Linux)
    @Test("populate maps in every page of its range before anything reads them, and not the whole file")
    func populateMapsInItsRange() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = try directory.write([UInt8](repeating: 1, count: 4 << 20), to: "w.bin")
        let file = try MappedFile(path: path)
        #expect(ProcessMappings.residentBytes(ofFilesWhere: { $0 == path }) == 0)
        // From the middle of a page to the middle of another: the 65 pages the range touches (260 KiB), with whatever
        // the kernel maps around each page it faults in (64 KiB windows here), but not the 4 MiB file.
        file.bytes.slice(offset: 1 << 20 | 100, length: 256 << 10)!.advise(.populate)
        let resident = try #require(ProcessMappings.residentBytes(ofFilesWhere: { $0 == path }))
        #expect(resident >= 260 << 10 && resident < 4 << 20, "\(resident) bytes resident")
    }
    #endif
}

@Suite struct AtomicFileWriterTests {
    @Test("a committed file appears whole; nothing else is left in the directory")
    func commitReplaces() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let destination = try directory.write([1], to: "out.bin")
        let writer = try AtomicFileWriter(destination: destination)
        try writer.write([1, 2, 3])
        try writer.writeZeros(2)
        #expect(try directory.contents() == ["out.bin"])
        #expect(try MappedFile(path: destination).bytes.array == [1])  // old content until commit
        try writer.commit()
        #expect(try MappedFile(path: destination).bytes.array == [1, 2, 3, 0, 0])
        #expect(try directory.contents() == ["out.bin"])
    }

    @Test("small appends gathered in the append buffer, large ones past it and overwrites on either side give the bytes in order")
    func appendsInOrder() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let destination = directory.path + "/out.bin"
        let writer = try AtomicFileWriter(destination: destination)
        var expected: [UInt8] = []
        func append(_ bytes: [UInt8]) throws {
            try writer.write(bytes)
            expected += bytes
        }
        for row in 0..<5000 { try append((0..<680).map { UInt8(truncatingIfNeeded: row &* 31 &+ $0) }) }  // 3.4 MB in rows
        try append([UInt8](repeating: 7, count: 3 << 20))  // past a part-filled buffer
        try writer.writeZeros(5)
        expected += [0, 0, 0, 0, 0]
        #expect(writer.bytesWritten == expected.count)
        try writer.overwrite([9, 9, 9], at: 10)  // long handed to the system
        try append([1, 2, 3, 4])
        try writer.overwrite([8, 8], at: expected.count - 3)  // still in the buffer
        expected.replaceSubrange(10..<13, with: [9, 9, 9])
        expected.replaceSubrange((expected.count - 3)..<(expected.count - 1), with: [8, 8])
        try writer.commit()
        #expect(try MappedFile(path: destination).bytes.array == expected)
    }

    @Test("an abandoned or dropped writer leaves no file behind")
    func abandonLeavesNothing() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        do {
            let writer = try AtomicFileWriter(destination: directory.path + "/a.bin")
            try writer.write([1, 2])
            writer.abandon()
        }
        do {
            let writer = try AtomicFileWriter(destination: directory.path + "/b.bin")
            try writer.write([1, 2])
        }
        #expect(try directory.contents() == [])
    }

    @Test("a directory that cannot be written to gives an error naming it")
    func unwritableDirectory() throws {
        #expect { try AtomicFileWriter(destination: "/nonexistent-dir/x.bin") } throws: { error in
            (error as? SystemCallError)?.description.contains("nonexistent-dir") == true
        }
    }
}

@Suite struct XXHash64Tests {
    // Expected values printed by the `xxhash` Python package 4.1.0 (the reference C library's binding):
    //   hex(xxhash.xxh64(s).intdigest()) for s in [b'', b'abc', bytes(range(256))*3+b'xyz']
    static let message = (0..<3).flatMap { _ in (0..<256).map { UInt8($0) } } + Array("xyz".utf8)

    @Test("matches the reference implementation")
    func referenceValues() {
        #expect(XXHash64.hash([]) == 0xEF46_DB37_51D8_E999)
        #expect(XXHash64.hash(Array("abc".utf8)) == 0x44BC_2CF5_AD77_0999)
        #expect(XXHash64.hash(Self.message) == 0xE921_A1B4_5BD7_79F8)
    }

    @Test("streaming in uneven pieces gives the one-shot hash")
    func streaming() {
        for split in [1, 3, 31, 32, 33, 100, 700] {
            var hasher = XXHash64()
            var start = 0
            while start < Self.message.count {
                let end = min(Self.message.count, start + split)
                hasher.update(Array(Self.message[start..<end]))
                start = end
            }
            #expect(hasher.finalize() == 0xE921_A1B4_5BD7_79F8, "pieces of \(split)")
        }
    }

    @Test("two hashes fed the same pieces together match the reference, in step or not")
    func pairs() {
        for split in [1, 5, 32, 64, 100, 800] {
            var inStep = (XXHash64(), XXHash64())
            var behind = (XXHash64(), XXHash64())
            behind.1.update(Array("abc".utf8))  // three bytes ahead: the two hashes' stripes never line up
            var start = 0
            while start < Self.message.count {
                let end = min(Self.message.count, start + split)
                Array(Self.message[start..<end]).withUnsafeBytes { piece in
                    XXHash64.update(&inStep.0, &inStep.1, with: piece)
                    XXHash64.update(&behind.0, &behind.1, with: piece)
                }
                start = end
            }
            #expect(inStep.0.finalize() == 0xE921_A1B4_5BD7_79F8 && inStep.1.finalize() == 0xE921_A1B4_5BD7_79F8, "pieces of \(split)")
            #expect(behind.0.finalize() == 0xE921_A1B4_5BD7_79F8, "pieces of \(split)")
            #expect(behind.1.finalize() == XXHash64.hash(Array("abc".utf8) + Self.message), "pieces of \(split)")
        }
    }

    @Test("the vector stripe loop gives the portable loop's lanes, for one hash and for two")
    func stripeVersions() {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        let bytes = (0..<(32 * 200)).map { _ -> UInt8 in
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            return UInt8(truncatingIfNeeded: state)
        }
        let start: [UInt64] = [1, 0xC2B2_AE3D_27D4_EB4F, 3, 0x9E37_79B1_85EB_CA87], other: [UInt64] = [5, 6, 7, 8]
        bytes.withUnsafeBytes { raw in
            for stripes in [0, 1, 7, 200] {
                var portable = (start, other), vector = (start, other)
                lpk_xxh64_stripes_version(0, &portable.0, &portable.1, raw.baseAddress!, stripes)
                guard lpk_xxh64_stripes_version(1, &vector.0, &vector.1, raw.baseAddress!, stripes) == 1 else { continue }  // no AVX-512 here
                #expect(vector.0 == portable.0 && vector.1 == portable.1, "\(stripes) stripes, two hashes")
                var single = start
                lpk_xxh64_stripes_version(1, &single, nil, raw.baseAddress!, stripes)
                #expect(single == portable.0, "\(stripes) stripes, one hash")
                var portableAlone = start
                lpk_xxh64_stripes_version(0, &portableAlone, nil, raw.baseAddress!, stripes)
                #expect(portableAlone == portable.0, "\(stripes) stripes, portable alone")
            }
        }
    }
}
