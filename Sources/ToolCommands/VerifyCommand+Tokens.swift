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

    /// Runs both models (or one, against saved logits) over `--prompt`, `--tokens` or the built-in passage.
    func runTokens(_ referenceSource: any TensorSource) throws {
        let ids = try resolveTokens(referenceSource)
        let referenceRun = try Self.run(referenceSource, ids, generate: generate, sampler: sampler, numerics: numerics)
        var report = VerifyReport(reference: reference, candidate: candidate ?? referenceLogits!, tokens: ids.count,
                                  numerics: numerics.rawValue)
        report.referenceSpeed = referenceRun.tokensPerSecond
        report.referenceContinuation = referenceRun.continuation
        if let saveLogits {
            try OutputGuard.check(saveLogits, inputs: referenceSource.inputFiles + [candidate, referenceLogits].compactMap { $0 })
            try NumpyArray.write(referenceRun.logits, shape: [ids.count, referenceRun.vocabulary], to: saveLogits)
        }
        let logits: LogitComparison
        if let referenceLogits {
            let saved = try NumpyArray(path: referenceLogits)
            let vocabulary = referenceRun.vocabulary
            guard saved.shape == [ids.count, vocabulary] else {
                throw NumpyError(file: referenceLogits, offset: 0, message: "shape \(saved.shape), expected [\(ids.count), \(vocabulary)] for the tokens given")
            }
            logits = LogitComparison(reference: saved.values, candidate: referenceRun.logits, vocabulary: vocabulary)
        } else {
            let candidatePath = candidate!  // validate() requires CANDIDATE without --reference-logits
            let candidateSource = try ModelSources.open(candidatePath)
            let candidateRun = try Self.run(candidateSource, ids, generate: generate, sampler: sampler, numerics: numerics)
            guard candidateRun.vocabulary == referenceRun.vocabulary else {
                throw TensorSourceError.invalidConfiguration(
                    file: candidatePath, "its vocabulary of \(candidateRun.vocabulary) tokens differs from the reference's \(referenceRun.vocabulary)")
            }
            report.candidateSpeed = candidateRun.tokensPerSecond
            report.candidateContinuation = candidateRun.continuation
            logits = LogitComparison(reference: referenceRun.logits, candidate: candidateRun.logits, vocabulary: referenceRun.vocabulary)
            if !noWeights { report.weights = try WeightComparison(reference: referenceSource, candidate: candidateSource) }
            report.sizes = [referenceSource.fileBytes, candidateSource.fileBytes]
        }
        report.logits = logits
        report.failures = Self.nonFiniteFailures(reference: logits.nonFiniteReferenceLogits, candidate: logits.nonFiniteCandidateLogits)
            + thresholds.failures(meanKLD: logits.meanKLD, p99KLD: logits.p99KLD, top1: logits.top1Agreement,
                                  cosine: logits.meanLogitCosine, maxAbsDiff: logits.maxAbsoluteDifference)
        try finish(report, text: report.rendered(verdict: verdict(report.failures)), failures: report.failures)
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

    struct Run {
        let logits: [Float]
        let vocabulary: Int
        let tokensPerSecond: Double
        let continuation: String?
    }

    /// The sampler of `--generate`: greedy, or seeded sampling (each model starts from the same seed).
    var sampler: Sampler { Sampler(temperature: temperature, topK: topK, topP: topP, seed: seed) }

    /// Runs all tokens in one prefill, then optional generation.
    static func run(_ source: any TensorSource, _ ids: [Int], generate: Int, sampler: Sampler, numerics: Numerics) throws -> Run {
        let model = try ModelRegistry.model(for: source, contextLength: ids.count + generate + 1, numerics: numerics)
        let start = Date()
        let logits = try model.forward(ids, allLogits: true)
        let seconds = Date().timeIntervalSince(start)
        var continuation: String?
        if generate > 0 {
            var sampler = sampler
            let produced = try model.generate(continuing: logits, count: generate, sampler: &sampler)
            continuation = (try? SentencePieceTokenizer.from(source: source))?.decode(produced) ?? produced.map(String.init).joined(separator: ",")
        }
        return Run(logits: logits, vocabulary: model.configuration.vocabularySize,
                   tokensPerSecond: Double(ids.count) / max(seconds, 1e-9), continuation: continuation)
    }
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
