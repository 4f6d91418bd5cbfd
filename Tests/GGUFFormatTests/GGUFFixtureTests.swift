import ByteIO
import GGUFFormat
import StrictJSON
import TensorTypes
import Testing
import TestSupport

/// Files written by gguf-py (and llama.cpp's quantizer) with gguf-py's own reading of them: see Fixtures/gguf/README.md.
@Suite struct GGUFFixtureTests {
    static let fixtures = ["types", "types-align32", "types-nested", "types-extra", "llama-quantized", "gemma3-270m.blocks"]

    @Test("metadata, tensor infos and dequantized values agree with gguf-py", arguments: fixtures)
    func agreesWithGGUFPy(name: String) throws {
        let expected = try #require(try Fixtures.json("gguf/\(name).expected.json").objectValue)
        let file = try GGUFFile(path: Fixtures.path("gguf/\(name).gguf"))
        try Self.compareHeader(file, expected)
        try Self.compareMetadata(file, try #require(expected["metadata"]?.objectValue))
        let tensors = try #require(expected["tensors"]?.objectValue)
        #expect(file.tensors.map(\.name) == tensors.keys)
        for member in tensors.members {
            let info = try #require(member.value.objectValue)
            let tensor = try file.tensor(named: member.key)
            #expect(tensor.type.name == info["type"]?.stringValue, "\(member.key)")
            #expect(tensor.ne == info["shape_ne"]?.arrayValue?.compactMap(\.intValue), "\(member.key)")
            #expect(tensor.offset == info["offset"]?.intValue, "\(member.key)")
            #expect(tensor.data.fileOffset == info["file_offset"]?.intValue, "\(member.key)")
            #expect(tensor.data.count == info["n_bytes"]?.intValue, "\(member.key)")
            guard let values = ExpectedValues.floats(info["values"]) else { continue }
            if tensor.type.isDequantizable {
                let mismatch = ExpectedValues.firstMismatch(try file.floats(tensor), values)
                #expect(mismatch == nil, "\(name): \(member.key) (\(tensor.type.name)): \(mismatch ?? "")")
            } else {
                #expect(throws: GGUFError.self) { try file.floats(tensor) }
            }
        }
    }

    static func compareHeader(_ file: GGUFFile, _ expected: JSONObject) throws {
        #expect(Int(file.version) == expected["version"]?.intValue)
        #expect(file.alignment == expected["alignment"]?.intValue)
        #expect(file.dataOffset == expected["data_offset"]?.intValue)
        #expect(file.tensors.count == expected["tensor_count"]?.intValue)
        #expect(file.metadata.count == expected["kv_count"]?.intValue)
    }

    static func compareMetadata(_ file: GGUFFile, _ expected: JSONObject) throws {
        #expect(file.metadata.map(\.key) == expected.keys)
        for member in expected.members {
            let entry = try #require(member.value.objectValue)
            let value = try #require(file[member.key])
            #expect(value.type.name == entry["type"]?.stringValue, "\(member.key)")
            if let array = value.arrayValue {
                #expect(array.elementType.name == entry["element_type"]?.stringValue, "\(member.key)")
                #expect(array.count == entry["count"]?.intValue, "\(member.key)")
                let elements = try array.elements()
                if let all = entry["value"]?.arrayValue {
                    try expectEqual(elements, all, key: member.key)
                } else if let first = entry["first"]?.arrayValue {
                    try expectEqual(Array(elements.prefix(first.count)), first, key: member.key)
                }
            } else {
                try expectEqual([value], [try #require(entry["value"])], key: member.key)
            }
        }
    }

    static func expectEqual(_ values: [GGUFValue], _ expected: [JSONValue], key: String) throws {
        #expect(values.count == expected.count, "\(key)")
        for (value, json) in zip(values, expected) {
            switch value {
            case .string(let s): #expect(s == json.stringValue, "\(key)")
            case .bool(let b): #expect(b == json.boolValue, "\(key)")
            case .float32(let f): #expect(Double(f) == json.doubleValue, "\(key)")
            case .float64(let d): #expect(d == json.doubleValue, "\(key)")
            case .uint64(let u): #expect(json.uint64Value == u, "\(key)")
            case .int64(let i): #expect(json.number == String(i), "\(key)")
            case .array(let inner): try expectEqual(try inner.elements(), try #require(json.arrayValue), key: key)
            default: #expect(value.intValue.map(String.init) == json.number, "\(key)")
            }
        }
    }
}

extension JSONValue {
    /// The number's text, if this is a number.
    var number: String? { if case .number(let text) = self { text } else { nil } }
}

/// The real Gemma 3 270M GGUF against gguf-py's listing of it (Fixtures/gguf/gemma3-270m.listing.json).
@Suite struct RealGemma3GGUFTests {
    @Test("every tensor, type, shape, offset and metadata key agrees with gguf-py", Fixtures.needsRealGemma3)
    func listingAgrees() throws {
        let path = try Fixtures.requireRealGemma3()
        let expected = try #require(try Fixtures.json("gguf/gemma3-270m.listing.json").objectValue)
        let file = try GGUFFile(path: path)
        try GGUFFixtureTests.compareHeader(file, expected)
        try GGUFFixtureTests.compareMetadata(file, try #require(expected["metadata"]?.objectValue))
        let tensors = try #require(expected["tensors"]?.arrayValue)
        #expect(file.tensors.count == tensors.count)
        for (tensor, entry) in zip(file.tensors, tensors) {
            let info = try #require(entry.objectValue)
            #expect(tensor.name == info["name"]?.stringValue)
            #expect(tensor.type.name == info["type"]?.stringValue, "\(tensor.name)")
            #expect(tensor.ne == info["shape_ne"]?.arrayValue?.compactMap(\.intValue), "\(tensor.name)")
            #expect(tensor.offset == info["offset"]?.intValue, "\(tensor.name)")
            #expect(tensor.data.count == info["n_bytes"]?.intValue, "\(tensor.name)")
        }
        #expect(try file["tokenizer.ggml.tokens"]?.arrayValue?.strings()?.count == 262_144)
        try file.validateAll()
    }

    @Test("real blocks of every type in the file dequantize as gguf-py does", Fixtures.needsRealGemma3)
    func realBlocks() throws {
        let path = try Fixtures.requireRealGemma3()
        // The blocks fixture copies the first rows of one real tensor per type; here the same rows are read in place.
        let expected = try #require(try Fixtures.json("gguf/gemma3-270m.blocks.expected.json").objectValue?["tensors"]?.objectValue)
        let file = try GGUFFile(path: path)
        for member in expected.members {
            let values = try #require(ExpectedValues.floats(member.value.objectValue?["values"]))
            let rowLength = try #require(member.value.objectValue?["shape_ne"]?.arrayValue?.first?.intValue)
            let rows = values.count / rowLength
            let mismatch = ExpectedValues.firstMismatch(try file.floats(try file.tensor(named: member.key), rows: 0..<rows), values)
            #expect(mismatch == nil, "\(member.key): \(mismatch ?? "")")
        }
    }
}
