import ByteIO
import Foundation
import GemmaInference
import Quantization
import TensorModel

/// Statistics of every matrix's inputs over a calibration text, collected by running the source through the reference
/// inference: what `lpk-quantize --calibrate` quantizes with, and what `--save-imatrix` writes.
///
/// Matrices that multiply the same input (a layer's key and value beside its query, its up projection beside its gate)
/// share one set of statistics. The token embedding is looked up, not multiplied, but when it is tied it is also the
/// output head, whose inputs (the final normed hidden states) are collected for it. The PLE table has no inputs.
public struct Calibration: Sendable {
    /// The statistics of each matrix, by its name in the source.
    public let statistics: [String: InputStatistics]
    /// What the recipe records of the run.
    public let record: Recipe.Calibration

    public init(statistics: [String: InputStatistics], record: Recipe.Calibration) {
        self.statistics = statistics
        self.record = record
    }

    /// Runs `source` over `text` in chunks of `context` tokens (each starting with BOS, as llama.cpp's imatrix tool cuts
    /// them), at most `maxTokens` tokens, collecting Gram matrices too when `gram` is set.
    /// - Parameter progress: called with (chunks done, chunks).
    public static func collect(_ source: any TensorSource, text: String, textName: String, context: Int, maxTokens: Int,
                               gram: Bool, progress: ((Int, Int) -> Void)? = nil) throws -> Calibration {
        let tokenizer = try SentencePieceTokenizer.from(source: source)
        let tokens = tokenizer.encode(text)
        let chunkCount = min(tokens.count, maxTokens) / context
        guard chunkCount >= 1 else {
            throw TokenizerError(.invalidVocabulary, path: textName,
                                 "\(tokens.count) tokens do not fill one calibration chunk of \(context); give a longer text")
        }
        let model = try ModelRegistry.model(for: source, contextLength: context)
        var statistics: [String: InputStatistics] = [:]
        var representatives: [String: String] = [:]
        for matrix in model.matrices {
            let site = Self.site(of: matrix.name, among: Set(model.matrices.map(\.name)))
            representatives[matrix.name] = site
            if site == matrix.name {
                let collector = Collector(InputStatistics(columns: matrix.columns, collectsGram: gram))
                matrix.observer = collector
                statistics[matrix.name] = collector.statistics
            }
        }
        let headName = model.outputHead.name
        defer { for matrix in model.matrices { matrix.observer = nil } }
        for chunk in 0..<chunkCount {
            var ids = Array(tokens[(chunk * context)..<((chunk + 1) * context)])
            ids[0] = tokenizer.bosID
            model.reset()
            let states = try model.forward(ids, output: .finalStates)
            if let head = statistics[headName] {
                states.withUnsafeBufferPointer { head.add($0, count: ids.count) }
            }
            progress?(chunk + 1, chunkCount)
        }
        for (name, site) in representatives where name != site { statistics[name] = statistics[site] }
        var hasher = XXHash64()
        Array(text.utf8).withUnsafeBytes { hasher.update($0) }
        return Calibration(statistics: statistics, record: Recipe.Calibration(
            method: gram ? "gptq" : "importance", text: (textName as NSString).lastPathComponent,
            textXXH64: String(hasher.finalize(), radix: 16), tokens: chunkCount * context, context: context))
    }

    /// The matrix whose inputs `name`'s inputs are: a layer's query for its key and value, its gate for its up
    /// projection (when the source has them), else itself.
    static func site(of name: String, among names: Set<String>) -> String {
        guard case .layer(let layer, let part)? = GemmaWeight(tensorName: name) else { return name }
        let sibling: GemmaWeight.Layer? = switch part {
        case .key, .value: .query
        case .up: .gate
        default: nil
        }
        guard let sibling else { return name }
        return GemmaWeight.layer(layer, sibling).candidateNames.first(where: names.contains) ?? name
    }
}

/// Adds every product's inputs to one matrix's statistics.
private final class Collector: InputObserver {
    let statistics: InputStatistics
    init(_ statistics: InputStatistics) { self.statistics = statistics }
    func observe(_ inputs: UnsafeBufferPointer<Float>, count: Int) { statistics.add(inputs, count: count) }
}
