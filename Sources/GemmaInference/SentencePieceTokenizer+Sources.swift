import ByteIO
import GGUFFormat
import TensorModel

extension SentencePieceTokenizer {
    /// The tokenizer a model source carries: its GGUF vocabulary (a GGUF file's own, or the one a pack made from a
    /// GGUF keeps), else its `tokenizer.json` (beside a safetensors checkpoint, or carried by a pack made from one).
    public static func from(source: any TensorSource) throws -> SentencePieceTokenizer {
        if let gguf = try source.ggufMetadata() { return try from(gguf: gguf) }
        if let file = source.attachment(named: "tokenizer.json") {
            return try from(tokenizerJSON: file.bytes, name: file.location)
        }
        throw TokenizerError(.noTokenizer, path: source.path, "carries no tokenizer (GGUF vocabulary or tokenizer.json); pass token ids instead")
    }

    /// Reads `tokenizer.ggml.*` from a GGUF file.
    public static func from(gguf file: GGUFFile) throws -> SentencePieceTokenizer {
        guard file["tokenizer.ggml.model"]?.stringValue == "llama",
              let tokens = try file["tokenizer.ggml.tokens"]?.arrayValue?.strings(),
              let scores = try file["tokenizer.ggml.scores"]?.arrayValue?.doubles(),
              let types = try file["tokenizer.ggml.token_type"]?.arrayValue?.integers()
        else {
            throw TokenizerError(.noTokenizer, path: file.path, location: .key("tokenizer.ggml.model"), "no SentencePiece (\"llama\") vocabulary in tokenizer.ggml.*")
        }
        return try SentencePieceTokenizer(
            tokens: tokens, scores: scores.map(Float.init), types: types.map { Int32(truncatingIfNeeded: $0) },
            bosID: file["tokenizer.ggml.bos_token_id"]?.intValue ?? 2, eosID: file["tokenizer.ggml.eos_token_id"]?.intValue ?? 1,
            addBOS: file["tokenizer.ggml.add_bos_token"]?.boolValue ?? true,
            addSpacePrefix: file["tokenizer.ggml.add_space_prefix"]?.boolValue ?? false)
    }
}
