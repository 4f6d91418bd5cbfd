import ByteIO
import Foundation
import GGUFFormat
import Quantization
import TensorModel
import TensorTypes

/// llama.cpp's importance-matrix files, read and written: the GGUF form (`llama-imatrix`'s default since PR 9400:
/// `general.type = imatrix`, per weight `W.in_sum2` = Σ x² per input column and `W.counts` = tokens) and the legacy
/// `.dat` form (per weight its mean x² per column times the chunk count).
///
/// Entries carry llama.cpp's tensor names (`blk.12.ffn_down.weight`); reading maps them onto a source's own names
/// through ``GemmaWeight``, writing maps the other way, so a file from `llama-imatrix` quantizes a Hugging Face
/// checkpoint and a file LayerPack writes is accepted by `llama-quantize`.
public enum ImportanceMatrixFile {
    /// One weight's importance: Σ x² per input column over `tokens` tokens.
    public struct Entry: Sendable {
        public let sumSquares: [Float]
        public let tokens: Int
        /// Whether `tokens` counts chunks instead (legacy `.dat` files store mean squares times the chunk count and
        /// no token count).
        public var countsChunks = false
    }

    /// The entries of a file, by llama.cpp tensor name.
    /// - Throws: ``GGUFError`` for a damaged GGUF, ``ImportanceMatrixError`` for a damaged `.dat` or entries that
    ///   disagree with themselves.
    public static func read(_ path: String) throws -> [String: Entry] {
        let file = try MappedFile(path: path)
        if file.bytes.slice(offset: 0, length: min(4, file.count))?.array == Array("GGUF".utf8) {
            return try readGGUF(GGUFFile(file: file))
        }
        return try readLegacy(file)
    }

    private static func readGGUF(_ file: GGUFFile) throws -> [String: Entry] {
        func fail(_ key: String?, _ message: String) -> ImportanceMatrixError { ImportanceMatrixError(path: file.path, key: key, message: message) }
        guard file["general.type"]?.stringValue == "imatrix" else { throw fail("general.type", "this GGUF is not an importance matrix") }
        var entries: [String: Entry] = [:]
        for tensor in file.tensors where tensor.name.hasSuffix(".in_sum2") {
            let weight = String(tensor.name.dropLast(".in_sum2".count))
            let counts = try file.floats(try file.tensor(named: weight + ".counts"))
            let sums = try file.floats(tensor)
            guard counts.count == 1, let count = counts.first, count.isFinite, count >= 0 else {
                throw fail(weight + ".counts", "one count per dense weight expected (mixtures of experts are not read)")
            }
            guard sums.allSatisfy({ $0.isFinite && $0 >= 0 }) else { throw fail(tensor.name, "sums of squares must be finite and non-negative") }
            entries[weight] = Entry(sumSquares: sums, tokens: Int(count.rounded()))
        }
        return entries
    }

