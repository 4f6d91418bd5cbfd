import ArgumentParser
import GemmaInference
import SourceAdapters
import TensorModel
import TensorTypes

/// `lpk-inspect`: parse and validate a checkpoint, show its tensors, their roles and where the bytes go.
package struct InspectCommand: ParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "lpk-inspect",
        abstract: "Show what is inside a safetensors checkpoint, GGUF file or pack, and where the bytes go.",
        discussion: """
            PATH may be a .safetensors file, a sharded index (model.safetensors.index.json), a Hugging Face \
            model directory, a .gguf file, or a LayerPack .lpk pack (its companion .ple file is found beside it). \
            Shapes are row-major (outermost first) for every format.
            Exit status: 0 on success, 1 for bad input or a failed --check, 64 for usage errors.
            """)

    @Argument(help: "The checkpoint to inspect.")
    var path: String

    @Flag(help: "Print a JSON report (sorted keys, schemaVersion 1) instead of tables.")
    var json = false

    @Option(help: "Print the values of one tensor instead of the listing.")
    var tensor: String?

    @Option(help: "With --tensor: the rows to print, as A:B (default 0:4).")
    var rows: String?

    @Flag(help: "Decode every metadata value and every tensor; exit 1 if anything is wrong.")
    var check = false

    package init() {}

    package func validate() throws {
        if rows != nil && tensor == nil { throw ValidationError("--rows needs --tensor") }
        if let rows, Self.parseRows(rows) == nil { throw ValidationError("--rows must look like A:B with 0 ≤ A < B") }
    }

    static func parseRows(_ text: String) -> Range<Int>? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let low = Int(parts[0]), let high = Int(parts[1]), low >= 0, low < high else { return nil }
        return low..<high
    }

    package func run() throws {
        let source = try ModelSources.open(path)
        if let tensor {
            try printValues(of: tensor, in: source)
            return
        }
        let report = InspectReport(source: source)
        if json {
            print(try Formatting.json(report))
        } else {
            print(Self.render(report, source: source))
        }
        if check {
            var problems = source.deepCheck()
            if problems.isEmpty, let structure = Self.structuralProblem(source) { problems.append(structure) }
            for problem in problems { StandardError.line("error: \(problem)") }
            if !problems.isEmpty { throw ExitCode.failure }
            let built = source.configuration.map { " and the \($0.modelType) model they describe builds" } ?? ""
            StandardError.line("check: \(source.tensors.count) tensors and all metadata decoded without problems\(built)")
        }
    }

    /// Whether the configuration and the tensors agree: builds the reference model (one token of context), which
    /// checks every tensor the configuration implies exists with the shape it implies.
    static func structuralProblem(_ source: any TensorSource) -> String? {
        guard source.configuration != nil else { return nil }
        do { _ = try ModelRegistry.model(for: source, contextLength: 1) } catch { return "\(error)" }
        return nil
    }

    private func printValues(of name: String, in source: any TensorSource) throws {
        let descriptor = try source.descriptor(name)
        let requested = rows.flatMap(Self.parseRows) ?? 0..<min(4, descriptor.shape.rowCount)
        let values = try source.floats(name, rows: requested)
        let rowLength = descriptor.shape.rowLength
        if json {
            struct Values: Codable { var schemaVersion = 1; let tensor: String; let rows: [Int]; let rowLength: Int; let values: [[Float]] }
            let grouped = stride(from: 0, to: values.count, by: max(1, rowLength)).map { Array(values[$0..<min(values.count, $0 + rowLength)]) }
            print(try Formatting.json(Values(tensor: name, rows: [requested.lowerBound, requested.upperBound], rowLength: rowLength, values: grouped)))
            return
        }
        print("\(name)  \(descriptor.storage) \(descriptor.shape)  rows \(requested.lowerBound):\(requested.upperBound)")
        for (index, row) in requested.enumerated() {
            let slice = values[(index * rowLength)..<((index + 1) * rowLength)]
            print("[\(row)] " + slice.map { String($0) }.joined(separator: " "))
        }
    }

    static func render(_ report: InspectReport, source: any TensorSource) -> String {
        var lines: [String] = []
        lines.append("\(report.path)  (\(report.format), \(Formatting.bytes(report.fileBytes)), \(report.tensors.count) tensors)")
        if let c = report.configuration {
            var parts = ["architecture \(c.architecture.rawValue) (\(c.modelType))", "layers \(c.layerCount)", "hidden \(c.hiddenSize)",
                         "heads \(c.headCount)/\(c.keyValueHeadCount)", "head_dim \(c.headDimension)"
                            + (c.globalHeadDimension.map { " (full \($0))" } ?? ""),
                         "vocab \(c.vocabularySize)", "full-attention layers \(c.fullAttentionLayers)"]
            if let ple = c.perLayerInputSize {
                parts.append("per-layer input \(ple) × \(c.layerCount) layers")
            }
            if c.kvSharedLayerCount > 0 { parts.append("KV shared from layer \(c.firstKVSharedLayer)") }
            lines.append(parts.joined(separator: ", "))
        }
        lines.append("sections: " + report.sections.map { section in
            "\(section.name) \(Formatting.bytes(section.bytes))" + (section.file == report.path ? "" : " in \(section.file)")
        }.joined(separator: ", "))
        if !report.attachments.isEmpty {
            lines.append("attached files: " + report.attachments.map { "\($0.name) (\(Formatting.bytes($0.bytes)))" }.joined(separator: ", "))
        }
        if let provenance = report.provenance {
            if let recipe = provenance.recipe {
                lines.append("recipe: core \(recipe.core.rawValue), ple \(recipe.ple.rawValue), embed \(recipe.embed.rawValue)"
                    + (recipe.group.map { ", group \($0)" } ?? ", per-row scales") + ", rounding \(recipe.rounding.rawValue)"
                    + (recipe.keep.isEmpty ? "" : ", keep \(recipe.keep)"))
            } else {
                lines.append("recipe: none (lossless import)")
            }
            lines.append("made from: \(provenance.sourceFormat): "
                + provenance.sourceFiles.map { "\($0.name) (\(Formatting.bytes($0.bytes)), xxh64 \($0.xxh64))" }.joined(separator: ", ")
                + " by \(provenance.tool.name) \(provenance.tool.version)")
        }
        lines.append("")
        var rows = [["NAME", "ROLE", "TYPE", "SHAPE", "BYTES", "OFFSET"]]
        for t in report.tensors {
            rows.append([t.name, t.role, t.storage, "[" + t.shape.map(String.init).joined(separator: ", ") + "]",
                         Formatting.bytes(t.bytes), "0x" + String(t.offset, radix: 16)])
        }
        lines.append(Formatting.table(rows, rightAligned: [4, 5]))
        lines.append("")
        lines.append("By role:")
        var totals = [["ROLE", "TENSORS", "BYTES", "SHARE"]]
        for total in report.totals.sorted(by: { $0.bytes > $1.bytes }) {
            totals.append([total.role, String(total.tensors), Formatting.bytes(total.bytes), Formatting.percent(total.bytes, of: report.fileBytes)])
        }
        let tensorBytes = report.totals.reduce(0) { $0 + $1.bytes }
        totals.append(["headers, metadata, padding", "-", Formatting.bytes(report.fileBytes - tensorBytes),
                       Formatting.percent(report.fileBytes - tensorBytes, of: report.fileBytes)])
        lines.append(Formatting.table(totals, rightAligned: [1, 2, 3]))
        return lines.joined(separator: "\n")
    }
}
