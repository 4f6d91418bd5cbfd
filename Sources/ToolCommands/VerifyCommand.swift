import ArgumentParser
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
            With --text FILE the text is scored as llama.cpp's perplexity tool scores it: chunks of --context tokens, \
            each starting with BOS, the second half of each chunk scored; each model's perplexity is reported beside \
            the KLD figures, every figure with its uncertainty.
            With --reference-logits FILE.npy (float32 [tokens, vocab]) only one model is run and compared with them.
            Exit status: 0 when every threshold holds (or none was given), 1 when one fails (each failure is named) or \
            the input is bad, 64 for usage errors.
            """)

    @Argument(help: "The original model (or, with --reference-logits, the model to check).")
    var reference: String

    @Argument(help: "The converted model.")
    var candidate: String?

    @Option(help: "Text to run (tokenized with the reference model's own tokenizer).")
    var prompt: String?

    @Option(help: "Token ids to run, comma separated (e.g. 2,818,5279).")
    var tokens: String?

    @Option(help: "A text file to score in chunks, as llama.cpp's perplexity tool does.")
    var text: String?

    @Option(help: "With --text: tokens per chunk.")
    var context = 512

    @Option(help: "With --text: score at most this many chunks (default: as many as the text holds).")
    var chunks: Int?

    @Option(help: "Logits another tool saved for --tokens: NumPy float32 [tokens, vocab].")
    var referenceLogits: String?

    @OptionGroup var thresholds: VerifyThresholds

    @Option(help: "Also generate this many tokens from each model and show the text (greedy unless --temperature).") var generate = 0
    @Option(help: "Sample --generate tokens at this temperature (0: greedy).") var temperature: Float = 0
    @Option(help: "Sample only from this many most likely tokens.") var topK: Int?
    @Option(help: "Sample only from the most likely tokens whose probabilities add up to this (0-1).") var topP: Float?
    @Option(help: "Seed of the sampler: the same seed gives the same samples.") var seed: UInt64 = 0
    @Option(help: "Activation rounding of both runs: f32 (the default; 'exact' is accepted too) or llama.cpp (as its CPU backend rounds them).")
    var numerics: Numerics = .float32
    @Flag(help: "Skip the per-tensor weight comparison.") var noWeights = false
    @Option(help: "Save REFERENCE's logits as NumPy float32 [tokens, vocab], to compare in another framework.")
    var saveLogits: String?
    @OptionGroup var outputOptions: OutputOptions

    package init() {}

    /// The most tokens a run holds (prompt and generated): what a KV cache and the logits are sized for.
    static let maxTokens = 131_072

    package func validate() throws {
        if [prompt != nil, tokens != nil, text != nil].filter({ $0 }).count > 1 { throw ValidationError("give one of --prompt, --tokens and --text") }
        if referenceLogits != nil {
            if candidate != nil { throw ValidationError("--reference-logits compares one model; drop CANDIDATE") }
            if tokens == nil { throw ValidationError("--reference-logits needs --tokens naming the ids the logits belong to") }
        } else if candidate == nil {
            throw ValidationError("give CANDIDATE, or --reference-logits with --tokens")
        }
        if let tokens, Self.parseTokens(tokens) == nil { throw ValidationError("--tokens must be comma-separated non-negative integers") }
        if text != nil {
            if !(4...Self.maxTokens).contains(context) { throw ValidationError("--context must be between 4 and \(Self.maxTokens)") }
            if let chunks, chunks < 1 { throw ValidationError("--chunks must be at least 1") }
            if generate > 0 || saveLogits != nil { throw ValidationError("--text scores a text; --generate and --save-logits go with --prompt or --tokens") }
            if thresholds.minCosine != nil || thresholds.maxAbsDiff != nil {
                throw ValidationError("--min-cosine and --max-abs-diff compare whole logit rows; with --text gate on --max-kld, --max-p99-kld or --min-top1")
            }
        } else if chunks != nil || context != 512 {
            throw ValidationError("--context and --chunks go with --text")
        }
        try thresholds.validate()
        if !(0...Self.maxTokens).contains(generate) { throw ValidationError("--generate must be between 0 and \(Self.maxTokens)") }
        if !temperature.isFinite || temperature < 0 { throw ValidationError("--temperature must be a finite number, 0 or more") }
        if let topP, !(topP > 0 && topP <= 1) { throw ValidationError("--top-p is a fraction in (0, 1]") }
        if let topK, topK < 1 { throw ValidationError("--top-k must be at least 1") }
    }

    /// Comma-separated non-negative integers (no empty entries), or nil.
    static func parseTokens(_ text: String) -> [Int]? {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false).map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !parts.isEmpty, parts.count <= maxTokens else { return nil }
        return parts.allSatisfy({ ($0 ?? -1) >= 0 }) ? parts.compactMap { $0 } : nil
    }

    package func run() throws {
        let referenceSource = try ModelSources.open(reference)
        if let text {
            try runText(referenceSource, textPath: text)
        } else {
            try runTokens(referenceSource)
        }
    }

    /// Prints `report` (as JSON or text) and exits 1 naming each failed threshold.
    func finish<Report: Encodable>(_ report: Report, text: String, failures: [String]) throws {
        print(outputOptions.json ? try Formatting.json(report) : text)
        if !failures.isEmpty {
            for failure in failures { StandardError.line("error: \(failure)") }
            throw ExitCode.failure
        }
    }

    /// The verdict line of a text report.
    func verdict(_ failures: [String]) -> String {
        if !failures.isEmpty { return "verdict: FAIL (\(failures.count) threshold\(failures.count == 1 ? "" : "s"))" }
        return thresholds.isEmpty ? "verdict: none (no thresholds given: --max-kld, --max-p99-kld, --min-top1, --min-cosine, --max-abs-diff gate)"
            : "verdict: PASS"
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
