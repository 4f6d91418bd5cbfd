import ArgumentParser
import Conversion
import Foundation
import GemmaInference
import SourceAdapters
import TensorModel
import Verification

/// `lpk-verify`: run the reference inference on the original and the converted model and gate on how far apart
/// their next-token distributions are.
package struct VerifyCommand: ParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "lpk-verify",
        abstract: "Compare a converted model with its original (or with saved logits) and exit 1 past thresholds.",
        discussion: """
            Both models run LayerPack's reference inference on the same tokens; the report gives what llama.cpp's \
            --kl-divergence gives (mean, median, p99 and max KL divergence, same top token) plus logit cosine and a \
            per-role table of weight error. REFERENCE and CANDIDATE can be any mix of safetensors, GGUF and pack.
            With --reference-logits FILE.npy (float32 [tokens, vocab]) only one model is run and compared with them.
            Exit status: 0 when every threshold holds, 1 when one fails (each failure is named), 64 for usage errors.
            """)

    @Argument(help: "The original model (or, with --reference-logits, the model to check).")
    var reference: String

    @Argument(help: "The converted model.")
    var candidate: String?

    @Option(help: "Text to run (tokenized with the model's own tokenizer).")
    var prompt: String?

    @Option(help: "Token ids to run, comma separated (e.g. 2,818,5279).")
    var tokens: String?

    @Option(help: "Logits another tool saved for --tokens: NumPy float32 [tokens, vocab].")
    var referenceLogits: String?

    @Option(help: "Fail when the mean KL divergence exceeds this.") var maxKld: Double?
    @Option(help: "Fail when the 99th-percentile KL divergence exceeds this.") var maxP99Kld: Double?
    @Option(help: "Fail when fewer positions than this fraction (0-1) agree on the top token.") var minTop1: Double?
    @Option(help: "Fail when the mean logit cosine is below this.") var minCosine: Double?
    @Option(help: "Fail when any logit differs by more than this (with --reference-logits).") var maxAbsDiff: Double?
    @Option(help: "Also generate this many tokens from each model and show the text (greedy unless --temperature).") var generate = 0
    @Option(help: "Sample --generate tokens at this temperature (0: greedy).") var temperature: Float = 0
    @Option(help: "Sample only from this many most likely tokens.") var topK: Int?
    @Option(help: "Sample only from the most likely tokens whose probabilities add up to this (0-1).") var topP: Float?
    @Option(help: "Seed of the sampler: the same seed gives the same samples.") var seed: UInt64 = 0
    @Option(help: "Activation rounding of both runs: exact (f32 throughout) or llama.cpp (as llama.cpp's CPU backend rounds them).")
    var numerics: Numerics = .float32
    @Flag(help: "Skip the per-tensor weight comparison.") var noWeights = false
    @Option(help: "Save REFERENCE's logits as NumPy float32 [tokens, vocab], to compare in another framework.")
    var saveLogits: String?
    @OptionGroup var outputOptions: OutputOptions

    package init() {}

    package func validate() throws {
        if prompt != nil && tokens != nil { throw ValidationError("give --prompt or --tokens, not both") }
        if referenceLogits != nil {
            if candidate != nil { throw ValidationError("--reference-logits compares one model; drop CANDIDATE") }
            if tokens == nil { throw ValidationError("--reference-logits needs --tokens naming the ids the logits belong to") }
        } else if candidate == nil {
            throw ValidationError("give CANDIDATE, or --reference-logits with --tokens")
        }
        if let tokens, Self.parseTokens(tokens) == nil { throw ValidationError("--tokens must be comma-separated non-negative integers") }
        if let minTop1, !(0...1).contains(minTop1) { throw ValidationError("--min-top1 is a fraction between 0 and 1") }
        if temperature < 0 { throw ValidationError("--temperature must be 0 or more") }
        if let topP, !(topP > 0 && topP <= 1) { throw ValidationError("--top-p is a fraction in (0, 1]") }
        if let topK, topK < 1 { throw ValidationError("--top-k must be at least 1") }
    }

    static func parseTokens(_ text: String) -> [Int]? {
        let parts = text.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !parts.isEmpty, parts.allSatisfy({ ($0 ?? -1) >= 0 }) else { return nil }
        return parts.map { $0! }
    }

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

    package func run() throws {
        let referenceSource = try ModelSources.open(reference)
        let ids = try resolveTokens(referenceSource)
        let referenceRun = try Self.run(referenceSource, ids, generate: generate, sampler: sampler, numerics: numerics)
        var report = VerifyReport(reference: reference, candidate: candidate ?? referenceLogits!, tokens: ids.count,
                                  numerics: numerics.rawValue)
        report.referenceSpeed = referenceRun.tokensPerSecond
        report.referenceContinuation = referenceRun.continuation
        if let saveLogits {
            try NumpyArray.write(referenceRun.logits, shape: [ids.count, referenceRun.vocabulary], to: saveLogits)
        }
        if let referenceLogits {
            let saved = try NumpyArray(path: referenceLogits)
            let vocabulary = referenceRun.vocabulary
            guard saved.shape == [ids.count, vocabulary] else {
                throw ValidationError("\(referenceLogits) has shape \(saved.shape), expected [\(ids.count), \(vocabulary)]")
            }
            report.logits = LogitComparison(reference: saved.values, candidate: referenceRun.logits, vocabulary: vocabulary)
        } else if let candidate {
            let candidateSource = try ModelSources.open(candidate)
            let candidateRun = try Self.run(candidateSource, ids, generate: generate, sampler: sampler, numerics: numerics)
            guard candidateRun.vocabulary == referenceRun.vocabulary else {
                throw ValidationError("vocabularies differ: \(referenceRun.vocabulary) vs \(candidateRun.vocabulary)")
            }
            report.candidateSpeed = candidateRun.tokensPerSecond
            report.candidateContinuation = candidateRun.continuation
            report.logits = LogitComparison(reference: referenceRun.logits, candidate: candidateRun.logits, vocabulary: referenceRun.vocabulary)
            if !noWeights { report.weights = try WeightComparison(reference: referenceSource, candidate: candidateSource) }
            report.sizes = [referenceSource.fileBytes, candidateSource.fileBytes]
        }
        report.failures = thresholdFailures(report.logits!)
        if outputOptions.json {
            print(try Formatting.json(report))
        } else {
            print(report.rendered())
        }
        if !report.failures.isEmpty {
            for failure in report.failures { StandardError.line("error: \(failure)") }
            throw ExitCode.failure
        }
    }

    private func resolveTokens(_ source: any TensorSource) throws -> [Int] {
        if let tokens { return Self.parseTokens(tokens)! }
        let tokenizer = try SentencePieceTokenizer.from(source: source)
        return tokenizer.encode(prompt ?? Self.defaultText)
    }

    private func thresholdFailures(_ logits: LogitComparison) -> [String] {
        var failures: [String] = []
        if let maxKld, logits.meanKLD > maxKld { failures.append(String(format: "mean KLD %.6f exceeds --max-kld %g", logits.meanKLD, maxKld)) }
        if let maxP99Kld, logits.p99KLD > maxP99Kld { failures.append(String(format: "p99 KLD %.6f exceeds --max-p99-kld %g", logits.p99KLD, maxP99Kld)) }
        if let minTop1, logits.top1Agreement < minTop1 {
            failures.append(String(format: "same top token %.2f%% is below --min-top1 %.2f%%", logits.top1Agreement * 100, minTop1 * 100))
        }
        if let minCosine, logits.meanLogitCosine < minCosine {
            failures.append(String(format: "logit cosine %.6f is below --min-cosine %g", logits.meanLogitCosine, minCosine))
        }
        if let maxAbsDiff, logits.maxAbsoluteDifference > maxAbsDiff {
            failures.append(String(format: "max |Δlogit| %.6f exceeds --max-abs-diff %g", logits.maxAbsoluteDifference, maxAbsDiff))
        }
        return failures
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

extension Numerics: ExpressibleByArgument {
    /// `f32` or `llama.cpp`; `exact`, the name versions before 0.2 used for `f32`, is accepted too.
    public init?(argument: String) {
        if argument == "exact" {
            self = .float32
        } else {
            self.init(rawValue: argument)
        }
    }

    public static var allValueStrings: [String] { allCases.map(\.rawValue) }
}

/// What `lpk-verify` reports (schema version 1).
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

    func rendered() -> String {
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
        if let weights, !weights.roles.isEmpty {
            var rows = [["ROLE", "TENSORS", "REL. RMSE", "COSINE"]]
            for role in weights.roles {
                rows.append([role.role.rawValue, String(role.tensors), String(format: "%.5f", role.relativeRMSE), String(format: "%.6f", role.cosine)])
            }
            lines.append("weights:\n" + Formatting.table(rows, rightAligned: [1, 2, 3]))
            if !weights.unmatched.isEmpty { lines.append("(\(weights.unmatched.count) tensors have no counterpart and were not compared)") }
        }
        lines.append(failures.isEmpty ? "verdict: PASS" : "verdict: FAIL (\(failures.count) threshold\(failures.count == 1 ? "" : "s"))")
        return lines.joined(separator: "\n")
    }
}
