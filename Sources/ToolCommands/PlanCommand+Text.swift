import Foundation
import Planning
import Verification

/// What `lpk-plan` reports (schema version 1).
struct PlanReport: Encodable {
    /// One recipe's plan and cost (and, with --text, its KLD).
    struct Row: Encodable {
        let plan: ResidencyPlan
        let cost: DecodeCost
        var meanKLD: Double?
        var sameTop: Double?
    }

    var schemaVersion = 1
    let model: String
    let architecture: String
    let device: DeviceProfile
    let contextTokens: Int
    let storageShare: Double
    let text: String?
    let rows: [Row]

    func rendered() -> String {
        let d = device
        var lines = [
            "\(model) (\(architecture)); KV cache for \(contextTokens) tokens",
            String(format: "device (%@): memory %.1f GB/s; storage %.0f µs per random 4 KiB read, %.2f GB/s sequential",
                   d.origin, d.memoryBytesPerSecond / 1e9, d.storageLatencySeconds * 1e6, d.storageBytesPerSecond / 1e9),
            "",
        ]
        var table = [["recipe", "file", "resident", "storage", "streamed/token", "table/token", "pages 4K", "pages 16K", "cold share",
                      "table max at \(Int((storageShare * 100).rounded()))%"] + (text == nil ? [] : ["KLD"])]
        for row in rows {
            let p = row.plan, c = row.cost
            let pages = p.lookupPages.map { String(format: "%.2f", $0.pagesPerToken) }
            var cells = [p.recipe, Formatting.bytes(p.tensorBytes), Formatting.bytes(p.residentBytes), Formatting.bytes(p.storageBytes),
                         Formatting.bytes(p.streamedWeightBytesPerToken + p.kvBytesPerToken), Formatting.bytes(p.lookupBytesPerToken),
                         pages[0], pages[1], p.lookupBytesPerToken == 0 ? "-" : String(format: "%.2f%%", c.storageShare * 100),
                         p.lookupRows == 0 ? "-" : Formatting.bytes(Int(min(c.maxTableBytes, 9e18)))]
            if text != nil { cells.append(row.meanKLD.map { String(format: "%.5f", $0) } ?? "-") }
            table.append(cells)
        }
        lines.append(Formatting.table(table, rightAligned: Set(1..<table[0].count)))
        if let first = rows.first {
            lines.append("")
            lines.append("where the bytes of '\(first.plan.recipe)' live:")
            lines.append(Formatting.table(first.plan.parts.map { [$0.name, Formatting.bytes($0.bytes), $0.placement] }, rightAligned: [1]))
            if first.plan.lookupRows > 0 {
                lines.append(String(format: "a token streams %@ from memory (%.2f ms) and reads %@ of table records (%.2f pages of 4 KiB; cold: %.3f ms);",
                                    Formatting.bytes(first.plan.streamedWeightBytesPerToken + first.plan.kvBytesPerToken),
                                    first.cost.memorySeconds * 1e3, Formatting.bytes(first.plan.lookupBytesPerToken),
                                    first.plan.lookupPages[0].pagesPerToken, first.cost.storageSeconds * 1e3))
                lines.append(String(format: "cold reads could take %.0f%% of decode time with a table of %@ (%.1f× this one).",
                                    storageShare * 100, Formatting.bytes(Int(min(first.cost.maxTableBytes, 9e18))), first.cost.growth))
            }
        }
        return lines.joined(separator: "\n")
    }
}

extension SensitivityReport {
    func rendered() -> String {
        var lines = ["\(model): KLD over \(text) (\(scoredTokens) scored tokens), one part changed at a time, \(rounding) scales", ""]
        func table(_ entries: [Entry]) -> String {
            Formatting.table([["scope", "setting", "bytes", "mean KLD", "±", "same top"]] + entries.map {
                [$0.scope, $0.setting, $0.setting == "ablation" ? "-" : Formatting.bytes($0.bytes), String(format: "%.6f", $0.meanKLD),
                 String(format: "%.6f", $0.uncertainty), String(format: "%.1f%%", $0.sameTop * 100)]
            }, rightAligned: [2, 3, 4, 5])
        }
        lines.append(table(classes))
        if !layers.isEmpty { lines += ["", "per layer (its core matrices only):", table(layers)] }
        if !ablations.isEmpty { lines += ["", "how much the model leans on its table:", table(ablations)] }
        return lines.joined(separator: "\n")
    }
}

extension BudgetSearch.Result {
    func rendered(reached: TextEvaluation.Summary, budget: String) -> String {
        let settings = choices.sorted { $0.key.localizedStandardCompare($1.key) == .orderedAscending }.map { "\($0.key) \($0.value)" }
        return [
            "budget \(budget): " + settings.joined(separator: ", "),
            String(format: "predicted KLD %.6f (sum of the parts), in memory %.6f ± %.6f after %d search%@; the written pack: %.6f ± %.6f, same top %.1f%%",
                   predictedKLD, measuredKLD, measuredUncertainty, attempts, attempts == 1 ? "" : "es",
                   reached.meanKLD.value, reached.meanKLD.uncertainty, reached.sameTop.value * 100),
        ].joined(separator: "\n")
    }
}
