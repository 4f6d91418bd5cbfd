import ByteIO
import SafetensorsFormat
import TensorTypes
import Testing
import TestSupport

@Suite struct SafetensorsCheckpointTests {
    @Test("the writer's files read back with the same names, shapes and bytes; the header is padded to 8")
    func writerRoundTrip() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path + "/w.safetensors"
        let entries = [
            SafetensorsWriter.Entry(name: "x \"quoted\"", dtype: .f32, shape: TensorShape([2, 2])!),
            SafetensorsWriter.Entry(name: "y", dtype: .bf16, shape: TensorShape([3])!),
            SafetensorsWriter.Entry(name: "scalar", dtype: .i64, shape: TensorShape([])!),
        ]
        let payloads: [[UInt8]] = [Array(0..<16), [0x80, 0x3F, 0, 0, 0x40, 0xC0], Array(repeating: 1, count: 8)]
        try SafetensorsWriter.write(to: path, entries: entries, metadata: ["format": "pt"]) { index, sink in
            try sink.write(payloads[index])
        }
        let file = try SafetensorsFile(path: path)
        #expect(file.headerLength % 8 == 0)
        #expect(file.metadata == ["format": "pt"])
        #expect(file.tensors.map(\.name) == entries.map(\.name))
        for (tensor, payload) in zip(file.tensors, payloads) { #expect(tensor.data.array == payload) }
        #expect(try directory.contents() == ["w.safetensors"])
    }

    @Test("a producer that writes the wrong number of bytes fails and leaves no file")
    func wrongByteCount() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        #expect(throws: SafetensorsWriter.WriteError.self) {
            try SafetensorsWriter.write(to: directory.path + "/bad.safetensors",
                                        entries: [.init(name: "a", dtype: .f32, shape: TensorShape([2])!)]) { _, sink in
                try sink.write([1, 2, 3])
            }
        }
        #expect(try directory.contents() == [])
    }

    func writeShard(_ directory: TemporaryDirectory, _ name: String, tensors: [String]) throws {
        try SafetensorsWriter.write(to: directory.path + "/" + name,
                                    entries: tensors.map { .init(name: $0, dtype: .u8, shape: TensorShape([1])!) }) { _, sink in
            try sink.write([7])
        }
    }

    @Test("a sharded checkpoint follows its index; shards that disagree with it are refused")
    func shardedIndex() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try writeShard(directory, "s1.safetensors", tensors: ["a", "b"])
        try writeShard(directory, "s2.safetensors", tensors: ["c"])
        try directory.write(Array(#"{"metadata":{},"weight_map":{"a":"s1.safetensors","b":"s1.safetensors","c":"s2.safetensors"}}"#.utf8),
                            to: "model.safetensors.index.json")
        let checkpoint = try SafetensorsCheckpoint(path: directory.path)
        #expect(checkpoint.files.count == 2)
        #expect(checkpoint.tensors.map(\.name) == ["a", "b", "c"])
        #expect(try checkpoint.tensor(named: "c").1.path.hasSuffix("s2.safetensors"))

        try directory.write(Array(#"{"weight_map":{"a":"s1.safetensors","c":"s2.safetensors"}}"#.utf8), to: "partial.json")
        #expect { try SafetensorsCheckpoint(path: directory.path + "/partial.json") } throws: { Self.isInvalidIndex($0, naming: "'b'") }

        try directory.write(Array(#"{"weight_map":{"a":"../s1.safetensors"}}"#.utf8), to: "escape.json")
        #expect { try SafetensorsCheckpoint(path: directory.path + "/escape.json") } throws: { Self.isInvalidIndex($0) }

        try directory.write(Array(#"{"weight_map":{"a":"s1.safetensors","b":"s1.safetensors","c":"s1.safetensors"}}"#.utf8), to: "wrong.json")
        #expect { try SafetensorsCheckpoint(path: directory.path + "/wrong.json") } throws: { Self.isInvalidIndex($0) }
    }

    @Test("a directory without an index takes every shard and refuses a name found twice")
    func directoryWithoutIndex() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try writeShard(directory, "p1.safetensors", tensors: ["a"])
        try writeShard(directory, "p2.safetensors", tensors: ["a"])
        #expect { try SafetensorsCheckpoint(path: directory.path) } throws: { error in
            guard case .duplicateTensor(let tensor, _)? = (error as? SafetensorsError)?.kind else { return false }
            return tensor == "a"
        }
    }

    /// Whether `error` is an `.invalidIndex` SafetensorsError whose reason names `part`.
    static func isInvalidIndex(_ error: any Error, naming part: String = "") -> Bool {
        guard case .invalidIndex(let reason)? = (error as? SafetensorsError)?.kind else { return false }
        return part.isEmpty || reason.contains(part)
    }
}
