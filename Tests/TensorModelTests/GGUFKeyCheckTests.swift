import ByteIO
import GGUFFormat
import TensorModel
import TestSupport
import Testing

/// GGUF metadata keys are read or refused by name, never ignored: llama.cpp's converter output with one key added or
/// changed (written by GGUFWriter around the converter's own tensors).
@Suite struct GGUFKeyCheckTests {
    static let converted = Fixtures.path("conformance/gemma3-gqa4-window3-ropelinear8-6layers/model.gguf")

    /// The converter's file with `edit` applied to its metadata, written to a temporary directory.
    func variant(_ edit: (inout [(String, GGUFValue)]) -> Void, in directory: TemporaryDirectory) throws -> String {
        let original = try GGUFFile(path: Self.converted)
        var metadata = original.metadata.map { ($0.key, $0.value) }
        edit(&metadata)
        let path = directory.path + "/edited.gguf"
        try GGUFWriter.write(to: path, metadataCount: metadata.count, encodedMetadata: GGUFWriter.encode(metadata: metadata),
                             alignment: original.alignment, tensors: original.tensors.map { .init(name: $0.name, type: $0.type, ne: $0.ne) }) { index, sink in
            try original.tensors[index].data.withUnsafeBytes { try sink.write($0) }
        }
        return path
    }

    @Test("the converter's own keys are all read; an unknown one or a contradicting one is refused by name", arguments: [
        ("gemma3.expert_count", GGUFValue.uint32(4), "gemma3.expert_count"),
        ("gemma3.attention.value_length", .uint32(16), "gemma3.attention.value_length"),
        ("gemma3.rope.dimension_count", .uint32(4), "gemma3.rope.dimension_count"),
        ("gemma3.rope.scaling.type", .string("yarn"), "gemma3.rope.scaling.type"),
        ("gemma3.vocab_size", .uint32(999), "gemma3.vocab_size"),
    ])
    func keys(key: String, value: GGUFValue, named: String) throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        #expect(try ModelConfiguration(gguf: GGUFFile(path: Self.converted)) != nil)
        let path = try variant({ metadata in
            metadata.removeAll { $0.0 == key }
            metadata.append((key, value))
        }, in: directory)
        #expect { try ModelConfiguration(gguf: GGUFFile(path: path)) } throws: { "\($0)".contains(named) }
    }
}
