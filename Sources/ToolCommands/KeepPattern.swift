import ArgumentParser

/// The `--keep` and `--override` regular expressions, checked before use: a pattern must compile, stay short, and hold no quantified
/// group that itself contains a quantifier (`(a+)+`, `(x*)*`): matching such a pattern against a long tensor name can
/// take exponential time, so it is refused as a usage error instead.
enum KeepPattern {
    /// The longest pattern accepted.
    static let maxLength = 256

    static func validate(_ pattern: String, option: String = "--keep") throws {
        guard pattern.count <= maxLength else { throw ValidationError("\(option) pattern is longer than \(maxLength) characters") }
        do { _ = try Regex(pattern) } catch {
            throw ValidationError("\(option) pattern \"\(pattern)\" is not a valid regular expression")
        }
        if hasNestedQuantifier(pattern) {
            throw ValidationError("\(option) pattern \"\(pattern)\" repeats a group that itself repeats (such as (a+)+): "
                                  + "matching it can take exponential time; write it without the nested repetition")
        }
    }

    /// Whether a group containing a quantifier is itself quantified.
    static func hasNestedQuantifier(_ pattern: String) -> Bool {
        var stack: [Bool] = []  // per open group: whether it contains a quantifier
        var escaped = false, inClass = false
        let characters = Array(pattern)
        for (index, character) in characters.enumerated() {
            if escaped { escaped = false; continue }
            switch character {
            case "\\": escaped = true
            case "[": inClass = true
            case "]": inClass = false
            case "(" where !inClass: stack.append(false)
            case ")" where !inClass:
                let quantifiedInside = stack.popLast() ?? false
                let next = index + 1 < characters.count ? characters[index + 1] : " "
                if quantifiedInside && "*+?{".contains(next) { return true }
                if quantifiedInside, !stack.isEmpty { stack[stack.count - 1] = true }
            case "*", "+", "{":
                if !inClass, !stack.isEmpty { stack[stack.count - 1] = true }
            default: break
            }
        }
        return false
    }
}
