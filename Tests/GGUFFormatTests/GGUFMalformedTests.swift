import ByteIO
import TensorTypes
import GGUFFormat
import Testing
import TestSupport

/// A small GGUF assembled field by field, so that each test can break exactly one field.
struct GGUFCase {
    var magic = "GGUF"
    var version: UInt32 = 3
    var tensorCount: UInt64?
    var metadataCount: UInt64?
    var metadata: [(String, (inout ByteBuilder) -> Void)] = [
        ("general.architecture", { $0.u32(8); $0.ggufString("test") }),
        ("general.alignment", { $0.u32(4); $0.u32(32) }),
        ("tokens", { $0.u32(9); $0.u32(8); $0.u64(2); $0.ggufString("a"); $0.ggufString("é") }),
    ]
    /// name, dims (ne order), type id, offset
    var tensors: [(String, [UInt64], UInt32, UInt64)] = [("a", [4, 2], 0, 0), ("b", [32], 8, 32)]
    var dataBytes = 66
    var alignment = 32

    var bytes: [UInt8] {
        var b = ByteBuilder()
        b.ascii(magic)
        b.u32(version)
        b.u64(tensorCount ?? UInt64(tensors.count))
        b.u64(metadataCount ?? UInt64(metadata.count))
        for (key, write) in metadata {
            if !key.isEmpty { b.ggufString(key) }  // an empty key lets the closure write a malformed one
            write(&b)
        }
        for (name, dims, type, offset) in tensors {
            b.ggufString(name)
            b.u32(UInt32(dims.count))
            for d in dims { b.u64(d) }
            b.u32(type)
            b.u64(offset)
        }
        b.pad(to: alignment)
        for i in 0..<dataBytes { b.u8(UInt8(truncatingIfNeeded: i)) }
        return b.bytes
    }
}

@Suite struct GGUFMalformedTests {
    func open(_ bytes: [UInt8]) throws(GGUFError) -> GGUFFile {
        try GGUFFile(file: MappedFile(bytes: bytes, name: "case.gguf"))
    }

    @Test("reads the valid case: metadata, string arrays, tensors and data offsets")
    func readsValid() throws {
        let file = try open(GGUFCase().bytes)
        #expect(file.version == 3)
        #expect(file.architecture == "test")
        #expect(file.alignment == 32)
        #expect(try file["tokens"]?.arrayValue?.strings() == ["a", "é"])
        #expect(file.tensors.map(\.name) == ["a", "b"])
        #expect(try file.tensor(named: "a").shape.dimensions == [2, 4])
        #expect(try file.tensor(named: "b").data.count == 34)
        #expect(file.dataOffset % 32 == 0)
    }

    @Test("version 2 has the same layout and is read too")
    func readsVersion2() throws {
        var c = GGUFCase()
        c.version = 2
        #expect(try open(c.bytes).version == 2)
    }

    static func variant(_ change: (inout GGUFCase) -> Void) -> [UInt8] {
        var c = GGUFCase()
        change(&c)
        return c.bytes
    }

