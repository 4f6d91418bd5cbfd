import GemmaInference
import TensorModel
import Verification

/// Scores candidate models against one reference over the chunks of a text, as `lpk-verify --text` does (llama.cpp's
/// perplexity rules: each chunk starts with BOS, its second half is scored), running the reference once: its logits at
/// the scored positions are kept, so each candidate costs one run of its own. Memory: scored positions × vocabulary
/// floats.
public final class KLDProbe {
    public let chunks: TextChunks
    public let contextTokens: Int
    private let vocabulary: Int
    /// Per chunk, the reference's logits at its scored positions (row after row).
    private let referenceRows: [[Float]]

    /// Runs `reference` over `chunks`.
    public init(reference: any TensorSource, chunks: TextChunks) throws {
        let model = try ModelRegistry.model(for: reference, contextLength: chunks.context)
        self.chunks = chunks
        contextTokens = chunks.context
        vocabulary = model.configuration.vocabularySize
        var rows: [[Float]] = []
        for chunk in chunks.chunks {
            var kept: [Float] = []
            try Self.scoredLogits(model, chunk: chunk, chunks: chunks) { logits, _, _ in kept.append(contentsOf: logits) }
            rows.append(kept)
        }
        referenceRows = rows
    }

    /// Scored positions in all.
    public var scoredTokens: Int { chunks.chunks.count * chunks.scoredPerChunk }

    /// Runs `candidate` (zeroing the PLE table slices of `ablatedLayers`, for models with a table) and compares it with
    /// the reference.
    public func evaluate(_ candidate: any TensorSource, ablatedLayers: Set<Int> = []) throws -> TextEvaluation.Summary {
        var model = try ModelRegistry.model(for: candidate, contextLength: contextTokens)
        guard model.configuration.vocabularySize == vocabulary else {
            throw TensorSourceError.invalidConfiguration(file: candidate.path, "its vocabulary differs from the reference's")
        }
        if !ablatedLayers.isEmpty {
            guard let withTable = model as? any PerLayerEmbeddingModel else {
                throw TensorSourceError.invalidConfiguration(file: candidate.path, "has no per-layer embedding table to ablate")
            }
            withTable.ablatedTableLayers = ablatedLayers
            model = withTable
        }
        var evaluation = TextEvaluation()
        for (index, chunk) in chunks.chunks.enumerated() {
            try referenceRows[index].withUnsafeBufferPointer { reference in
                try Self.scoredLogits(model, chunk: chunk, chunks: chunks) { logits, first, count in
                    logits.withUnsafeBufferPointer { ours in
                        let offset = (first - chunks.scoredFrom) * vocabulary
                        evaluation.add(reference: UnsafeBufferPointer(rebasing: reference[offset..<(offset + count * vocabulary)]),
                                       candidate: UnsafeBufferPointer(rebasing: ours[0..<(count * vocabulary)]),
                                       vocabulary: vocabulary, next: Array(chunk[(first + 1)...(first + count)]))
                    }
                }
            }
        }
        guard let summary = evaluation.summary else {
            throw InferenceError(.invalidRequest, path: candidate.path, "no scored position had finite logits in both models")
        }
        return summary
    }

    /// Runs `model` over one chunk: the first half without logits, then the scored positions in blocks of
    /// ``TextChunks/scoredBlock``, handing each block's logits, its first position and its length to `body`.
    static func scoredLogits(_ model: any CausalLanguageModel, chunk: [Int], chunks: TextChunks,
                             _ body: ([Float], Int, Int) throws -> Void) throws {
        model.reset()
        let prefix = Array(chunk[..<chunks.scoredFrom])
        _ = try model.forward(prefix, logitsFrom: prefix.count)
        var start = chunks.scoredFrom
        while start < chunks.context - 1 {
            let end = min(start + TextChunks.scoredBlock, chunks.context - 1)
            try body(try model.forward(Array(chunk[start..<end]), logitsFrom: 0), start, end - start)
            start = end
        }
    }
}
