import Conversion
import GemmaInference
import SourceAdapters
import StrictJSON
import TensorModel
import TestSupport
import Testing
import Verification

/// Tiny Gemma models built and run by transformers itself (Fixtures/models, Fixtures/scripts/make_tiny_models.py).
@Suite struct TinyTransformersAgreementTests {
    func reference(_ directory: String) throws -> (tokens: [Int], object: JSONObject) {
        let object = try #require(try Fixtures.json("models/\(directory)/reference.json").objectValue)
        return (object["tokens"]?.arrayValue?.compactMap { $0.intValue } ?? [], object)
    }

    func logits(_ directory: String, _ name: String) throws -> [Float] {
        try NumpyArray(path: Fixtures.path("models/\(directory)/\(name)")).values
    }

    func maxDifference(_ a: [Float], _ b: [Float]) -> Float {
        zip(a, b).map { abs($0 - $1) }.max() ?? .infinity
    }

    @Test("f32 weights: full-sequence and token-by-token logits within 1e-4 of transformers", arguments: ["tiny-gemma3-f32", "tiny-gemma3n-f32", "tiny-gemma4-f32"])
    func float32Agrees(directory: String) throws {
        let (tokens, _) = try reference(directory)
        let source = try ModelSources.open(Fixtures.path("models/" + directory))
        let model = try ModelRegistry.model(for: source, contextLength: tokens.count)
        let full = try model.forward(tokens, allLogits: true)
        #expect(maxDifference(full, try logits(directory, "logits.npy")) <= 1e-4)
        model.reset()
        var incremental: [Float] = []
        for token in tokens { incremental += try model.forward([token], allLogits: false) }
        #expect(maxDifference(incremental, try logits(directory, "logits-incremental.npy")) <= 1e-4)
    }

    @Test("bf16 weights (one file and sharded): f32 arithmetic matches transformers' f32-compute run, and bf16 within its own f32/bf16 gap",
          arguments: ["tiny-gemma3-bf16", "tiny-gemma3-bf16-sharded", "tiny-gemma3n-bf16", "tiny-gemma4-bf16"])
    func bfloat16Agrees(directory: String) throws {
        let (tokens, object) = try reference(directory)
        let source = try ModelSources.open(Fixtures.path("models/" + directory))
        let model = try ModelRegistry.model(for: source, contextLength: tokens.count)
        let ours = try model.forward(tokens, allLogits: true)
        let tolerance = Float(try #require(object["max_abs_diff_vs_f32"]?.doubleValue))
        #expect(maxDifference(ours, try logits(directory, "logits.npy")) <= tolerance)
        if Fixtures.exists("models/\(directory)/logits-f32compute.npy") {
            #expect(maxDifference(ours, try logits(directory, "logits-f32compute.npy")) <= 1e-4)
        }
    }

    @Test("lpk-verify's metrics against transformers' saved logits, and an int8 pack of the tiny model")
    func verifyAgainstSavedLogits() throws {
        let directory = "tiny-gemma3-f32"
        let (tokens, _) = try reference(directory)
        let source = try ModelSources.open(Fixtures.path("models/" + directory))
        let model = try ModelRegistry.model(for: source, contextLength: tokens.count)
        let comparison = LogitComparison(reference: try logits(directory, "logits.npy"), candidate: try model.forward(tokens, allLogits: true),
                                         vocabulary: 512)
        #expect(comparison.top1Agreement == 1)
        #expect(comparison.meanKLD < 1e-8)
    }
}