    static let cases: [(String, String, [UInt8])] = [
        ("bad magic", "not a GGUF file", variant { $0.magic = "GGML" }),
        ("version 1", "version 1 is not supported", variant { $0.version = 1 }),
        ("big-endian file", "big-endian", variant { $0.version = UInt32(3).byteSwapped }),
        ("tensor count beyond the file", "tensor count", variant { $0.tensorCount = 1 << 62 }),
        ("metadata count beyond the file", "metadata count", variant { $0.metadataCount = UInt64.max }),
        ("key length 2^63", "truncated metadata key", variant { $0.metadata[0] = ("", { $0.u64(1 << 63); $0.ascii("x") }) }),
        ("string value length beyond the file", "truncated value", variant {
            $0.metadata[0] = ("general.architecture", { $0.u32(8); $0.u64(1 << 62); $0.ascii("x") })
        }),
        ("array count whose byte size overflows", "array 'n' count", variant {
            $0.metadata.append(("n", { $0.u32(9); $0.u32(10); $0.u64(1 << 61) }))
        }),
        ("array of strings longer than the file", "array 't' count", variant {
            $0.metadata.append(("t", { $0.u32(9); $0.u32(8); $0.u64(1 << 40) }))
        }),
        ("unknown value type", "unknown value type 99", variant { $0.metadata.append(("u", { $0.u32(99) })) }),
        ("unknown array element type", "unknown value type 13", variant { $0.metadata.append(("u", { $0.u32(9); $0.u32(13); $0.u64(0) })) }),
        ("arrays nested too deeply", "nested too deeply", variant {
            $0.metadata.append(("deep", { b in b.u32(9); for _ in 0..<6 { b.u32(9); b.u64(1) }; b.u32(4); b.u64(0) }))
        }),
        ("bool that is not 0 or 1", "neither 0 nor 1", variant { $0.metadata.append(("flag", { $0.u32(7); $0.u8(2) })) }),
        ("duplicate key", "duplicate metadata key 'general.architecture'", variant {
            $0.metadata.append(("general.architecture", { $0.u32(8); $0.ggufString("x") }))
        }),
        ("key not UTF-8", "not valid UTF-8", variant {
            $0.metadata[0] = ("", { b in b.u64(2); b.raw([0xFF, 0xFE]); b.u32(4); b.u32(1) })
        }),
        ("alignment zero", "not a power of two", variant { $0.metadata[1] = ("general.alignment", { $0.u32(4); $0.u32(0) }) }),
        ("alignment not a power of two", "not a power of two", variant { $0.metadata[1] = ("general.alignment", { $0.u32(4); $0.u32(48) }) }),
        ("alignment of the wrong type", "must be a UINT32", variant { $0.metadata[1] = ("general.alignment", { $0.u32(10); $0.u64(32) }) }),
        ("five dimensions", "5 dimensions", variant { $0.tensors[0].1 = [1, 1, 1, 1, 8] }),
        ("dimensions whose product overflows", "overflow", variant { $0.tensors[0].1 = [1 << 32, 1 << 32] }),
        ("byte size that wraps 2^64", "overflow", variant { $0.tensors[0].1 = [1 << 61, 1] }),
        ("unknown ggml type", "unknown ggml type id 4", variant { $0.tensors[0].2 = 4 }),
        ("huge ggml type id", "unknown ggml type id 4000000000", variant { $0.tensors[0].2 = 4_000_000_000 }),
        ("row not whole blocks", "not a multiple of Q8_0's block size 32", variant { $0.tensors[1].1 = [33] }),
        ("offset past the data", "run past", variant { $0.tensors[1].3 = 1 << 40 }),
        ("offset near 2^64", "run past", variant { $0.tensors[1].3 = UInt64.max - 31 }),
        ("misaligned offset", "not a multiple of the alignment", variant { $0.tensors[1].3 = 33 }),
        ("overlapping tensors", "overlap", variant { $0.tensors[1].3 = 0 }),
        ("duplicate tensor", "duplicate tensor 'a'", variant { $0.tensors[1].0 = "a" }),
        ("tensor name over 63 bytes", "longer than 63", variant { $0.tensors[1].0 = String(repeating: "n", count: 64) }),
        ("data section truncated", "run past", variant { $0.dataBytes = 40 }),
    ]

    @Test("refuses malformed input with the file name, an offset and the reason", arguments: cases)
    func refuses(name: String, message: String, bytes: [UInt8]) {
        #expect {
            _ = try open(bytes)
        } throws: { error in
            let text = "\(error)"
            guard let error = error as? GGUFError else { return false }
            return text.contains("case.gguf") && text.contains(message) && error.offset != nil
        }
    }

    @Test("every truncation of a valid file is refused cleanly")
    func truncationSweep() {
        let bytes = GGUFCase().bytes
        for length in 0..<bytes.count {
            #expect(throws: GGUFError.self, "prefix of \(length) bytes") { try open(Array(bytes[..<length])) }
        }
    }

    @Test("string arrays with invalid UTF-8 are caught when decoded and by validateAll")
    func lazyStringValidation() throws {
        var c = GGUFCase()
        c.metadata[2] = ("tokens", { $0.u32(9); $0.u32(8); $0.u64(1); $0.u64(2); $0.raw([0xC3, 0x28]) })
        let file = try open(c.bytes)
        #expect(throws: GGUFError.self) { try file["tokens"]?.arrayValue?.strings() }
        #expect(throws: GGUFError.self) { try file.validateAll() }
    }

    @Test("unsupported types are named when values are asked for")
    func unsupportedType() throws {
        var c = GGUFCase()
        c.tensors = [("iq", [256], 16, 0)]
        let file = try open(c.bytes)
        #expect { try file.floats(file.tensor(named: "iq")) } throws: { ($0 as? GGUFError)?.kind == .unsupportedType(tensor: "iq", type: .iq2_XXS) }
    }
}

/// Inputs the fuzzer found (make fuzz), kept as hand-written cases.
@Suite struct GGUFFuzzRegressionTests {
    // libFuzzer, 2026-11-22: an empty tensor (ne = [~2^62, 0]) whose row length alone overflows a byte count made
    // the row reader force-unwrap a nil size. Empty tensors now read as no values.
    @Test("an empty tensor with an enormous row length reads as empty instead of trapping")
    func emptyTensorWithHugeRow() throws {
        var c = GGUFCase()
        c.tensors = [("empty", [0x4017_57E5_7AFF_FF20, 0], 0, 0)]
        c.dataBytes = 0
        let file = try GGUFFile(file: MappedFile(bytes: c.bytes, name: "fuzz.gguf"))
        let tensor = try file.tensor(named: "empty")
        #expect(tensor.elementCount == 0)
        #expect(try file.floats(tensor).isEmpty)
    }

    @Test("dimensions whose product overflows are refused even when another dimension is zero")
    func zeroAfterHugeDimensions() throws {
        var c = GGUFCase()
        c.tensors = [("empty", [1 << 40, 1 << 40, 0], 0, 0)]
        c.dataBytes = 0
        #expect(throws: GGUFError.self) { try GGUFFile(file: MappedFile(bytes: c.bytes, name: "fuzz.gguf")) }
    }
}
