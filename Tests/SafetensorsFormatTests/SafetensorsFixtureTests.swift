import ByteIO
import SafetensorsFormat
import StrictJSON
import TensorTypes
import Testing
import TestSupport

/// Files written by the `safetensors` package itself, with its decoding (Fixtures/safetensors/README.md).
@Suite struct SafetensorsFixtureTests {
    @Test("every dtype the package writes: offsets, shapes and values agree with the peer", arguments: ["dtypes", "f6-handmade"])
    func agreesWithPeer(name: String) throws {
        let expected = try #require(try Fixtures.json("safetensors/\(name).expected.json").objectValue)
        let file = try SafetensorsFile(path: Fixtures.path("safetensors/\(name).safetensors"))
        #expect(file.headerLength == expected["header_length"]?.intValue)
        #expect(file.file.count == expected["file_size"]?.intValue)
        if let metadata = expected["metadata"]?.objectValue {
            #expect(file.metadata == Dictionary(uniqueKeysWithValues: metadata.members.map { ($0.key, $0.value.stringValue ?? "") }))
        }
        let tensors = try #require(expected["tensors"]?.objectValue)
        #expect(Set(file.tensors.map(\.name)) == Set(tensors.keys))
        for member in tensors.members {
            let info = try #require(member.value.objectValue)
            let tensor = try file.tensor(named: member.key)
            #expect(tensor.dtype.rawValue == info["dtype"]?.stringValue, "\(member.key)")
            #expect(tensor.shape.dimensions == info["shape"]?.arrayValue?.compactMap(\.intValue), "\(member.key)")
            let offsets = info["data_offsets"]?.arrayValue?.compactMap(\.intValue) ?? []
            #expect(tensor.data.fileOffset == 8 + file.headerLength + (offsets.first ?? -1), "\(member.key)")
            if let values = ExpectedValues.floats(info["values"]), tensor.dtype.convertsToFloat {
                let mismatch = ExpectedValues.firstMismatch(try file.floats(tensor), values)
                #expect(mismatch == nil, "\(member.key) (\(tensor.dtype.rawValue)): \(mismatch ?? "")")
            } else {
                #expect(throws: SafetensorsError.self, "\(member.key)") { try file.floats(tensor) }
            }
        }
    }

    @Test("the writer's output opens in our reader exactly as the peer's file does (tensor bytes round-trip)")
    func rewriteRoundTrip() throws {
        let original = try SafetensorsFile(path: Fixtures.path("safetensors/dtypes.safetensors"))
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path + "/copy.safetensors"
        try SafetensorsWriter.write(to: path, entries: original.tensors.map { .init(name: $0.name, dtype: $0.dtype, shape: $0.shape) },
                                    metadata: original.metadata) { index, sink in
            try original.tensors[index].data.withUnsafeBytes { try sink.write($0) }
        }
        let copy = try SafetensorsFile(path: path)
        for tensor in original.tensors { #expect(try copy.tensor(named: tensor.name).data.array == tensor.data.array) }
    }
}
