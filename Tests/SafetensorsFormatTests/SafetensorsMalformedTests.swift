import ByteIO
import SafetensorsFormat
import TensorTypes
import Testing
import TestSupport

/// Every refusal the reference implementation makes, plus duplicates (which it lets through), each built inline.
@Suite struct SafetensorsMalformedTests {
    static let validHeader = #"{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"BF16","shape":[2,1],"data_offsets":[8,12]}}"#
    static let validData: [UInt8] = [0, 0, 128, 63, 0, 0, 0, 64, 0x80, 0x3F, 0x40, 0xC0]

    func open(_ bytes: [UInt8], limits: SafetensorsLimits = SafetensorsLimits()) throws(SafetensorsError) -> SafetensorsFile {
        try SafetensorsFile(file: MappedFile(bytes: bytes, name: "case.safetensors"), limits: limits)
    }

    @Test("reads a valid file, its metadata and its values")
    func readsValid() throws {
        let file = try open(safetensorsBytes(header: Self.validHeader, data: Self.validData))
        #expect(file.tensors.map(\.name) == ["a", "b"])
        #expect(file.metadata == ["format": "pt"])
        #expect(try file.floats(file.tensor(named: "a")) == [1, 2])
        #expect(try file.floats(file.tensor(named: "b")) == [1, -3])
        #expect(try file.tensor(named: "b").shape.dimensions == [2, 1])
    }

    static let cases: [(String, String, [UInt8])] = [
        ("fewer than 8 bytes", "smaller than the 8-byte header", [1, 2, 3]),
        ("header length over the limit", "exceeds the limit", { var b = ByteBuilder(); b.u64(1 << 40); b.ascii("{}"); return b.bytes }()),
        ("header length past the file", "runs past the end", { var b = ByteBuilder(); b.u64(1000); b.ascii("{}"); return b.bytes }()),
        ("header not an object", "not a JSON object", safetensorsBytes(header: "[1]", data: [])),
        ("header not JSON", "not valid JSON", safetensorsBytes(header: "{nope}", data: [])),
        ("header not UTF-8", "not valid UTF-8", { var b = ByteBuilder(); b.u64(6); b.raw([0x7B, 0x22, 0xFF, 0x22, 0x3A, 0x7D]); return b.bytes }()),
        ("duplicate tensor name", "duplicate key \"a\"",
         safetensorsBytes(header: #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data: Array(repeating: 0, count: 8))),
        ("unknown dtype", "unknown dtype \"F12\"",
         safetensorsBytes(header: #"{"a":{"dtype":"F12","shape":[1],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0])),
        ("shape product overflows", "more elements than fit",
         safetensorsBytes(header: #"{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0])),
        ("byte size disagrees with shape", "needs 8 bytes",
         safetensorsBytes(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0])),
        ("gap between tensors", "must be contiguous",
         safetensorsBytes(header: #"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"b":{"dtype":"U8","shape":[1],"data_offsets":[2,3]}}"#, data: [0, 0, 0])),
        ("overlapping tensors", "must be contiguous",
         safetensorsBytes(header: #"{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"U8","shape":[2],"data_offsets":[1,3]}}"#, data: [0, 0, 0])),
        ("trailing bytes after the last tensor", "trailing or missing",
         safetensorsBytes(header: #"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}"#, data: [0, 0])),
        ("offsets past the end of the file", "trailing or missing",
         safetensorsBytes(header: #"{"a":{"dtype":"U8","shape":[8],"data_offsets":[0,8]}}"#, data: [0, 0])),
        ("negative dimension", "non-integer or negative",
         safetensorsBytes(header: #"{"a":{"dtype":"U8","shape":[-1],"data_offsets":[0,1]}}"#, data: [0])),
        ("begin after end", "needs 1 bytes",
         safetensorsBytes(header: #"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"b":{"dtype":"U8","shape":[1],"data_offsets":[1,0]}}"#, data: [0])),
        ("metadata value not a string", "is not a string",
         safetensorsBytes(header: #"{"__metadata__":{"k":1}}"#, data: [])),
        ("unexpected field in an entry", "unexpected field",
         safetensorsBytes(header: #"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"x":1}}"#, data: [0])),
        ("offsets not integers", "data_offsets",
         safetensorsBytes(header: #"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0.5,1]}}"#, data: [0])),
        ("sub-byte tensor that does not fill whole bytes", "whole number of bytes",
         safetensorsBytes(header: #"{"a":{"dtype":"F4","shape":[3],"data_offsets":[0,1]}}"#, data: [0])),
        ("nesting deeper than a header needs", "nesting deeper",
         safetensorsBytes(header: #"{"__metadata__":{"k":[[[[[[[[[[1]]]]]]]]]]}}"#, data: [])),
    ]

    @Test("refuses malformed input with the file name, an offset and the reason", arguments: cases)
    func refuses(name: String, message: String, bytes: [UInt8]) {
        #expect {
            _ = try open(bytes)
        } throws: { error in
            let text = "\(error)"
            guard let error = error as? SafetensorsError else { return false }
            return text.contains("case.safetensors") && text.contains(message) && error.offset != nil
        }
    }

    @Test("every truncation of a valid file is refused cleanly")
    func truncationSweep() {
        let bytes = safetensorsBytes(header: Self.validHeader, data: Self.validData)
        for length in 0..<bytes.count {
            #expect(throws: SafetensorsError.self, "prefix of \(length) bytes") { try open(Array(bytes[..<length])) }
        }
    }

    @Test("a tighter header limit is honoured")
    func tighterLimit() {
        var limits = SafetensorsLimits()
        limits.maxHeaderBytes = 16
        #expect(throws: SafetensorsError.self) { try open(safetensorsBytes(header: Self.validHeader, data: Self.validData), limits: limits) }
    }
}
