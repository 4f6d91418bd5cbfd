import GemmaInference
import SourceAdapters
import TensorModel
import TestSupport
import Testing

/// A forward call longer than ``ForwardOutput/chunkTokens`` runs in chunks; what it returns is what the same tokens
/// return run in calls of one pass each, bit for bit (every product, norm and attention works token by token over
/// the same cache), for logits from any token and for final states.
@Suite struct ChunkedForwardTests {
    /// Fixture model `name` with room for `count` tokens, and `count` tokens spread over its vocabulary.
    static func model(_ name: String, tokens count: Int) throws -> (any CausalLanguageModel, [Int]) {
        let model = try ModelRegistry.model(for: try ModelSources.open(Fixtures.path("models/\(name)")), contextLength: count)
        let vocabulary = model.configuration.vocabularySize
        return (model, (0..<count).map { ($0 * 7919 + 3) % vocabulary })
    }

    @Test("Gemma 3, 3n and 4: one 700-token call equals calls of 200, 250 and 250 tokens",
          arguments: ["tiny-gemma3-f32", "tiny-gemma3n-f32", "tiny-gemma4-f32"])
    func chunkedEqualsPasses(model name: String) throws {
        let (model, tokens) = try Self.model(name, tokens: 700)
        #expect(tokens.count > 2 * ForwardOutput.chunkTokens)
        for output in [ForwardOutput.logits(from: 0), .logits(from: 480), .finalStates] {
            model.reset()
            let whole = try model.forward(tokens, output: output)
            model.reset()
            var pieces: [Float] = []
            for range in [0..<200, 200..<450, 450..<700] {
                let first: ForwardOutput = switch output {
                case .logits(let from): .logits(from: min(range.count, max(0, from - range.lowerBound)))
                case .finalStates: .finalStates
                }
                pieces += try model.forward(Array(tokens[range]), output: first)
            }
            #expect(model.position == 700)
            #expect(whole.count == pieces.count && whole.map(\.bitPattern) == pieces.map(\.bitPattern), "\(name), \(output)")
        }
    }

    @Test("Gemma 3, 3n and 4: decoded token by token past 1,024 positions (a full layer's span of 2 × 16 key values per position then split between the threads and merged), the logits of one whole call within 3e-5 of the largest (the whole call's products sum in another order: 1.1e-5 with the span whole)",
          arguments: ["tiny-gemma3-f32", "tiny-gemma3n-f32", "tiny-gemma4-f32"])
    func splitDecodeMatchesWholeCall(model name: String) throws {
        let (model, tokens) = try Self.model(name, tokens: 1100)
        let whole = try model.forward(tokens, output: .logits(from: 0))
        model.reset()
        var decoded: [Float] = []
        for token in tokens { decoded += try model.forward([token], allLogits: false) }
        #expect(whole.count == decoded.count)
        let scale = whole.map(abs).max() ?? 0, worst = zip(whole, decoded).map { abs($0 - $1) }.max() ?? .infinity
        #expect(scale > 0 && worst <= 3e-5 * scale, "\(name): token-by-token logits \(worst) from the whole call's (largest logit \(scale))")
    }
}