    /// `int32 n`; per entry `int32 length, name, int32 ncall, int32 nval, float[nval]` (mean x² × ncall); an optional
    /// trailer (last chunk, dataset name) follows.
    private static func readLegacy(_ file: MappedFile) throws -> [String: Entry] {
        var reader = ByteReader(file.bytes)
        func fail(_ message: String) -> ImportanceMatrixError {
            ImportanceMatrixError(path: file.path, key: nil, message: "at offset \(Hex(reader.fileOffset)): " + message)
        }
        func int() throws -> Int {
            do { return Int(try reader.read(Int32.self)) } catch { throw fail("truncated legacy importance matrix") }
        }
        let count = try int()
        guard count >= 1, count <= reader.remaining / 12 else { throw fail("entry count \(count) does not fit the file") }
        var entries: [String: Entry] = [:]
        for _ in 0..<count {
            let length = try int()
            guard length >= 1, length <= min(reader.remaining, 4096) else { throw fail("name length \(length)") }
            let nameBytes: [UInt8]
            do { nameBytes = try reader.readView(count: length).array } catch { throw fail("truncated name") }
            guard let name = String(validating: nameBytes, as: UTF8.self) else { throw fail("name is not UTF-8") }
            let calls = try int(), values = try int()
            guard calls >= 0, values >= 1, values <= reader.remaining / 4 else { throw fail("entry '\(name)': \(values) values do not fit the file") }
            let view: ByteView
            do { view = try reader.readView(count: values * 4) } catch { throw fail("truncated values") }
            let means = view.withUnsafeBytes { raw in (0..<values).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self))) } }
            guard means.allSatisfy({ $0.isFinite && $0 >= 0 }) else { throw fail("entry '\(name)': values must be finite and non-negative") }
            // The values are mean x² times ncall: as sums over `calls` "tokens" they give the same mean.
            entries[name] = Entry(sumSquares: means, tokens: max(1, calls), countsChunks: true)
        }
        return entries
    }

    /// The statistics for `source`'s tensors found in `entries` (by llama.cpp name), as a calibration without Gram
    /// matrices; entries whose width disagrees with the tensor are refused by name.
    public static func calibration(_ entries: [String: Entry], for source: any TensorSource, file: String) throws -> Calibration {
        var statistics: [String: InputStatistics] = [:]
        for tensor in source.tensors {
            let candidates = [tensor.name] + (GemmaWeight(tensorName: tensor.name)?.ggufName.map { [$0] } ?? [])
            guard let entry = candidates.lazy.compactMap({ entries[$0] }).first else { continue }
            guard entry.sumSquares.count == tensor.shape.rowLength else {
                throw ImportanceMatrixError(path: file, key: tensor.name,
                                            message: "\(entry.sumSquares.count) columns, but the tensor's rows have \(tensor.shape.rowLength)")
            }
            let tokens = max(1, entry.tokens)
            statistics[tensor.name] = InputStatistics(importance: entry.sumSquares.map { $0 / Float(tokens) }, tokens: tokens)
        }
        guard !statistics.isEmpty else {
            throw ImportanceMatrixError(path: file, key: nil, message: "no entry names a tensor of \(source.path)")
        }
        var hasher = XXHash64()
        try MappedFile(path: file).bytes.withUnsafeBytes { hasher.update($0) }
        return Calibration(statistics: statistics, record: Recipe.Calibration(
            method: "imatrix", text: (file as NSString).lastPathComponent, textXXH64: String(hasher.finalize(), radix: 16),
            tokens: entries.values.contains(where: \.countsChunks) ? 0 : statistics.values.map(\.tokens).max() ?? 0, context: 0))
    }

    /// Writes `calibration` as a GGUF importance matrix under llama.cpp's tensor names (weights it cannot name are left
    /// out, as are tables without inputs), atomically.
    /// - Returns: the number of entries written.
    @discardableResult
    public static func write(_ calibration: Calibration, to path: String, dataset: String) throws -> Int {
        var entries: [(name: String, statistics: InputStatistics)] = []
        for (name, statistics) in calibration.statistics {
            guard let weight = GemmaWeight(tensorName: name), let gguf = weight.ggufName, statistics.tokens > 0 else { continue }
            if case .tokenEmbedding = weight { continue }  // llama.cpp collects none for the embedding (looked up)
            entries.append((gguf, statistics))
        }
        entries.sort { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
        let metadata: [(String, GGUFValue)] = [
            ("general.type", .string("imatrix")),
            ("imatrix.datasets", .array(GGUFArray(of: .string, [.string(dataset)]))),
            ("imatrix.chunk_count", .uint32(UInt32(calibration.record.context > 0 ? calibration.record.tokens / calibration.record.context : 1))),
            ("imatrix.chunk_size", .uint32(UInt32(max(1, calibration.record.context)))),
        ]
        var tensors: [GGUFWriter.Tensor] = []
        var data: [[Float]] = []
        for (name, statistics) in entries {
            tensors.append(GGUFWriter.Tensor(name: name + ".in_sum2", type: .f32, ne: [statistics.columns]))
            data.append(statistics.sumSquares.map(Float.init))
            tensors.append(GGUFWriter.Tensor(name: name + ".counts", type: .f32, ne: [1]))
            data.append([Float(statistics.tokens)])
        }
        try GGUFWriter.write(to: path, metadataCount: metadata.count, encodedMetadata: GGUFWriter.encode(metadata: metadata),
                             alignment: GGUFFile.defaultAlignment, tensors: tensors) { index, sink in
            try data[index].map { $0.bitPattern.littleEndian }.withUnsafeBytes { try sink.write($0) }
        }
        return entries.count
    }
}

/// An importance matrix that cannot be used: the file, the entry or key, and what is wrong.
public struct ImportanceMatrixError: LayerPackError {
    /// The only kind: the file is not an importance matrix LayerPack reads, or does not fit the model.
    public enum Kind: Sendable, Equatable { case invalidFile }
    public var kind: Kind { .invalidFile }
    public let path: String?
    public let key: String?
    public let message: String
    public var location: ErrorLocation? { key.map(ErrorLocation.key) }
}
