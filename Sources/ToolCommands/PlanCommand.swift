import ArgumentParser
import ByteIO
import Conversion
import Foundation
import GemmaInference
import Planning
import SourceAdapters
import TensorModel
import Verification

/// `lpk-plan`: what must stay in RAM and what can stay in storage, per recipe, at which cost; and, given a text, how
/// sensitive each part of the model is to its bits.
package struct PlanCommand: ParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "lpk-plan",
        abstract: "Plan where a model's bytes live (RAM or storage) under each recipe, what a token reads, and how far a lookup table can grow.",
        discussion: """
            For the model under every preset (or the recipes given): the bytes that must stay resident (core matrices, \
            output head, norms, the KV cache at --context, working buffers) and the bytes that can stay in storage (the \
            per-layer embedding table, read one record per token); bytes and pages one token reads from storage at 4 KiB \
            and 16 KiB pages; the decode cost split between weights streamed from memory and table reads from storage; \
            and how large the table could grow before its cold reads take --storage-share of decode time, on this \
            machine (measured) or on the device the --memory-bandwidth, --storage-latency-us and --storage-bandwidth \
            flags describe.
            With --text FILE each recipe is also built (in memory) and scored against the model as stored over the \
            text (mean KLD, as lpk-verify --text). With --sensitivity FILE: the KLD when each class alone, and each \
            layer's core alone, is stored at each of --settings, and the ablations (each layer's table slice zeroed, the \
            whole table zeroed). --svg writes a chart of the same figures.
            """)

    @Argument(help: "The model (safetensors file or directory, GGUF, or pack).")
    var model: String

    @Option(help: "Plan this preset (repeatable; default: the model as stored and every preset).")
    var preset: [String] = []
    @Option(help: "Plan this recipe JSON file (repeatable).")
    var recipe: [String] = []
    @Option(help: "Tokens of context the KV cache is sized for.") var context = 2048
    @Option(help: "Tokens per prefill batch the working buffers are sized for.") var batch = 128
    @Option(help: "Share of decode time cold table reads may take in the projection (0-1).") var storageShare = 0.1
    @Option(help: "Another device's memory read bandwidth, GB/s (default: measured here).") var memoryBandwidth: Double?
    @Option(help: "Another device's random 4 KiB read latency from storage, microseconds (default: measured here).")
    var storageLatencyUs: Double?
    @Option(help: "Another device's sequential storage read bandwidth, GB/s (default: measured here).") var storageBandwidth: Double?
    @Option(help: "Where to measure storage (a 64 MiB scratch file is written and removed; default: the model's directory).")
    var probeDirectory: String?
    @Option(help: "Score each recipe over this text (KLD against the model as stored).") var text: String?
    @Option(help: "Measure sensitivities over this text: each class and each layer at each of --settings, and PLE ablations.")
    var sensitivity: String?
    @Option(help: "Settings the sensitivity measurement tries, comma separated.") var settings = "int8:g32,int4:g32,int4:g64,int2:g32"
    @Flag(help: "With --sensitivity: skip the per-layer measurements.") var noLayers = false
    @Option(help: "With --text or --sensitivity: tokens per chunk.") var evalContext = 512
    @Option(help: "With --text or --sensitivity: chunks to score.") var evalChunks = 1
    @Option(help: "With --text or --sensitivity: scale rounding of the tried recipes (nearest or scale-search).")
    var rounding: Recipe.Rounding = .scaleSearch
    @Option(help: "Write an SVG chart: size against KLD per recipe (with --text), or the sensitivities (with --sensitivity).")
    var svg: String?
    @OptionGroup var outputOptions: OutputOptions

    package init() {}

    package func validate() throws {
        for name in preset where Recipe.presets[name] == nil {
            throw ValidationError("unknown preset '\(name)' (known: \(Recipe.presets.keys.sorted().joined(separator: ", ")))")
        }
        if !(1...VerifyCommand.maxTokens).contains(context) { throw ValidationError("--context must be between 1 and \(VerifyCommand.maxTokens)") }
        if !(1...VerifyCommand.maxTokens).contains(batch) { throw ValidationError("--batch must be between 1 and \(VerifyCommand.maxTokens)") }
        if !(storageShare > 0 && storageShare < 1) { throw ValidationError("--storage-share is a fraction in (0, 1)") }
        for (name, value) in [("--memory-bandwidth", memoryBandwidth), ("--storage-latency-us", storageLatencyUs), ("--storage-bandwidth", storageBandwidth)] {
            if let value, !(value.isFinite && value > 0) { throw ValidationError("\(name) must be a positive number") }
        }
        if !(4...VerifyCommand.maxTokens).contains(evalContext) { throw ValidationError("--eval-context must be between 4 and \(VerifyCommand.maxTokens)") }
        if !(1...1024).contains(evalChunks) { throw ValidationError("--eval-chunks must be between 1 and 1024") }
        if rounding == .gptq { throw ValidationError("--rounding gptq needs a calibration; lpk-plan tries nearest or scale-search") }
        if SettingList.parse(settings) == nil { throw ValidationError("--settings takes comma-separated settings such as int8:g32,int4:g64,int2:g32") }
        if svg != nil && text == nil && sensitivity == nil { throw ValidationError("--svg charts what --text or --sensitivity measures; give one") }
        if text != nil && sensitivity != nil { throw ValidationError("give --text or --sensitivity, not both (run twice)") }
    }

    /// The recipes to plan, labelled.
    func recipes() throws -> [(label: String, recipe: Recipe?)] {
        var result: [(String, Recipe?)] = []
        for path in recipe { result.append(((path as NSString).lastPathComponent, try Recipe.decode(json: try MappedFile(path: path).bytes.array, file: path))) }
        for name in preset { result.append((name, Recipe.presets[name]!)) }
        if result.isEmpty {
            result = [("as stored", nil)] + Recipe.presetList.filter { $0.name != "lossless" }.map { ($0.name, $0.recipe) }
        }
        return result
    }

    package func run() throws {
        let runtimeBytes = Self.residentBytesNow()
        let source = try ModelSources.open(model)
        if let sensitivity {
            try runSensitivity(source, textPath: sensitivity)
            return
        }
        let device = try deviceProfile()
        var rows: [PlanReport.Row] = []
        let probe = try text.map { try makeProbe(source, textPath: $0) }
        let bar = ProgressBar(label: "scoring", quiet: outputOptions.quiet || probe == nil)
        let planned = try recipes()
        for (index, (label, recipe)) in planned.enumerated() {
            let plan = try ResidencyPlan(source: source, recipe: recipe, label: label, contextTokens: context, batchTokens: batch,
                                         runtimeBytes: runtimeBytes)
            var row = PlanReport.Row(plan: plan, cost: DecodeCost(plan: plan, device: device, allowedShare: storageShare))
            if let probe {
                let candidate: any TensorSource = try recipe.map { try QuantizedView(source, recipe: $0.withRounding(rounding)) } ?? source
                let summary = try probe.evaluate(candidate)
                row.meanKLD = summary.meanKLD.value
                row.sameTop = summary.sameTop.value
            }
            rows.append(row)
            bar.update(index + 1, planned.count, label)
        }
        let report = PlanReport(model: model, architecture: source.configuration?.architecture.rawValue ?? "?", device: device,
                                contextTokens: context, storageShare: storageShare, text: text, rows: rows)
        if let svg {
            let points = rows.compactMap { row in row.meanKLD.map { SVGChart.Point(label: row.plan.recipe, x: Double(row.plan.tensorBytes) / 1e6, y: max($0, 1e-7)) } }
            try writeSVG(SVGChart.scatter(points, title: "\((model as NSString).lastPathComponent): size against KLD", xLabel: "tensor bytes (MB)",
                                          yLabel: "mean KLD over \((text! as NSString).lastPathComponent)"), to: svg, inputs: source.inputFiles)
        }
        print(outputOptions.json ? try Formatting.json(report) : report.rendered())
    }

    /// This process's resident memory now (`VmRSS` of /proc/self/status), 0 where the system does not say.
    static func residentBytesNow() -> Int {
        guard let handle = FileHandle(forReadingAtPath: "/proc/self/status") else { return 0 }
        let text = String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
        for line in text.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            return (line.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0) * 1024
        }
        return 0
    }

    /// The device figures: measured here, each replaced by the flag that gives it.
    func deviceProfile() throws -> DeviceProfile {
        if let memoryBandwidth, let storageLatencyUs, let storageBandwidth {
            return DeviceProfile(memoryBytesPerSecond: memoryBandwidth * 1e9, storageLatencySeconds: storageLatencyUs * 1e-6,
                                 storageBytesPerSecond: storageBandwidth * 1e9, origin: "given")
        }
        let directory = probeDirectory ?? (FileSystem.isDirectory(model) ? model : FileSystem.parent(of: model))
        var device = try DeviceProfile.measure(directory: directory)
        if let memoryBandwidth { device.memoryBytesPerSecond = memoryBandwidth * 1e9 }
        if let storageLatencyUs { device.storageLatencySeconds = storageLatencyUs * 1e-6 }
        if let storageBandwidth { device.storageBytesPerSecond = storageBandwidth * 1e9 }
        if memoryBandwidth != nil || storageLatencyUs != nil || storageBandwidth != nil { device.origin += ", some figures given" }
        return device
    }

    /// The model run once over the chunks of `textPath`, its logits kept to score recipes against.
    func makeProbe(_ source: any TensorSource, textPath: String) throws -> KLDProbe {
        try KLDProbe(reference: source, chunks: TextChunks.reading(textPath, for: source, context: evalContext, limit: evalChunks,
                                                                   option: "--eval-context").chunks)
    }

    func runSensitivity(_ source: any TensorSource, textPath: String) throws {
        let probe = try makeProbe(source, textPath: textPath)
        let bar = ProgressBar(label: "measuring", quiet: outputOptions.quiet)
        let measurement = SensitivityMeasurement(source: source, probe: probe, rounding: rounding)
        let report = try measurement.report(settings: SettingList.parse(settings)!, perLayer: !noLayers, textName: textPath, progress: bar.update)
        if let svg {
            let bars = (report.classes + report.layers + report.ablations).map { (label: "\($0.scope) \($0.setting)", value: max($0.meanKLD, 1e-7)) }
            try writeSVG(SVGChart.bars(bars, title: "\((model as NSString).lastPathComponent): KLD when one part alone changes",
                                       valueLabel: "mean KLD over \((textPath as NSString).lastPathComponent)"), to: svg, inputs: source.inputFiles)
        }
        print(outputOptions.json ? try Formatting.json(report) : report.rendered())
    }

    func writeSVG(_ svg: String, to path: String, inputs: [String]) throws {
        try OutputGuard.check(path, inputs: inputs)
        let writer = try AtomicFileWriter(destination: path)
        try writer.write(Array(svg.utf8))
        try writer.commit()
    }
}

extension Recipe {
    /// This recipe with `rounding` in place of GPTQ (which needs a calibration) or of its own.
    func withRounding(_ rounding: Recipe.Rounding) -> Recipe {
        var copy = self
        copy.rounding = rounding
        return copy
    }
}
