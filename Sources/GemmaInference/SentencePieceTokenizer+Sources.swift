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

    /// The BPE pre-tokenizers whose vocabularies are SentencePiece-style (spaces as "▁", raw UTF-8 pieces, `<0xXX>`
    /// byte fallback): llama.cpp's `gemma4` type, which the converter also writes as `granite-embed-multi-311m` for
    /// Gemma 3 checkpoints saved by transformers 5.
    public static let sentencePieceStyleBPE: Set<String> = ["gemma4", "granite-embed-multi-311m"]

    /// Reads `tokenizer.ggml.*` from a GGUF file: a SentencePiece vocabulary (`llama`), or a BPE one with merges
    /// (`gemma4`, or `gpt2` with a SentencePiece-style pre-tokenizer), as llama.cpp reads them.
    public static func from(gguf file: GGUFFile) throws -> SentencePieceTokenizer {
        let model = file["tokenizer.ggml.model"]?.stringValue
        if model == "gemma4" || model == "gpt2" { return try bytePairVocabulary(gguf: file, model: model!) }
        guard model == "llama",
              let tokens = try file["tokenizer.ggml.tokens"]?.arrayValue?.strings(),
              let scores = try file["tokenizer.ggml.scores"]?.arrayValue?.doubles(),
              let types = try file["tokenizer.ggml.token_type"]?.arrayValue?.integers()
        else {
            throw TokenizerError(.noTokenizer, path: file.path, location: .key("tokenizer.ggml.model"),
                                 "no SentencePiece (\"llama\") or Gemma BPE (\"gemma4\", \"gpt2\") vocabulary in tokenizer.ggml.*")
        }
        return try SentencePieceTokenizer(
            tokens: tokens, scores: scores.map(Float.init), types: controlOverrides(tokens, types.map { Int32(truncatingIfNeeded: $0) }, file),
            bosID: file["tokenizer.ggml.bos_token_id"]?.intValue ?? 2, eosID: file["tokenizer.ggml.eos_token_id"]?.intValue ?? 1,
            addBOS: file["tokenizer.ggml.add_bos_token"]?.boolValue ?? true,
            addSpacePrefix: file["tokenizer.ggml.add_space_prefix"]?.boolValue ?? false)
    }

    /// A BPE vocabulary with its merge list: tokens, token types, merges ("left right", split at the first space
    /// after the first character, as llama.cpp splits them); llama.cpp always adds BOS for these pre-tokenizers.
    static func bytePairVocabulary(gguf file: GGUFFile, model: String) throws -> SentencePieceTokenizer {
        let pre = model == "gemma4" ? "gemma4" : file["tokenizer.ggml.pre"]?.stringValue ?? "default"
        guard sentencePieceStyleBPE.contains(pre) else {
            throw TokenizerError(.noTokenizer, path: file.path, location: .key("tokenizer.ggml.pre"),
                                 "a \(model) vocabulary with pre-tokenizer '\(pre)' (byte-level GPT-2 BPE) is not supported; "
                                 + "Gemma's are \(sentencePieceStyleBPE.sorted().joined(separator: ", "))")
        }
        guard let tokens = try file["tokenizer.ggml.tokens"]?.arrayValue?.strings(),
              let types = try file["tokenizer.ggml.token_type"]?.arrayValue?.integers(),
              let mergeList = try file["tokenizer.ggml.merges"]?.arrayValue?.strings()
        else {
            throw TokenizerError(.invalidVocabulary, path: file.path, location: .key("tokenizer.ggml.merges"),
                                 "a \(model) vocabulary needs tokenizer.ggml.tokens, token_type and merges")
        }
        var merges: [(String, String)] = []
        merges.reserveCapacity(mergeList.count)
        for entry in mergeList {
            let bytes = Array(entry.utf8)  // bytes, not Characters: a space may precede a combining mark
            guard bytes.count > 1, let space = bytes[1...].firstIndex(of: 0x20) else {
                throw TokenizerError(.invalidVocabulary, path: file.path, location: .key("tokenizer.ggml.merges"), "malformed merge '\(entry)'")
            }
            merges.append((String(decoding: bytes[..<space], as: UTF8.self), String(decoding: bytes[(space + 1)...], as: UTF8.self)))
        }
        let scores = try file["tokenizer.ggml.scores"]?.arrayValue?.doubles()?.map { Float($0) } ?? [Float](repeating: 0, count: tokens.count)
        return try SentencePieceTokenizer(
            tokens: tokens, scores: scores, types: controlOverrides(tokens, types.map { Int32(truncatingIfNeeded: $0) }, file),
            bosID: file["tokenizer.ggml.bos_token_id"]?.intValue ?? 2, eosID: file["tokenizer.ggml.eos_token_id"]?.intValue ?? 1,
            addBOS: true, addSpacePrefix: false, merges: merges, splitsNewlines: true)
    }

    /// llama.cpp's token-type overrides (`llama_vocab::impl::load`): tokens that look like end-of-generation markers
    /// are always made control tokens, and those that look like end-of-turn, end-of-message or fill-in-the-middle
    /// markers too when the GGUF names no such token, whatever type the file gives them (llama.cpp logs
    /// "control-looking token … its type will be overridden"). Control tokens are matched in text only when special
    /// tokens are parsed. llama.cpp takes the first of each conditional group in hash order; a Gemma vocabulary
    /// holds at most one of each, so here every match is taken.
    static func controlOverrides(_ tokens: [String], _ types: [Int32], _ file: GGUFFile) -> [Int32] {
        var looksControl = endOfGeneration
        for (key, texts) in conditionalControl where file["tokenizer.ggml." + key] == nil { looksControl.formUnion(texts) }
        var types = types
        for (id, token) in tokens.enumerated() where id < types.count && looksControl.contains(token) {
            types[id] = TokenType.control.rawValue
        }
        return types
    }

    private static let endOfGeneration: Set<String> = [
        "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>", "<end_of_turn>",
        "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]", "<|end_of_text|>", "<end_of_utterance>",
        "<eos>", "<turn|>", "<|tool_response>", "<｜end▁of▁sentence｜>", "[e~[",
    ]

    private static let conditionalControl: [(String, Set<String>)] = [
        ("eot_token_id", ["<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>", "<EOT>",
                          "_<EOT>", "[EOT]", "<｜end▁of▁sentence｜>", "<end_of_utterance>"]),
        ("eom_token_id", ["<|eom_id|>"]),
        ("fim_pre_token_id", ["<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<｜fim▁begin｜>", "<PRE>", "▁<PRE>", "<|code_prefix|>", "<|prefix|>"]),
        ("fim_suf_token_id", ["<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<｜fim▁hole｜>", "<SUF>", "▁<SUF>", "<|code_suffix|>", "<|suffix|>"]),
        ("fim_mid_token_id", ["<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<｜fim▁end｜>", "<MID>", "▁<MID>", "<|code_middle|>", "<|middle|>"]),
        ("fim_pad_token_id", ["<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"]),
        ("fim_rep_token_id", ["<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"]),
        ("fim_sep_token_id", ["<|file_sep|>"]),
    ]
}
