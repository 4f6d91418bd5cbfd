import Conversion
import Foundation
import Quantization
import TensorModel

extension PackConverter.Report {
    /// The human summary of a conversion: sizes, time, and error by tensor class.
    func rendered() -> String {
        var lines = ["\(source) → \(destination)",
                     "\(Formatting.bytes(sourceBytes)) → \(Formatting.bytes(packBytes)) "
                        + "(\(Formatting.percent(packBytes, of: sourceBytes)) of the source) in \(String(format: "%.2f", seconds)) s"]
        var rows = [["ROLE", "TENSORS", "STORED AS", "BYTES", "BITS/WEIGHT", "REL. RMSE", "COSINE"]]
        let grouped = Dictionary(grouping: tensors, by: \.role)
        for role in grouped.keys.sorted() {
            let group = grouped[role]!
            let bytes = group.reduce(0) { $0 + $1.bytesAfter }
            let elements = group.reduce(0) { $0 + $1.elements }
            var metrics: ErrorMetricsSummary?
            for tensor in group { if let error = tensor.error { metrics = (metrics ?? .init()).adding(error) } }
            let kinds = Set(group.map(\.to)).sorted().joined(separator: ",")
            rows.append([role.rawValue, String(group.count), kinds, Formatting.bytes(bytes),
                         elements == 0 ? "-" : String(format: "%.2f", Double(bytes * 8) / Double(elements)),
                         metrics.map { String(format: "%.4f", $0.total.relativeRMSE) } ?? "exact",
                         metrics.map { String(format: "%.6f", $0.total.cosine) } ?? "1"])
        }
        lines.append(Formatting.table(rows, rightAligned: [1, 3, 4, 5, 6]))
        let notes = Dictionary(grouping: tensors.filter { $0.note != nil }, by: { $0.note! })
        for note in notes.keys.sorted() {
            let names = notes[note]!.map(\.name)
            lines.append("note: \(names.count) tensor\(names.count == 1 ? "" : "s") \(note) (\(names.prefix(3).joined(separator: ", "))\(names.count > 3 ? ", …" : ""))")
        }
        return lines.joined(separator: "\n")
    }
}

/// Error metrics merged over a group of tensors.
struct ErrorMetricsSummary {
    var total = ErrorMetrics()
    func adding(_ metrics: ErrorMetrics) -> ErrorMetricsSummary {
        var copy = self
        copy.total.merge(metrics)
        return copy
    }
}
