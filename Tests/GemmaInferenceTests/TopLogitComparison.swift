import Conversion
import Foundation
import GemmaInference
import SourceAdapters
import StrictJSON
import TensorModel
import TestSupport
import Testing

/// Our logits of a passage against a peer's fixture of it, where each position holds the peer's full-vocabulary
/// `logsumexp`, its 256 highest `top_ids` and their `top_logits` (Fixtures/llama, Fixtures/transformers).
struct TopLogitComparison {
    /// Positions where our highest logit is the peer's.
    var agreements = 0
    /// Mean over positions of KL(peer ‖ ours) over the peer's top tokens, the rest of the mass lumped into one bucket.
    var meanKLD = 0.0
    /// The largest |our logit − the peer's| over every position's top tokens.
    var largestDifference = 0.0

    /// Compares `logits` (`positions.count × vocabulary`, row i predicting token i + 1) with the fixture's positions.
    init(_ logits: [Float], vocabulary: Int, positions: [JSONValue]) throws {
        var divergence = 0.0
        for (index, entry) in positions.enumerated() {
            let object = try #require(entry.objectValue)
            let ids = object["top_ids"]?.arrayValue?.compactMap { $0.intValue } ?? []
            let referenceLogits = object["top_logits"]?.arrayValue?.compactMap { $0.doubleValue } ?? []
            let referenceLogSum = try #require(object["logsumexp"]?.doubleValue)
            try #require(!ids.isEmpty && ids.count == referenceLogits.count)
            let row = logits[(index * vocabulary)..<((index + 1) * vocabulary)]
            let maximum = Double(row.max()!)
            let logSum = maximum + log(row.reduce(0.0) { $0 + exp(Double($1) - maximum) })
            if row.indices.max(by: { row[$0] < row[$1] })! - row.startIndex == ids[0] { agreements += 1 }
            var kld = 0.0, referenceMass = 0.0, ourMass = 0.0
            for (id, value) in zip(ids, referenceLogits) {
                let ours = Double(row[row.startIndex + id])
                let p = exp(value - referenceLogSum), q = exp(ours - logSum)
                kld += p * (log(p) - log(q))
                referenceMass += p
                ourMass += q
                largestDifference = max(largestDifference, abs(ours - value))
            }
            let tailP = max(1e-12, 1 - referenceMass), tailQ = max(1e-12, 1 - ourMass)
            kld += tailP * log(tailP / tailQ)
            divergence += kld
        }
        meanKLD = divergence / Double(max(1, positions.count))
    }
}

extension TopLogitComparison {
    /// The real Gemma 3 270M's logits of a fixture's passage (`tokens`, one forward) against the fixture's `positions`,
    /// with the fixture itself (for tests that carry `Fixtures.needsRealGemma3`).
    static func realGemma3(against fixture: String) throws -> (TopLogitComparison, JSONObject) {
        let path = try Fixtures.requireRealGemma3()
        let object = try #require(try Fixtures.json(fixture).objectValue)
        let tokens = object["tokens"]?.arrayValue?.compactMap { $0.intValue } ?? []
        let positions = try #require(object["positions"]?.arrayValue)
        try #require(tokens.count >= 128 && positions.count == tokens.count)
        let model = try ModelRegistry.model(for: try ModelSources.open(path), contextLength: tokens.count)
        let logits = try model.forward(tokens, allLogits: true)
        return (try TopLogitComparison(logits, vocabulary: model.configuration.vocabularySize, positions: positions), object)
    }
}
