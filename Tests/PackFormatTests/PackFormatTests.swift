import ByteIO
import PackFormat
import TensorModel
import TensorTypes
import Testing
import TestSupport

@Suite struct PackFormatTests {
    static func writeExample(to path: String, metadata: [UInt8] = Array("{}".utf8)) throws {
        let writer = try PackWriter(destination: path, splitPLE: false)
        let data: [UInt8] = [0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0xC0]
        try data.withUnsafeBytes {
            try writer.addTensor(.init(name: "w", role: .other, encoding: .plain(.f32), shape: TensorShape([2])!, sourceDType: .f32), data: $0)
        }
        try writer.finish(metadata: metadata)
    }

    static func u64(_ bytes: [UInt8], _ offset: Int) -> UInt64 {
        bytes[offset..<(offset + 8)].reversed().reduce(0) { $0 << 8 | UInt64($1) }
    }

    @Test("the worked example of Formats/lpk.md §11, byte for byte")
    func workedExample() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path + "/example.lpk"
        try Self.writeExample(to: path)
        let bytes = try MappedFile(path: path).bytes.array
        #expect(Array(bytes[0..<8]) == Array("LAYRPACK".utf8))
        #expect(Array(bytes[8..<12]) == [1, 0, 1, 0])  // version 1.1
        #expect(Self.u64(bytes, 16) == UInt64(bytes.count))  // file length
        #expect(Self.u64(bytes, 24) == 4160)  // index offset
        #expect(Array(bytes[4096..<4104]) == [0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0xC0])
        #expect(bytes[4104..<4160].allSatisfy { $0 == 0 })
        let record = Array(bytes[4160..<4288])
        #expect(Self.u64(record, 0) == 0 && record[8] == 1)  // name offset 0, length 1
        #expect(Array(record[12..<16]) == [14, 0, 0, 1])  // role other, core, plain, rank 1
        #expect(Array(record[16..<20]) == [9, 0, 0, 0])  // F32
        #expect(Self.u64(record, 24) == 2 && Self.u64(record, 32) == 0)
        #expect(Self.u64(record, 56) == 4096 && Self.u64(record, 64) == 8 && Self.u64(record, 72) == 0)
        #expect(Self.u64(record, 80) == XXHash64.hash([0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0xC0]))
        #expect(bytes[4288] == UInt8(ascii: "w"))
        #expect(Array(bytes[4289...]) == Array("{}".utf8))
        #expect(Self.u64(bytes, 120) == XXHash64.hash(Array(bytes[0..<120])))
        let pack = try PackReader(path: path)
        #expect(pack.tensors.map(\.record.name) == ["w"])
        #expect(pack.verify().isEmpty)
    }

    @Test("every single-bit flip anywhere in a pack is caught: at open (header, index) or by verify (data, padding)")
    func bitFlipSweep() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path + "/flip.lpk"
        try Self.writeExample(to: path, metadata: Array(#"{"schemaVersion":1}"#.utf8))
        let original = try MappedFile(path: path).bytes.array
        var detected = 0, tried = 0
        var openFailures = 0
        for byte in 0..<original.count {
            for bit in [0, 3, 7] {
                var damaged = original
                damaged[byte] ^= 1 << bit
                tried += 1
                do {
                    let pack = try PackReader(file: MappedFile(bytes: damaged, name: "flip.lpk"), companionPath: nil)
                    let problems = pack.verify()
                    if !problems.isEmpty { detected += 1 }
                    if byte >= 4096 && byte < 4104 { #expect(problems.first?.contains("tensor 'w'") == true, "byte \(byte)") }
                } catch {
                    detected += 1
                    openFailures += 1
                    if byte < 128 { #expect("\(error)".contains("flip.lpk"), "byte \(byte)") }
                }
            }
        }
        #expect(detected == tried, "\(tried - detected) of \(tried) flips went unnoticed")
        #expect(openFailures > 0)
    }

    @Test("damaged headers, truncations and other versions fail to open with a clear error")
    func damagedHeaders() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path + "/h.lpk"
        try Self.writeExample(to: path)
        let original = try MappedFile(path: path).bytes.array
        for length in [0, 7, 64, 127, 128, 4096, original.count - 1] {
            #expect(throws: PackError.self) { try PackReader(file: MappedFile(bytes: Array(original[..<length]), name: "t.lpk"), companionPath: nil) }
        }
        var newer = original
        newer[8] = 2
        newer.replaceSubrange(120..<128, with: withUnsafeBytes(of: XXHash64.hash(Array(newer[0..<120])).littleEndian) { Array($0) })
        #expect { try PackReader(file: MappedFile(bytes: newer, name: "v2.lpk"), companionPath: nil) } throws: {
            ($0 as? PackError)?.kind == .unsupportedVersion && "\($0)".contains("version 2.1 is not supported")
        }
    }

    @Test("a writer refuses misuse: repeated names, core after PLE, wrong byte counts")
    func writerMisuse() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let writer = try PackWriter(destination: directory.path + "/m.lpk", splitPLE: false)
        let four: [UInt8] = [0, 0, 0, 0]
        try four.withUnsafeBytes { try writer.addTensor(.init(name: "a", role: .other, encoding: .plain(.f32), shape: TensorShape([1])!), data: $0) }
        #expect(throws: PackError.self) {
            try four.withUnsafeBytes { try writer.addTensor(.init(name: "a", role: .other, encoding: .plain(.f32), shape: TensorShape([1])!), data: $0) }
        }
        try four.withUnsafeBytes { try writer.addTensor(.init(name: "p", role: .perLayerEmbedding, section: .ple, encoding: .plain(.u8), shape: TensorShape([4])!), data: $0) }
        #expect(throws: PackError.self) {
            try four.withUnsafeBytes { try writer.addTensor(.init(name: "c", role: .other, encoding: .plain(.f32), shape: TensorShape([1])!), data: $0) }
        }
        try writer.beginTensor(.init(name: "short", role: .other, section: .ple, encoding: .plain(.f32), shape: TensorShape([2])!))
        try four.withUnsafeBytes { try writer.append($0) }
        #expect(throws: PackError.self) { try writer.endTensor() }
    }
}
