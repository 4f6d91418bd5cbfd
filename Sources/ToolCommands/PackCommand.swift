import ArgumentParser
import ByteIO
import Conversion
import Foundation
import PackFormat
import SourceAdapters
import TensorModel
import TensorTypes

/// `lpk-pack`: change containers and layout, never values — lossless import, PLE split, zstd, export.
package struct PackCommand: ParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "lpk-pack",
        abstract: "Repack a model without changing its values: import, split the PLE table, compress, export.",
        discussion: """
            The output's extension picks the operation:
              OUT.lpk          lossless import of a safetensors/GGUF/pack source (or decompression of a .lpkz)
              OUT.lpkz         --compress zstd: the compressed transfer form of a pack (floats byte-grouped)
              OUT.safetensors  export, dequantized to --dtype (f32, f16 or bf16), with config.json and tokenizer files beside it
              OUT.safetensors --mlx  an MLX-LM checkpoint: int8/int4 rows in groups of 32/64/128 as MLX affine groups (exact)
              OUT.gguf         export: int8 rows as Q8_0, int4 rows as Q4_0, ggml blocks verbatim (--dequantize: other rows as F32)
            """)

    @Argument(help: "The model to repack (safetensors file or directory, GGUF, pack, or .lpkz).")
    var source: String

    @Option(name: .shortAndLong, help: "The file to write (.lpk, .lpkz, .safetensors or .gguf).")
    var output: String

    @Flag(help: "Write the per-layer embedding table to a companion OUTPUT.ple file.")
    var splitPle = false

    /// The codecs `--compress` knows.
    enum Codec: String, ExpressibleByArgument, CaseIterable {
        case zstd
    }

    /// The element types a safetensors export writes.
    enum ExportDType: String, ExpressibleByArgument, CaseIterable {
        case f32, f16, bf16

        var dtype: DType {
            switch self {
            case .f32: .f32
            case .f16: .f16
            case .bf16: .bf16
            }
        }
    }

    @Option(help: "Compress with this codec into a .lpkz file.")
    var compress: Codec?

    @Option(help: "With --compress: the zstd level (1-19, default 3).")
    var level: Int32?

    @Option(help: "With a .safetensors output: the element type (default f32).")
    var dtype: ExportDType?

    @Flag(help: "With a .safetensors output: write an MLX-LM checkpoint, grouped int8/int4 rows as MLX's affine quantization.")
    var mlx = false

    @Flag(help: "With a .gguf output: write rows no ggml type holds exactly (int4 g64, …) as F32 values instead of refusing.")
    var dequantize = false

    @OptionGroup var outputOptions: OutputOptions

    package init() {}

    enum Target { case pack, compressed, safetensors, gguf }

    var target: Target {
        if output.hasSuffix(".lpkz") || compress != nil { return .compressed }
        if output.hasSuffix(".safetensors") { return .safetensors }
        if output.hasSuffix(".gguf") { return .gguf }
        return .pack
    }

    package func validate() throws {
        if compress != nil && !output.hasSuffix(".lpkz") { throw ValidationError("--compress writes a .lpkz file; name the output OUT.lpkz") }
        if let level, !(1...19).contains(level) { throw ValidationError("--level must be between 1 and 19") }
        if level != nil && target != .compressed { throw ValidationError("--level sets zstd's level: it goes with --compress zstd and a .lpkz output") }
        if dequantize && target != .gguf { throw ValidationError("--dequantize goes with a .gguf output") }
        if mlx && target != .safetensors { throw ValidationError("--mlx writes an MLX-LM checkpoint: name the output DIR/model.safetensors") }
        if mlx && dtype != nil { throw ValidationError("--mlx keeps each tensor's own numbers; --dtype does not apply") }
        if dtype != nil && target != .safetensors { throw ValidationError("--dtype sets a safetensors export's element type: it goes with a .safetensors output") }
        if splitPle && (target == .safetensors || target == .gguf) {
            throw ValidationError("--split-ple lays out a pack: it goes with a .lpk (or .lpkz) output")
        }
    }

    package func run() throws {
        let bar = ProgressBar(label: "packing", quiet: outputOptions.quiet)
        if Self.isCompressedPack(source) {
            guard target == .pack else { throw ValidationError("a .lpkz decompresses to a .lpk; export from that pack") }
            try CompressedPack.decompress(source, to: output)
            try report(Decompression(source: source, output: output, bytes: try MappedFile(path: output).count))
            return
        }
        let model = try ModelSources.open(source)
        switch target {
        case .pack:
            let result = try PackConverter.convert(model, to: output, options: .init(recipe: nil, splitPLE: splitPle, progress: bar.update))
            if outputOptions.json {
                print(try Formatting.json(result))
            } else {
                print(result.rendered())
            }
        case .compressed:
            // Compress a pack directly; any other source is imported losslessly first, through a temporary pack.
            var packPath = source
            var temporary: String?
            if !model.format.isPack {
                let path = FileSystem.parent(of: output) + "/.lpk-import-\(ProcessInfo.processInfo.processIdentifier).lpk"
                _ = try PackConverter.convert(model, to: path, options: .init(recipe: nil, splitPLE: splitPle, progress: bar.update))
                packPath = path
                temporary = path
            }
            defer {
                if let temporary {
                    unlink(temporary)
                    unlink(temporary + ".ple")
                }
            }
            let statistics = try CompressedPack.compress(packPath: packPath, to: output, level: level ?? 3)
            if outputOptions.json {
                print(try Formatting.json(statistics))
            } else {
                print("\(packPath) → \(output)")
                print(Formatting.table([
                    ["DATA", "BYTES", "COMPRESSED", "RATIO"],
                    ["float tensors (byte-grouped)", Formatting.bytes(statistics.floatBytes), Formatting.bytes(statistics.floatCompressed),
                     Formatting.percent(statistics.floatCompressed, of: statistics.floatBytes)],
                    ["everything else", Formatting.bytes(statistics.otherBytes), Formatting.bytes(statistics.otherCompressed),
                     Formatting.percent(statistics.otherCompressed, of: statistics.otherBytes)],
                    ["total", Formatting.bytes(statistics.totalBytes), Formatting.bytes(statistics.totalCompressed),
                     Formatting.percent(statistics.totalCompressed, of: statistics.totalBytes)],
                ], rightAligned: [1, 2, 3]))
            }
        case .safetensors:
            if mlx {
                try reportExport(try Exporter.exportMLX(model, to: output))
                return
            }
            let entries = try Exporter.exportSafetensors(model, to: output, dtype: (dtype ?? .f32).dtype)
            let companions = try Exporter.writeCompanionFiles(of: model, besideExport: output)
            try reportExport(entries, companions: companions)
        case .gguf:
            try reportExport(try Exporter.exportGGUF(model, to: output, dequantize: dequantize))
        }
    }

    private func reportExport(_ entries: [Exporter.Entry], companions: [String] = []) throws {
        if outputOptions.json {
            struct Output: Encodable { var schemaVersion = 1; let output: String; let tensors: [Exporter.Entry]; let companionFiles: [String] }
            print(try Formatting.json(Output(output: output, tensors: entries, companionFiles: companions)))
            return
        }
        let conversions = Dictionary(grouping: entries) { "\($0.from) → \($0.to)" + ($0.exact ? "" : " (dequantized)") }
        print("\(source) → \(output): \(entries.count) tensors"
              + (companions.isEmpty ? "" : "; beside it " + companions.map { ($0 as NSString).lastPathComponent }.joined(separator: ", ")))
        print(Formatting.table([["CONVERSION", "TENSORS"]] + conversions.keys.sorted().map { [$0, String(conversions[$0]!.count)] },
                               rightAligned: [1]))
    }

    /// What a decompression reports.
    struct Decompression: Encodable {
        var schemaVersion = 1
        var operation = "decompress"
        let source: String
        let output: String
        let bytes: Int
    }

    private func report(_ result: Decompression) throws {
        if outputOptions.json {
            print(try Formatting.json(result))
        } else {
            print("\(result.source) → \(result.output) (\(Formatting.bytes(result.bytes)))")
        }
    }

    static func isCompressedPack(_ path: String) -> Bool {
        guard let file = try? MappedFile(path: path) else { return false }
        return file.bytes.slice(offset: 0, length: min(8, file.count))?.array == CompressedPack.magic
    }
}
