import ArgumentParser
import ByteIO
import Foundation
import GemmaInference
import SourceAdapters
import TensorModel
import Verification

extension VerifyCommand {
    /// A built-in passage of ordinary prose, long enough for 128+ tokens.
    static let defaultText = """
        The river had shaped the town long before anyone thought to write its history. Farmers settled along the \
        eastern bank in the twelfth century, drawn by the rich soil that the spring floods left behind, and within \
        a few generations a market grew up around the old stone bridge. Merchants came from the coast with salt and \
        cloth, and left with grain, wool and cheese. The guild records, kept in a small room above the town hall, \
        describe disputes over weights and measures, the cost of repairing the bridge after a hard winter, and the \
        arrival of the first printing press in 1492. Today the market still opens every Saturday morning, and the \
        bridge, rebuilt three times, carries more bicycles than carts. Visitors often ask why the church tower leans \
        slightly to the west; the answer, according to the local museum, is that its foundations were laid on a \
        buried channel of the river, which has never entirely stopped moving.
        """

    /// Runs both models (or one, against saved logits) over `--prompt`, `--tokens` or the built-in passage, a block of
    /// positions at a time (``TextChunks/scoredBlock``, as `--text` scores): each block's logits are compared (and,
    /// with `--save-logits`, written) before the next block runs, so a long prompt holds one block of logits per model.
    func runTokens(_ referenceSource: any TensorSource) throws {
        let ids = try resolveTokens(referenceSource)
        let capacity = ids.count + generate + 1
        let referenceModel = try ModelRegistry.model(for: referenceSource, contextLength: capacity, numerics: numerics)
        let vocabulary = referenceModel.configuration.vocabularySize
        var report = VerifyReport(reference: reference, candidate: candidate ?? referenceLogits!, tokens: ids.count,
                                  numerics: numerics.rawValue)
        // The other side: saved logits (then the model above is the one compared to them), or the candidate model.
        var saved: NumpyArray?, candidateSource: (any TensorSource)?, candidateModel: (any CausalLanguageModel)?
        if let referenceLogits {
            let array = try NumpyArray(path: referenceLogits)
            guard array.shape == [ids.count, vocabulary] else {
                throw NumpyError(file: referenceLogits, offset: 0, message: "shape \(array.shape), expected [\(ids.count), \(vocabulary)] for the tokens given")
            }
            saved = array
        } else {
            let candidatePath = candidate!  // validate() requires CANDIDATE without --reference-logits
            let source = try ModelSources.open(candidatePath)
            let model = try ModelRegistry.model(for: source, contextLength: capacity, numerics: numerics)
            guard model.configuration.vocabularySize == vocabulary else {
                throw TensorSourceError.invalidConfiguration(
                    file: candidatePath, "its vocabulary of \(model.configuration.vocabularySize) tokens differs from the reference's \(vocabulary)")
            }
            (candidateSource, candidateModel) = (source, model)
        }
        var logitsFile: NumpyArray.Writer?
        if let saveLogits {
            try OutputGuard.check(saveLogits, inputs: referenceSource.inputFiles + [candidate, referenceLogits].compactMap { $0 })
            logitsFile = try NumpyArray.Writer(path: saveLogits, shape: [ids.count, vocabulary])
        }
        var comparison = LogitComparison.Accumulator(vocabulary: vocabulary)
        var referenceSeconds = 0.0, candidateSeconds = 0.0
        var referenceLast: [Float] = [], candidateLast: [Float] = []
        for block in Self.blocks(ids.count) {
            let tokens = Array(ids[block])
            var start = Date()
            let rows = try referenceModel.forward(tokens, allLogits: true)
            referenceSeconds += Date().timeIntervalSince(start)
            try rows.withUnsafeBufferPointer { try logitsFile?.append($0) }
            referenceLast = Array(rows.suffix(vocabulary))  // the last position's, where --generate continues
            if let candidateModel {
                start = Date()
                let candidateRows = try candidateModel.forward(tokens, allLogits: true)
                candidateSeconds += Date().timeIntervalSince(start)
                rows.withUnsafeBufferPointer { r in candidateRows.withUnsafeBufferPointer { c in comparison.add(reference: r, candidate: c) } }
                candidateLast = Array(candidateRows.suffix(vocabulary))
            } else {
                // Saved logits are the reference; the model run here is the candidate.
                saved!.rows(block).withUnsafeBufferPointer { r in rows.withUnsafeBufferPointer { c in comparison.add(reference: r, candidate: c) } }
            }
        }
        try logitsFile?.commit()
        report.referenceSpeed = Double(ids.count) / max(referenceSeconds, 1e-9)
        report.referenceContinuation = try continuation(of: referenceModel, referenceSource, after: referenceLast)
        if let candidateModel, let candidateSource {
            report.candidateSpeed = Double(ids.count) / max(candidateSeconds, 1e-9)
            report.candidateContinuation = try continuation(of: candidateModel, candidateSource, after: candidateLast)
            if !noWeights { report.weights = try WeightComparison(reference: referenceSource, candidate: candidateSource) }
            report.sizes = [referenceSource.fileBytes, candidateSource.fileBytes]
        }
        let logits = comparison.comparison
        report.logits = logits
        report.failures = Self.nonFiniteFailures(reference: logits.nonFiniteReferenceLogits, candidate: logits.nonFiniteCandidateLogits)
            + thresholds.failures(meanKLD: logits.meanKLD, p99KLD: logits.p99KLD, top1: logits.top1Agreement,
                                  cosine: logits.meanLogitCosine, maxAbsDiff: logits.maxAbsoluteDifference)
        try finish(report, text: report.rendered(verdict: verdict(report.failures)), failures: report.failures)
    }

