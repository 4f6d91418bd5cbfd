import ByteIO
import Conversion
import PackFormat
import Quantization
import SourceAdapters
import TensorModel
import TensorTypes
import TestSupport
import Testing

/// The transformers-written tiny Gemma 3 / 3n / 4 checkpoints opened as sources: roles and their packs.
@Suite struct TinyModelTests {
    @Test("every tensor gets a role; the PLE table is recognised in both PLE models", arguments: ["tiny-gemma3n-f32", "tiny-gemma4-f32"])
    func roles(directory: String) throws {
        let source = try ModelSources.open(Fixtures.path("models/" + directory))
        #expect(source.tensors.filter { $0.role == .other }.isEmpty, "\(source.tensors.filter { $0.role == .other }.map(\.name))")
        #expect(try source.descriptor("model.embed_tokens_per_layer.weight").role == .perLayerEmbedding)
        #expect(try source.descriptor("model.layers.0.per_layer_input_gate.weight").role == .perLayerInput)
        #expect(try source.descriptor("model.per_layer_model_projection.weight").role == .perLayerInput)
    }

    @Test("int4 PLE packs: one token-major record per token with a scale per (token, layer); --check passes",
          arguments: ["tiny-gemma3n-f32", "tiny-gemma4-bf16"])
    func plePacks(directory: String) throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.remove() }
        let source = try ModelSources.open(Fixtures.path("models/" + directory))
        let configuration = try #require(source.configuration)
        let path = temporary.path + "/m.lpk"
        _ = try PackConverter.convert(source, to: path, options: .init(recipe: Recipe(core: .int8, ple: .int4, embed: .int8), splitPLE: true))
        let pack = try PackSource(path: path)
        #expect(pack.deepCheck().isEmpty)
        let table = try pack.pack.tensor(named: "model.embed_tokens_per_layer.weight")
        let width = configuration.perLayerInputSize!
        #expect(table.record.encoding == .rows(RowScheme(bits: .int4, groupSize: width)))
        #expect(table.record.shape.rowLength == configuration.layerCount * width)
        #expect(table.record.rowStride % 64 == 0 && table.data.fileOffset % 16384 == 0)
        #expect(table.data.file.path.hasSuffix(".ple"))
        // Token 7's layer 2 slice, decoded from its record alone, matches the table's values within half a step.
        let original = try source.floats("model.embed_tokens_per_layer.weight", rows: 7..<8)
        let decoded = try pack.floats("model.embed_tokens_per_layer.weight", rows: 7..<8)
        let slice = (2 * width)..<(3 * width)
        let scale = original[slice].map(abs).max()! / 7
        #expect(zip(original[slice], decoded[slice]).allSatisfy { abs($0 - $1) <= scale * 0.51 + 1e-6 })
    }
}
