extension Recipe {
    /// The longest `keep` or `overrides` pattern accepted.
    public static let maxPatternLength = 256

    /// Why a tensor-name pattern is refused, or nil when it may be used: it must compile, stay short, and hold no
    /// quantified group that itself contains a quantifier (`(a+)+`, `(x*)*`), since matching such a pattern against a
    /// long tensor name can take exponential time.
    public static func patternProblem(_ pattern: String) -> String? {
        guard pattern.count <= maxPatternLength else { return "is longer than \(maxPatternLength) characters" }
        do { _ = try Regex(pattern) } catch { return "is not a valid regular expression" }
        if hasNestedQuantifier(pattern) {
            return "repeats a group that itself repeats (such as (a+)+): matching it can take exponential time; "
                + "write it without the nested repetition"
        }
        return nil
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
