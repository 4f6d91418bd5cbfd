import ArgumentParser
import TensorModel

/// The `--keep` and `--override` regular expressions, checked before use (``Recipe/patternProblem(_:)``): a pattern
/// that could take exponential time to match, or does not compile, is a usage error.
enum KeepPattern {
    static func validate(_ pattern: String, option: String = "--keep") throws {
        if let problem = Recipe.patternProblem(pattern) { throw ValidationError("\(option) pattern \"\(pattern)\" \(problem)") }
    }
}
