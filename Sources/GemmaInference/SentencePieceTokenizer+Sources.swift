import ByteIO
import Foundation
import GGUFFormat
import TensorModel

extension SentencePieceTokenizer {
    /// The tokenizer a model source carries: GGUF metadata, the `tokenizer.json` beside a safetensors checkpoint, or
    /// either one a pack kept from its source.
    public static func from(source: any TensorSource) throws -> SentencePieceTokenizer {
        if let gguf = source as? GGUFSource { return try from(gguf: gguf.file) }
        if source.tensors.contains(where: { $0.name == "file:gguf-metadata" }) {
            let carried = try source.storedBytes("file:gguf-metadata")
            guard let count = carried.load(UInt64.self, at: 0) else { throw Invalid(description: "\(source.path): carried GGUF metadata is damaged") }
            var header = Array("GGUF".utf8)
            withUnsafeBytes(of: UInt32(3).littleEndian) { header += $0 }
            withUnsafeBytes(of: UInt64(0).littleEndian) { header += $0 }
            withUnsafeBytes(of: count.littleEndian) { header += $0 }
            let bytes = header + carried.slice(offset: 8, length: carried.count - 8)!.array
            return try from(gguf: GGUFFile(file: MappedFile(bytes: bytes, name: source.path + " (carried GGUF metadata)")))
        }
        if source is SafetensorsSource {
            // The checkpoint's directory, or the directory of the file or index it was opened by.
            for directory in [source.path, (source.path as NSString).deletingLastPathComponent] {
                if let file = try? MappedFile(path: directory + "/tokenizer.json") { return try from(tokenizerJSON: file.bytes, name: file.path) }
            }
        }
        if source.tensors.contains(where: { $0.name == "file:tokenizer.json" }) {
            return try from(tokenizerJSON: try source.storedBytes("file:tokenizer.json"), name: source.path + " (carried tokenizer.json)")
        }
        throw Invalid(description: "\(source.path): carries no tokenizer (GGUF vocabulary or tokenizer.json); pass token ids instead")
    }

    /// Reads `tokenizer.ggml.*` from a GGUF file.
    public static func from(gguf file: GGUFFile) throws -> SentencePieceTokenizer {
        guard file["tokenizer.ggml.model"]?.stringValue == "llama",
              let tokens = try file["tokenizer.ggml.tokens"]?.arrayValue?.strings(),
              let scores = try file["tokenizer.ggml.scores"]?.arrayValue?.doubles(),
              let types = try file["tokenizer.ggml.token_type"]?.arrayValue?.integers()
        else { throw Invalid(description: "\(file.path): no SentencePiece (\"llama\") vocabulary in tokenizer.ggml.*") }
        return try SentencePieceTokenizer(
            tokens: tokens, scores: scores.map(Float.init), types: types.map { Int32(truncatingIfNeeded: $0) },
            bosID: file["tokenizer.ggml.bos_token_id"]?.intValue ?? 2, eosID: file["tokenizer.ggml.eos_token_id"]?.intValue ?? 1,
            addBOS: file["tokenizer.ggml.add_bos_token"]?.boolValue ?? true,
            addSpacePrefix: file["tokenizer.ggml.add_space_prefix"]?.boolValue ?? false)
    }
}