    /// The positions of a run of `count` tokens in blocks of at most ``TextChunks/scoredBlock``.
    static func blocks(_ count: Int) -> [Range<Int>] {
        stride(from: 0, to: count, by: TextChunks.scoredBlock).map { $0..<min(count, $0 + TextChunks.scoredBlock) }
    }

    /// `--generate` tokens from `model`, continuing from the last row of `logits` (its prompt's last logits), as text
    /// (token ids when the source has no tokenizer); nil without `--generate`.
    private func continuation(of model: any CausalLanguageModel, _ source: any TensorSource, after logits: [Float]) throws -> String? {
        guard generate > 0 else { return nil }
        var sampler = sampler
        let produced = try model.generate(continuing: logits, count: generate, sampler: &sampler)
        return (try? SentencePieceTokenizer.from(source: source))?.decode(produced) ?? produced.map(String.init).joined(separator: ",")
    }

    /// A model whose logits are NaN or infinite is broken: it fails whether or not thresholds were given.
    static func nonFiniteFailures(reference: Int, candidate: Int) -> [String] {
        var failures: [String] = []
        if reference > 0 { failures.append("\(reference) of the reference's logits are NaN or infinite") }
        if candidate > 0 { failures.append("\(candidate) of the candidate's logits are NaN or infinite") }
        return failures
    }

    private func resolveTokens(_ source: any TensorSource) throws -> [Int] {
        if let tokens { return Self.parseTokens(tokens)! }  // validate() checked them
        let tokenizer = try SentencePieceTokenizer.from(source: source)
        return tokenizer.encode(prompt ?? Self.defaultText)
    }

    /// The sampler of `--generate`: greedy, or seeded sampling (each model starts from the same seed).
    var sampler: Sampler { Sampler(temperature: temperature, topK: topK, topP: topP, seed: seed) }
}

/// What `lpk-verify` reports for a prompt or token ids (schema version 1).
struct VerifyReport: Encodable {
    var schemaVersion = 1
    let reference: String
    let candidate: String
    let tokens: Int
    /// The activation rounding both runs used (`f32` or `llama.cpp`).
    let numerics: String
    var sizes: [Int]?
    var logits: LogitComparison?
    var weights: WeightComparison?
    var referenceSpeed: Double?
    var candidateSpeed: Double?
    var referenceContinuation: String?
    var candidateContinuation: String?
    var failures: [String] = []

    func rendered(verdict: String) -> String {
        var lines = ["reference: \(reference)", "candidate: \(candidate)"]
        if let sizes { lines.append("size: \(Formatting.bytes(sizes[0])) → \(Formatting.bytes(sizes[1])) (\(Formatting.percent(sizes[1], of: sizes[0])))") }
        if let logits {
            lines.append("\(tokens) tokens (\(numerics) numerics): " + String(format: "KLD mean %.6f  median %.6f  p99 %.6f  max %.6f", logits.meanKLD, logits.medianKLD, logits.p99KLD, logits.maxKLD))
            lines.append(String(format: "same top token %.2f%%  logit cosine %.6f  RMS Δp %.4f  max |Δlogit| %.4f",
                                logits.top1Agreement * 100, logits.meanLogitCosine, logits.rmsDeltaP, logits.maxAbsoluteDifference))
        }
        if let referenceSpeed {
            lines.append(String(format: "prefill: reference %.1f tokens/s", referenceSpeed) + (candidateSpeed.map { String(format: ", candidate %.1f tokens/s", $0) } ?? ""))
        }
        if let referenceContinuation { lines.append("reference continues: \(referenceContinuation.debugDescription)") }
        if let candidateContinuation { lines.append("candidate continues: \(candidateContinuation.debugDescription)") }
        if let weights { lines += weights.renderedLines }
        lines.append(verdict)
        return lines.joined(separator: "\n")
    }
}

extension WeightComparison {
    /// The per-role weight error table, for text reports.
    var renderedLines: [String] {
        guard !roles.isEmpty else { return [] }
        var rows = [["ROLE", "TENSORS", "REL. RMSE", "COSINE"]]
        for role in roles {
            rows.append([role.role.rawValue, String(role.tensors), String(format: "%.5f", role.relativeRMSE), String(format: "%.6f", role.cosine)])
        }
        var lines = ["weights:\n" + Formatting.table(rows, rightAligned: [1, 2, 3])]
        if !unmatched.isEmpty { lines.append("(\(unmatched.count) tensors have no counterpart and were not compared)") }
        return lines
    }
}
