import ByteIO
import Conversion
import PackFormat
import Quantization
import TensorModel
import TensorTypes
import Testing
import TestSupport

/// The transformers-written tiny Gemma 3 / 3n / 4 checkpoints: configurations, roles and their packs.
@Suite struct TinyModelTests {
    @Test("config.json of each generation reads into one description")
    func configurations() throws {
        let gemma3 = try #require(try ModelSources.open(Fixtures.path("models/tiny-gemma3-f32")).configuration)
        #expect(gemma3.architecture == .gemma3 && gemma3.layerCount == 6 && gemma3.fullAttentionLayers == [2, 5])
        #expect(gemma3.ropeTheta == 1_000_000 && gemma3.ropeLocalTheta == 10_000 && gemma3.normWeightOffset == 1)
        #expect(gemma3.queryPreAttentionScalar == 256 && gemma3.slidingWindow == 6)

        let gemma3n = try #require(try ModelSources.open(Fixtures.path("models/tiny-gemma3n-f32")).configuration)
        #expect(gemma3n.architecture == .gemma3n && gemma3n.perLayerInputSize == 16 && gemma3n.perLayerVocabularySize == 256)
        #expect(gemma3n.altupInputCount == 4 && gemma3n.laurelRank == 8 && gemma3n.firstKVSharedLayer == 3)
        #expect(gemma3n.activationSparsity == [0.95, 0.95, 0, 0, 0] && gemma3n.finalLogitSoftcap == 30 && gemma3n.normWeightOffset == 0)

        let gemma4 = try #require(try ModelSources.open(Fixtures.path("models/tiny-gemma4-f32")).configuration)
        #expect(gemma4.architecture == .gemma4 && gemma4.globalHeadDimension == 32 && gemma4.headDimension(layer: 2) == 32)
        #expect(gemma4.intermediateSizes == [128, 128, 128, 256, 256])
        #expect(gemma4.fullAttentionRotaryFraction == 0.25)
    }

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
        #expect(table.record.encoding == .rows(QuantizationScheme(bits: 4, groupSize: width)))
        #expect(table.record.shape.rowLength == configuration.layerCount * width)
        #expect(table.record.rowStride % 64 == 0 && table.data.fileOffset % 4096 == 0)
        #expect(table.data.file.path.hasSuffix(".ple"))
        // Token 7's layer 2 slice, decoded from its record alone, matches the table's values within half a step.
        let original = try source.floats("model.embed_tokens_per_layer.weight", rows: 7..<8)
        let decoded = try pack.floats("model.embed_tokens_per_layer.weight", rows: 7..<8)
        let slice = (2 * width)..<(3 * width)
        let scale = original[slice].map(abs).max()! / 7
        #expect(zip(original[slice], decoded[slice]).allSatisfy { abs($0 - $1) <= scale * 0.51 + 1e-6 })
    }
}
