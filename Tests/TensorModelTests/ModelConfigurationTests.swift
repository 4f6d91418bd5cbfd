import Foundation
import StrictJSON
import TensorModel
import TestSupport
import Testing

/// config.json files written by transformers (Fixtures/models) read into one model description.
@Suite struct ModelConfigurationTests {
    func configuration(_ directory: String) throws -> ModelConfiguration {
        let path = Fixtures.path("models/\(directory)/config.json")
        let object = try #require(try Fixtures.json("models/\(directory)/config.json").objectValue)
        return try ModelConfiguration(huggingFace: object, file: path)
    }

    @Test("Gemma 3: layer types, RoPE bases, the query scale and the norm offset")
    func gemma3() throws {
        let c = try configuration("tiny-gemma3-f32")
        #expect(c.architecture == .gemma3 && c.layerCount == 6 && c.fullAttentionLayers == [2, 5])
        #expect(c.ropeTheta == 1_000_000 && c.ropeLocalTheta == 10_000 && c.normWeightOffset == 1)
        #expect(c.queryPreAttentionScalar == 256 && c.slidingWindow == 6)
    }

    @Test("Gemma 3n: PLE, AltUp, LAuReL, sparsity, softcap; KV-shared layers read the last earlier layer of their kind")
    func gemma3n() throws {
        let c = try configuration("tiny-gemma3n-f32")
        #expect(c.architecture == .gemma3n && c.perLayerInputSize == 16 && c.perLayerVocabularySize == 256)
        #expect(c.altupInputCount == 4 && c.laurelRank == 8 && c.firstKVSharedLayer == 3)
        #expect(c.activationSparsity == [0.95, 0.95, 0, 0, 0] && c.finalLogitSoftcap == 30 && c.normWeightOffset == 0)
        // Fixtures/models/README.md: layer 3 (sliding) reads layer 1, layer 4 (full) reads layer 2.
        #expect(c.cacheLayer(of: 3) == 1 && c.cacheLayer(of: 4) == 2 && c.cacheLayer(of: 2) == 2)
    }

    @Test("Gemma 4: its own full-attention head size, doubled MLPs on KV-shared layers, proportional RoPE")
    func gemma4() throws {
        let c = try configuration("tiny-gemma4-f32")
        #expect(c.architecture == .gemma4 && c.globalHeadDimension == 32 && c.headDimension(layer: 2) == 32)
        #expect(c.intermediateSizes == [128, 128, 128, 256, 256])
        #expect(c.fullAttentionRotaryFraction == 0.25)
    }

    @Test("an unknown model_type is refused naming the file and the types known")
    func unknownModelType() throws {
        let object = try #require(try JSONParser.parse(Array(#"{"model_type": "llama", "hidden_size": 8}"#.utf8)).objectValue)
        #expect { try ModelConfiguration(huggingFace: object, file: "x/config.json") } throws: { error in
            "\(error)".contains("x/config.json") && "\(error)".contains("llama") && "\(error)".contains("gemma3_text")
        }
    }
}

/// The configuration as a pack stores it (Formats/lpk.md §8): decoded tolerantly, so packs from other versions open.
@Suite struct StoredConfigurationTests {
    @Test("fields a writer left out take their defaults; the required sizes are named when missing")
    func tolerantDecoding() throws {
        let object = try #require(try Fixtures.json("models/tiny-gemma3n-f32/config.json").objectValue)
        let full = try ModelConfiguration(huggingFace: object, file: "config.json")
        var stored = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(full)) as? [String: Any])
        for key in ["slidingWindow", "altupCorrectScale", "fullAttentionRotaryFraction", "normWeightOffset", "futureField"] {
            stored.removeValue(forKey: key)
        }
        stored["someFieldOfALaterVersion"] = 3
        let decoded = try JSONDecoder().decode(ModelConfiguration.self, from: JSONSerialization.data(withJSONObject: stored))
        var expected = full
        expected.slidingWindow = 512
        #expect(decoded == expected)

        stored.removeValue(forKey: "hiddenSize")
        #expect { try JSONDecoder().decode(ModelConfiguration.self, from: JSONSerialization.data(withJSONObject: stored)) } throws: {
            "\($0)".contains("hiddenSize")
        }
    }
}
