import Conversion
import Foundation
import GemmaInference
import SourceAdapters
import StrictJSON
import TestSupport
import Testing
import Verification

/// A tiny Gemma 3n (22 layers: llama.cpp's fixed PLE width, LAuReL rank and KV-sharing start) saved by transformers
/// and converted to GGUF by llama.cpp's own `convert_hf_to_gguf.py` (Fixtures/scripts/make_gemma3n_gguf.py).
@Suite struct Gemma3nLlamaCppTests {
    static let directory = "models/tiny-gemma3n-gguf"

    func logits(_ path: String, _ tokens: [Int]) throws -> [Float] {
        let model = try ModelRegistry.model(for: try ModelSources.open(path), contextLength: tokens.count)
        return try model.forward(tokens, allLogits: true)
    }

    @Test("the llama.cpp GGUF reads as the safetensors it came from, agrees with transformers and tracks llama.cpp")
    func agreement() throws {
        let json = try Fixtures.json(Self.directory + "/reference.json")
        let reference = try #require(json.objectValue)
        let tokens = (reference["tokens"]?.arrayValue ?? []).compactMap { $0.intValue }
        let vocabulary = 128
        let fromGGUF = try logits(Fixtures.path(Self.directory + "/model-bf16.gguf"), tokens)
        let fromSafetensors = try logits(Fixtures.path(Self.directory + "/model.safetensors"), tokens)
        let transformers = try NumpyArray(path: Fixtures.path(Self.directory + "/logits.npy")).values
        let llama = try NumpyArray(path: Fixtures.path(Self.directory + "/logits-llama.npy")).values

        let sameReading = LogitComparison(reference: fromSafetensors, candidate: fromGGUF, vocabulary: vocabulary)
        #expect(sameReading.maxAbsoluteDifference <= 1e-5, "GGUF vs safetensors: \(sameReading.maxAbsoluteDifference)")

        let againstTransformers = LogitComparison(reference: transformers, candidate: fromSafetensors, vocabulary: vocabulary)
        #expect(againstTransformers.maxAbsoluteDifference <= 1e-4, "vs transformers: \(againstTransformers.maxAbsoluteDifference)")

        // llama.cpp rounds activations to bf16 before its bf16 products; its own distance to transformers is the yardstick.
        let llamaGap = Double(try #require(reference["max_abs_diff_llama_vs_transformers"]?.doubleValue))
        let againstLlama = LogitComparison(reference: llama, candidate: fromGGUF, vocabulary: vocabulary)
        let llamaTop1 = LogitComparison(reference: llama, candidate: transformers, vocabulary: vocabulary).top1Agreement
        #expect(againstLlama.maxAbsoluteDifference <= llamaGap + 1e-3, "vs llama.cpp: \(againstLlama.maxAbsoluteDifference), transformers vs llama.cpp: \(llamaGap)")
        #expect(againstLlama.top1Agreement >= llamaTop1, "top-1 vs llama.cpp \(againstLlama.top1Agreement), transformers' \(llamaTop1)")
    }
}
