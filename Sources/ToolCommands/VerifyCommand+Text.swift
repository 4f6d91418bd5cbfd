import ArgumentParser
import ByteIO
import Foundation
import GemmaInference
import SourceAdapters
import TensorModel
import Verification

extension VerifyCommand {
    /// Scores `--text` as llama.cpp's perplexity tool does, running both models chunk by chunk.
    func runText(_ referenceSource: any TensorSource, textPath: String) throws {
        let candidatePath = candidate!  // validate() requires CANDIDATE with --text
        let (plan, textTokens) = try TextChunks.reading(textPath, for: referenceSource, context: context, limit: chunks, option: "--context")
        let candidateSource = try ModelSources.open(candidatePath)
        let referenceModel = try ModelRegistry.model(for: referenceSource, contextLength: context, numerics: numerics)
        let candidateModel = try ModelRegistry.model(for: candidateSource, contextLength: context, numerics: numerics)
        guard referenceModel.configuration.vocabularySize == candidateModel.configuration.vocabularySize else {
            throw TensorSourceError.invalidConfiguration(file: candidatePath,
                "its vocabulary of \(candidateModel.configuration.vocabularySize) tokens differs from the reference's \(referenceModel.configuration.vocabularySize)")
        }
        let bar = ProgressBar(label: "scoring", quiet: outputOptions.quiet)
        let started = Date()
        let evaluation = try Self.evaluate(plan, reference: referenceModel, candidate: candidateModel) { done in
            bar.update(done, plan.chunks.count, "chunk \(done)")
        }
        let seconds = Date().timeIntervalSince(started)
        guard let summary = evaluation.summary else {
            throw InferenceError(.invalidRequest, path: candidatePath, "no position had finite logits in both models")
        }
        var report = TextReport(reference: reference, candidate: candidatePath, text: textPath, textTokens: textTokens,
                                context: context, chunks: plan.chunks.count, numerics: numerics.rawValue, evaluation: summary,
                                tokensPerSecond: Double(plan.chunks.count * plan.context) * 2 / max(seconds, 1e-9),
                                sizes: [referenceSource.fileBytes, candidateSource.fileBytes])
        if !noWeights { report.weights = try WeightComparison(reference: referenceSource, candidate: candidateSource) }
        report.failures = Self.nonFiniteFailures(reference: summary.nonFiniteReferenceLogits, candidate: summary.nonFiniteCandidateLogits)
            + thresholds.failures(meanKLD: summary.meanKLD.value, p99KLD: summary.p99KLD, top1: summary.sameTop.value, cosine: nil, maxAbsDiff: nil)
        try finish(report, text: report.rendered(verdict: verdict(report.failures)), failures: report.failures)
    }

    /// The text of `path`, which must be a regular file of UTF-8.
    static func readText(_ path: String) throws -> String {
        let bytes = try MappedFile(path: path).bytes.array
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw TokenizerError(.invalidVocabulary, path: path, "is not UTF-8 text")
        }
        return text
    }

    /// Runs both models over each chunk: the first half without logits, then the scored half in blocks whose logits
    /// are compared and dropped, so memory holds one block of logits per model, not a chunk's.
    static func evaluate(_ plan: TextChunks, reference: any CausalLanguageModel, candidate: any CausalLanguageModel,
                         progress: (Int) -> Void) throws -> TextEvaluation {
        var evaluation = TextEvaluation()
        let vocabulary = reference.configuration.vocabularySize
        for (index, chunk) in plan.chunks.enumerated() {
            reference.reset()
            candidate.reset()
            let prefix = Array(chunk[..<plan.scoredFrom])
            _ = try reference.forward(prefix, logitsFrom: prefix.count)
            _ = try candidate.forward(prefix, logitsFrom: prefix.count)
            var start = plan.scoredFrom
            while start < plan.context - 1 {
                let end = min(start + TextChunks.scoredBlock, plan.context - 1)
                let tokens = Array(chunk[start..<end])
                let ours = try reference.forward(tokens, logitsFrom: 0), theirs = try candidate.forward(tokens, logitsFrom: 0)
                ours.withUnsafeBufferPointer { r in
                    theirs.withUnsafeBufferPointer { c in
                        evaluation.add(reference: r, candidate: c, vocabulary: vocabulary, next: Array(chunk[(start + 1)...end]))
                    }
                }
                start = end
            }
            progress(index + 1)
        }
        return evaluation
    }
}

/// What `lpk-verify --text` reports (schema version 1).
struct TextReport: Encodable {
    var schemaVersion = 1
    let reference: String
    let candidate: String
    let text: String
    /// Tokens of the whole text.
    let textTokens: Int
    let context: Int
    let chunks: Int
    let numerics: String
    let evaluation: TextEvaluation.Summary
    /// Tokens run per second, both models together.
    let tokensPerSecond: Double
    let sizes: [Int]
    var weights: WeightComparison?
    var failures: [String] = []

    func rendered(verdict: String) -> String {
        let e = evaluation
        func estimate(_ x: TextEvaluation.Estimate, _ format: String, scale: Double = 1) -> String {
            String(format: format, x.value * scale) + " ± " + String(format: format, x.uncertainty * scale)
        }
        var lines = [
            "reference: \(reference)  (\(Formatting.bytes(sizes[0])), PPL \(estimate(e.referencePerplexity, "%.4f")))",
            "candidate: \(candidate)  (\(Formatting.bytes(sizes[1])), PPL \(estimate(e.candidatePerplexity, "%.4f")))",
            "\(text): \(textTokens) tokens; \(e.tokens) scored in \(chunks) chunk\(chunks == 1 ? "" : "s") of \(context) (\(numerics) numerics, "
                + String(format: "%.0f tokens/s)", tokensPerSecond),
            "ln(PPL(Q)/PPL(base)) \(estimate(e.logPerplexityRatio, "%.5f"))  (correlation "
                + String(format: "%.2f%%)", e.correlation * 100),
            "KLD mean \(estimate(e.meanKLD, "%.6f"))  median " + String(format: "%.6f  p90 %.6f  p99 %.6f  max %.6f", e.medianKLD, e.p90KLD, e.p99KLD, e.maxKLD),
            "same top token \(estimate(e.sameTop, "%.2f", scale: 100)) %  RMS Δp \(estimate(e.rmsDeltaP, "%.3f", scale: 100)) %",
        ]
        if e.nonFiniteReferenceLogits + e.nonFiniteCandidateLogits > 0 {
            lines.append("non-finite logits: reference \(e.nonFiniteReferenceLogits), candidate \(e.nonFiniteCandidateLogits)")
        }
        if let weights { lines += weights.renderedLines }
        lines.append(verdict)
        return lines.joined(separator: "\n")
    }
}
