import ByteIO
import Conversion
import Foundation
import PackFormat
import Quantization
import SafetensorsFormat
import SourceAdapters
import TensorModel
import TensorTypes
import TestSupport
import Testing

/// A small Gemma-4-shaped checkpoint written in the test: every tensor class, a PLE table of 3 layers × 32.
struct SyntheticModel {
    let directory: TemporaryDirectory
    var path: String { directory.path }

    static let tensors: [(String, DType, [Int])] = [
        ("model.language_model.embed_tokens.weight", .bf16, [64, 64]),
        ("model.language_model.embed_tokens_per_layer.weight", .bf16, [64, 96]),
        ("model.language_model.per_layer_model_projection.weight", .f32, [96, 64]),
        ("model.language_model.layers.0.self_attn.q_proj.weight", .f32, [64, 64]),
        ("model.language_model.layers.0.mlp.down_proj.weight", .f16, [64, 128]),
        ("model.language_model.layers.0.input_layernorm.weight", .f32, [64]),
        ("model.language_model.layers.0.layer_scalar", .f32, [1]),
        ("model.vision_tower.patch.weight", .f32, [4, 8]),
    ]

    static func value(_ tensor: Int, _ index: Int) -> Float {
        Float(sin(Double(index * 7 + tensor * 13) * 0.37)) * (index % 31 == 0 ? 3 : 0.5)
    }

    init() throws {
        directory = try TemporaryDirectory()
        let config = #"{"model_type": "gemma4_text", "vocab_size": 64, "hidden_size": 64, "num_hidden_layers": 3, "num_attention_heads": 2, "num_key_value_heads": 1, "head_dim": 32, "intermediate_size": 128, "hidden_size_per_layer_input": 32, "vocab_size_per_layer_input": 64, "num_kv_shared_layers": 1, "layer_types": ["full_attention", "sliding_attention", "full_attention"], "final_logit_softcapping": 30.0}"#
        try directory.write(Array(config.utf8), to: "config.json")
        try directory.write(Array("{\"fake\": \"tokenizer\"}".utf8), to: "tokenizer.json")
        let entries = Self.tensors.map { SafetensorsWriter.Entry(name: $0.0, dtype: $0.1, shape: TensorShape($0.2)!) }
        try SafetensorsWriter.write(to: path + "/model.safetensors", entries: entries, metadata: ["format": "pt"]) { index, sink in
            let (_, dtype, shape) = Self.tensors[index]
            let count = shape.reduce(1, *)
            var bytes: [UInt8] = []
            for i in 0..<count {
                let v = Self.value(index, i)
                switch dtype {
                case .f32: withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes += $0 }
                case .f16: withUnsafeBytes(of: FloatConversion.half(from: v).littleEndian) { bytes += $0 }
                default: withUnsafeBytes(of: FloatConversion.bfloat16(from: v).littleEndian) { bytes += $0 }
                }
            }
            try sink.write(bytes)
        }
    }
}

@Suite struct ConversionTests {
    @Test("lossless import keeps every tensor's bytes, attaches the tokenizer, and is deterministic")
    func losslessImport() throws {
        let model = try SyntheticModel()
        defer { model.directory.remove() }
        let source = try ModelSources.open(model.path)
        let report = try PackConverter.convert(source, to: model.path + "/a.lpk", options: .init())
        _ = try PackConverter.convert(source, to: model.path + "/b.lpk", options: .init())
        #expect(try MappedFile(path: model.path + "/a.lpk").bytes.array == MappedFile(path: model.path + "/b.lpk").bytes.array)
        let pack = try PackSource(path: model.path + "/a.lpk")
        for tensor in source.tensors {
            #expect(try pack.storedBytes(tensor.name).array == source.storedBytes(tensor.name).array, "\(tensor.name)")
            #expect(try pack.floats(tensor.name) == source.floats(tensor.name))
        }
        #expect(pack.attachment(named: "tokenizer.json")?.bytes.array == source.attachment(named: "tokenizer.json")?.bytes.array)
        #expect(try pack.pack.tensor(named: "file:tokenizer.json").record.encoding == .file)
        #expect(pack.configuration == source.configuration)
        #expect(pack.provenance?.sourceFiles.first?.name == "model.safetensors")
        #expect(report.tensors.allSatisfy { $0.error == nil })
        #expect(pack.deepCheck().isEmpty)
        // The PLE table sits in its own page-aligned section.
        let ple = try pack.pack.tensor(named: "model.language_model.embed_tokens_per_layer.weight")
        #expect(ple.record.section == .ple && ple.data.fileOffset % 4096 == 0)
    }

