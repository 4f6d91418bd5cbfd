// Fuzz targets for LayerPack's parsers. Built two ways:
// - `make fuzz`: with `-sanitize=fuzzer,address -DFUZZING`, libFuzzer drives `LLVMFuzzerTestOneInput`;
//   LPK_FUZZ_TARGET picks the parser (gguf, safetensors, index, pack, json, recipe, lpkz, tokenizer) or the
//   configuration-to-inference path (config-model, gguf-model, pack-model: the input becomes a model's config.json,
//   GGUF or pack, a model is built from it and, when that succeeds, runs three tokens).
// - normally: `lpk-fuzz TARGET FILE…` replays inputs (the regression corpus in Fixtures/fuzz).
import ByteIO
import Conversion
import Foundation
import GemmaInference
import GGUFFormat
import PackFormat
import SafetensorsFormat
import SourceAdapters
import StrictJSON
import TensorModel
import TensorTypes

/// Runs one input through one parser; every outcome but a crash, hang or leak is fine.
func exercise(_ target: String, _ bytes: [UInt8]) {
    let file = MappedFile(bytes: bytes, name: "fuzz-input")
    switch target {
    case "gguf":
        if let gguf = try? GGUFFile(file: file) {
            try? gguf.validateAll()
            for tensor in gguf.tensors.prefix(8) where tensor.elementCount <= 1 << 16 { _ = try? gguf.floats(tensor) }
        }
    case "safetensors":
        if let safetensors = try? SafetensorsFile(file: file) {
            for tensor in safetensors.tensors.prefix(8) where tensor.shape.elementCount <= 1 << 16 { _ = try? safetensors.floats(tensor) }
        }
    case "index":
        // A sharded checkpoint's index, read from a scratch directory (the shards it names do not exist).
        let directory = NSTemporaryDirectory() + "lpk-fuzz-index-\(getpid())"
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: directory + "/model.safetensors.index.json", contents: Data(bytes))
        _ = try? SafetensorsCheckpoint(path: directory + "/model.safetensors.index.json")
        try? FileManager.default.removeItem(atPath: directory)
    case "pack":
        if let pack = try? PackReader(file: file, companionPath: nil) {
            _ = pack.verify()
            _ = try? PackMetadata.decode(pack.metadataBytes)
        }
    case "json":
        _ = try? JSONParser.parse(bytes)
    case "tokenizer":
        // A Hugging Face tokenizer.json; when it loads, encode and decode a text full of edge cases.
        if let tokenizer = try? SentencePieceTokenizer.from(tokenizerJSON: file.bytes, name: "fuzz-input") {
            _ = tokenizer.decode(tokenizer.encode("Hello  wörld <bos>\t\n😀 \u{0}", addBOS: true, parseSpecial: true))
        }
    case "recipe":
        _ = try? Recipe.decode(json: bytes, file: "fuzz-input")
    case "lpkz":
        let directory = NSTemporaryDirectory() + "lpk-fuzz-\(getpid())"
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let input = directory + "/in.lpkz"
        _ = FileManager.default.createFile(atPath: input, contents: Data(bytes))
        try? CompressedPack.decompress(input, to: directory + "/out.lpk")
        try? FileManager.default.removeItem(atPath: directory)
    case "config-model":
        // The input is config.json beside real weights: the tiny model of the family it names.
        let text = String(decoding: bytes, as: UTF8.self)
        let family = text.contains("gemma3n") ? "tiny-gemma3n-f32" : text.contains("gemma4") ? "tiny-gemma4-f32" : "tiny-gemma3-f32"
        inScratch(["config.json": bytes], linking: ["model.safetensors": fixtures + "/models/\(family)/model.safetensors"]) {
            runModel(try SafetensorsSource(path: $0))
        }
    case "gguf-model":
        inScratch(["model.gguf": bytes]) { runModel(try GGUFSource(path: $0 + "/model.gguf")) }
    case "pack-model":
        inScratch(["model.lpk": bytes]) { runModel(try PackSource(path: $0 + "/model.lpk")) }
    default:
        fatalError("unknown fuzz target \(target): \(targets)")
    }
}

let targets = "gguf, safetensors, index, pack, json, recipe, lpkz, tokenizer, config-model, gguf-model, pack-model"

/// Where the model targets find the tiny models' weights (run from the repository root, or set LPK_FIXTURES).
let fixtures = ProcessInfo.processInfo.environment["LPK_FIXTURES"] ?? "Fixtures"

/// Builds the model `source` describes with a context of 8 tokens and runs 3; errors are fine, crashes are not.
func runModel(_ source: @autoclosure () throws -> any TensorSource) {
    guard let source = try? source(), let model = try? ModelRegistry.model(for: source, contextLength: 8) else { return }
    let vocabulary = model.configuration.vocabularySize
    _ = try? model.forward([1, 2 % vocabulary, vocabulary - 1], output: .logits(from: 0))
}

/// Runs `body` on a scratch directory holding `files` (and links to `linking`), removed afterwards.
func inScratch(_ files: [String: [UInt8]], linking links: [String: String] = [:], _ body: (String) throws -> Void) {
    let directory = NSTemporaryDirectory() + "lpk-fuzz-model-\(getpid())"
    try? FileManager.default.removeItem(atPath: directory)
    try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    for (name, bytes) in files { _ = FileManager.default.createFile(atPath: directory + "/" + name, contents: Data(bytes)) }
    for (name, target) in links {
        try? FileManager.default.createSymbolicLink(atPath: directory + "/" + name,
                                                    withDestinationPath: FileManager.default.currentDirectoryPath + "/" + target)
    }
    try? body(directory)
    try? FileManager.default.removeItem(atPath: directory)
}

#if FUZZING
let fuzzTarget = ProcessInfo.processInfo.environment["LPK_FUZZ_TARGET"] ?? "gguf"

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    exercise(fuzzTarget, data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? [])
    return 0
}

/// libFuzzer's entry for programs that keep their own `main` (SwiftPM names an executable's main `lpk_fuzz_main`).
@_silgen_name("LLVMFuzzerRunDriver")
func runFuzzerDriver(
    _ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

@_cdecl("lpk_fuzz_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var count = argc
    var vector = argv
    return runFuzzerDriver(&count, &vector) { data, size in fuzzOneInput(data, size) }
}
#else
@main
struct Replay {
    static func main() throws {
        let arguments = CommandLine.arguments.dropFirst()
        guard let target = arguments.first else {
            print("usage: lpk-fuzz TARGET FILE…   (targets: \(targets))")
            exit(64)
        }
        for path in arguments.dropFirst() {
            exercise(target, Array(try Data(contentsOf: URL(fileURLWithPath: path))))
        }
        print("replayed \(arguments.count - 1) inputs through \(target) without a crash")
    }
}
#endif
