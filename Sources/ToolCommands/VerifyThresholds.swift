import ArgumentParser
import Foundation

/// The thresholds that make `lpk-verify` a gate.
package struct VerifyThresholds: ParsableArguments {
    @Option(help: "Fail when the mean KL divergence exceeds this.") var maxKld: Double?
    @Option(help: "Fail when the 99th-percentile KL divergence exceeds this.") var maxP99Kld: Double?
    @Option(help: "Fail when fewer positions than this fraction (0-1) agree on the top token.") var minTop1: Double?
    @Option(help: "Fail when the mean logit cosine is below this.") var minCosine: Double?
    @Option(help: "Fail when any logit differs by more than this.") var maxAbsDiff: Double?

    package init() {}

    /// Whether no threshold was given (the run then reports without a verdict).
    var isEmpty: Bool { [maxKld, maxP99Kld, minTop1, minCosine, maxAbsDiff].allSatisfy { $0 == nil } }

    package func validate() throws {
        for (name, value) in [("--max-kld", maxKld), ("--max-p99-kld", maxP99Kld), ("--min-top1", minTop1), ("--min-cosine", minCosine),
                              ("--max-abs-diff", maxAbsDiff)] {
            if let value, !value.isFinite { throw ValidationError("\(name) must be a finite number, not \(value)") }
        }
        if let minTop1, !(0...1).contains(minTop1) { throw ValidationError("--min-top1 is a fraction between 0 and 1") }
        if let minCosine, !(-1...1).contains(minCosine) { throw ValidationError("--min-cosine is between -1 and 1") }
        for (name, value) in [("--max-kld", maxKld), ("--max-p99-kld", maxP99Kld), ("--max-abs-diff", maxAbsDiff)] {
            if let value, value < 0 { throw ValidationError("\(name) cannot be negative") }
        }
    }

    /// The failed thresholds, in words. A figure that is not finite (NaN or infinite logits) fails every threshold
    /// that reads it.
    func failures(meanKLD: Double, p99KLD: Double, top1: Double, cosine: Double?, maxAbsDiff difference: Double?) -> [String] {
        var failures: [String] = []
        func check(_ limit: Double?, _ value: Double?, _ exceeds: (Double, Double) -> Bool, _ text: (Double, Double) -> String) {
            guard let limit, let value else { return }
            if !value.isFinite || exceeds(value, limit) { failures.append(text(value, limit)) }
        }
        check(maxKld, meanKLD, >) { String(format: "mean KLD %.6f exceeds --max-kld %g", $0, $1) }
        check(maxP99Kld, p99KLD, >) { String(format: "p99 KLD %.6f exceeds --max-p99-kld %g", $0, $1) }
        check(minTop1, top1, <) { String(format: "same top token %.2f%% is below --min-top1 %.2f%%", $0 * 100, $1 * 100) }
        check(minCosine, cosine, <) { String(format: "logit cosine %.6f is below --min-cosine %g", $0, $1) }
        check(maxAbsDiff, difference, >) { String(format: "max |Δlogit| %.6f exceeds --max-abs-diff %g", $0, $1) }
        return failures
    }
}