    @Test("quantizing: PLE rows are per (token, layer) with token-major records; norms stay float; errors are bounded")
    func quantizedPLE() throws {
        let model = try SyntheticModel()
        defer { model.directory.remove() }
        let source = try ModelSources.open(model.path)
        let recipe = Recipe(core: .int4, ple: .int4, embed: .int8, group: 32)
        let report = try PackConverter.convert(source, to: model.path + "/q.lpk", options: .init(recipe: recipe, splitPLE: true))
        let pack = try PackSource(path: model.path + "/q.lpk")
        #expect(pack.pack.isSplit)
        let name = "model.language_model.embed_tokens_per_layer.weight"
        let ple = try pack.pack.tensor(named: name)
        #expect(ple.record.encoding == .rows(RowScheme(bits: .int4, groupSize: 32)))
        #expect(ple.record.rowStride == 64)  // 3 scales (6 B) + 96 nibbles (48 B) = 54 → 64
        #expect(ple.data.file.path.hasSuffix(".lpk.ple"))
        // One token's record holds its three layers' scales then values: decode token 5 from its record alone.
        let token = 5
        let record = ple.data.slice(offset: token * ple.record.rowStride, length: ple.record.rowStride)!
        var values = [Float](repeating: 0, count: 96)
        record.withUnsafeBytes { raw in values.withUnsafeMutableBufferPointer { RowDequantizer.dequantizeReference(raw, scheme: .init(bits: .int4, groupSize: 32), into: $0) } }
        #expect(values == (try pack.floats(name, rows: token..<(token + 1))))
        let original = try source.floats(name, rows: token..<(token + 1))
        for layer in 0..<3 {
            let scale = record.withUnsafeBytes { FloatConversion.float(fromHalf: UInt16($0[2 * layer]) | UInt16($0[2 * layer + 1]) << 8) }
            let amax = original[(layer * 32)..<((layer + 1) * 32)].map(abs).max()!
            #expect(abs(scale - amax / 7) <= amax / 7 * 0.001)
        }
        #expect(try pack.descriptor("model.language_model.layers.0.input_layernorm.weight").encoding == .plain(.f32))
        #expect(try pack.descriptor("model.language_model.layers.0.layer_scalar").encoding == .plain(.f32))
        #expect(try pack.descriptor("model.vision_tower.patch.weight").encoding == .plain(.f32))
        #expect(try pack.descriptor("model.language_model.embed_tokens.weight").encoding == .rows(.init(bits: .int8)))
        #expect(try pack.descriptor("model.language_model.layers.0.mlp.down_proj.weight").encoding == .rows(.init(bits: .int4, groupSize: 32)))
        for tensor in report.tensors where tensor.error != nil {
            #expect(tensor.error!.cosine > 0.98, "\(tensor.name)")
        }
        #expect(pack.deepCheck().isEmpty)
    }

