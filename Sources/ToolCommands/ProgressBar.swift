/// A one-line progress bar on standard error, drawn only when standard error is a terminal.
package final class ProgressBar {
    private let enabled: Bool
    private let label: String

    package init(label: String, quiet: Bool) {
        self.label = label
        enabled = !quiet && StandardError.isTerminal
    }

    /// Redraws the bar for `done` of `total`, naming the item in hand.
    package func update(_ done: Int, _ total: Int, _ item: String) {
        guard enabled, total > 0 else { return }
        let width = 30
        let filled = width * done / total
        let bar = String(repeating: "#", count: filled) + String(repeating: " ", count: width - filled)
        StandardError.write("\r\(label) [\(bar)] \(done)/\(total) \(item.prefix(40))\u{1B}[K")
        if done == total { StandardError.write("\r\u{1B}[K") }
    }
}