    @Test("impossible recipes fail with the tensor named and leave no output")
    func badRecipes() throws {
        let model = try SyntheticModel()
        defer { model.directory.remove() }
        let source = try ModelSources.open(model.path)
        #expect { try PackConverter.convert(source, to: model.path + "/x.lpk", options: .init(recipe: Recipe(core: .int4, ple: .int4, embed: .int8, group: 48))) } throws: {
            ($0 as? RecipeError)?.kind == .invalidValue && ($0 as? RecipeError)?.key == "group"
        }
        #expect { try PackConverter.convert(source, to: model.path + "/model.safetensors", options: .init()) } throws: { ($0 as? OutputGuard.Refusal)?.kind == .isAnInput }
        #expect(!FileManager.default.fileExists(atPath: model.path + "/x.lpk"))
    }

    @Test("a compressed pack decompresses to the identical bytes, companion file included")
    func compressionRoundTrip() throws {
        let model = try SyntheticModel()
        defer { model.directory.remove() }
        let source = try ModelSources.open(model.path)
        _ = try PackConverter.convert(source, to: model.path + "/c.lpk", options: .init(splitPLE: true))
        let statistics = try CompressedPack.compress(packPath: model.path + "/c.lpk", to: model.path + "/c.lpkz")
        #expect(statistics.totalCompressed < statistics.totalBytes)
        try CompressedPack.decompress(model.path + "/c.lpkz", to: model.path + "/d.lpk")
        #expect(try MappedFile(path: model.path + "/c.lpk").bytes.array == MappedFile(path: model.path + "/d.lpk").bytes.array)
        #expect(try MappedFile(path: model.path + "/c.lpk.ple").bytes.array == MappedFile(path: model.path + "/d.lpk.ple").bytes.array)
        var damaged = try MappedFile(path: model.path + "/c.lpkz").bytes.array
        damaged[damaged.count / 2] ^= 0x10
        try model.directory.write(damaged, to: "bad.lpkz")
        #expect(throws: (any Error).self) { try CompressedPack.decompress(model.path + "/bad.lpkz", to: model.path + "/e.lpk") }
        #expect(!FileManager.default.fileExists(atPath: model.path + "/e.lpk"))
    }

    @Test("exports: safetensors values equal the pack's; a tensor llama.cpp has no name for (a vision tower) refuses the GGUF, by name")
    func exports() throws {
        let model = try SyntheticModel()
        defer { model.directory.remove() }
        let source = try ModelSources.open(model.path)
        _ = try PackConverter.convert(source, to: model.path + "/q.lpk", options: .init(recipe: Recipe(core: .int4, ple: .int8, embed: .int8, group: 32)))
        let pack = try PackSource(path: model.path + "/q.lpk")
        _ = try Exporter.exportSafetensors(pack, to: model.path + "/out.safetensors", dtype: .f32)
        let exportedST = try ModelSources.open(model.path + "/out.safetensors")
        for tensor in pack.tensors where tensor.encoding != .file {
            #expect(try exportedST.floats(tensor.name) == pack.floats(tensor.name), "\(tensor.name)")
        }
        #expect { try Exporter.exportGGUF(pack, to: model.path + "/out.gguf") } throws: { "\($0)".contains("vision_tower") }
        #expect(!FileManager.default.fileExists(atPath: model.path + "/out.gguf"))
    }

    @Test("a Gemma 3 pack from safetensors exports to GGUF under llama.cpp's names: int rows as Q8_0/Q4_0 with identical values, norms as 1 + w")
    func ggufExport() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let source = try ModelSources.open(Fixtures.path("conformance/gemma3-hd8-mha-window3-tied"))
        _ = try PackConverter.convert(source, to: directory.path + "/q.lpk",
                                      options: .init(recipe: Recipe(core: .int4, ple: .int8, embed: .int8, group: 32, embedGroup: 32)))
        let pack = try PackSource(path: directory.path + "/q.lpk")
        let entries = try Exporter.exportGGUF(pack, to: directory.path + "/out.gguf")
        let exported = try ModelSources.open(directory.path + "/out.gguf")
        #expect(entries.first { $0.name.hasSuffix("down_proj.weight") }?.to == "Q4_0")
        #expect(entries.first { $0.name.hasSuffix("embed_tokens.weight") }?.to == "Q8_0")
        for tensor in pack.tensors where tensor.encoding != .file {
            let name = try #require(GemmaWeight(tensorName: tensor.name)?.ggufName)
            let values = try pack.floats(tensor.name)
            #expect(try exported.floats(name) == (tensor.role == .norm ? values.map { $0 + 1 } : values), "\(tensor.name)")
        }
    }
}
