import ByteIO
import StrictJSON

extension SentencePieceTokenizer {
    /// Reads a Hugging Face `tokenizer.json` of the Gemma kind: a BPE model (with byte fallback) over text whose
    /// spaces the normalizer turns into "▁". Pairs merge in the order of the file's merge list, as `tokenizers`
    /// merges them; added tokens are cut out of the text first (pass `parseSpecial: true` to `encode` for
    /// `tokenizers`' behaviour, which matches every added token).
    public static func from(tokenizerJSON bytes: ByteView, name: String) throws -> SentencePieceTokenizer {
        func fail(_ message: String) -> TokenizerError { TokenizerError(.invalidVocabulary, path: name, message) }
        let root: JSONObject
        do {
            guard let object = try bytes.withUnsafeBytes({ try JSONParser.parse($0) }).objectValue else { throw fail("not a JSON object") }
            root = object
        } catch let error as JSONError {
            throw fail("\(error)")
        }
        guard let model = root["model"]?.objectValue, model["type"]?.stringValue == "BPE",
              let vocabulary = model["vocab"]?.objectValue, let mergeList = model["merges"]?.arrayValue
        else { throw fail("no BPE model with a vocab and merges") }

        // Ids must be dense enough to be array indices: at most vocabulary + added tokens.
        let added = root["added_tokens"]?.arrayValue ?? []
        let limit = vocabulary.members.count + added.count
        var tokens = [String?](repeating: nil, count: limit)
        var types = [Int32](repeating: TokenType.normal.rawValue, count: limit)
        for member in vocabulary.members {
            guard let id = member.value.intValue, id >= 0, id < limit, tokens[id] == nil else { throw fail("vocab id of '\(member.key)' is out of range or repeated") }
            tokens[id] = member.key
            if member.key.count == 6, member.key.hasPrefix("<0x"), member.key.hasSuffix(">") { types[id] = TokenType.byte.rawValue }
        }
        if let unknown = model["unk_token"]?.stringValue, let id = vocabulary[unknown]?.intValue, id < limit { types[id] = TokenType.unknown.rawValue }
        var idsByText: [String: Int] = [:]
        for entry in added {
            guard let object = entry.objectValue, let id = object["id"]?.intValue, id >= 0, id < limit,
                  let content = object["content"]?.stringValue else { throw fail("malformed added_tokens entry") }
            tokens[id] = content
            types[id] = (object["special"]?.boolValue ?? false) ? TokenType.control.rawValue : TokenType.userDefined.rawValue
            idsByText[content] = id
        }
        let count = (tokens.lastIndex { $0 != nil } ?? -1) + 1
        for id in 0..<count where tokens[id] == nil { types[id] = TokenType.unused.rawValue }

        var merges: [(String, String)] = []
        merges.reserveCapacity(mergeList.count)
        for entry in mergeList {
            if let pair = entry.arrayValue, pair.count == 2, let left = pair[0].stringValue, let right = pair[1].stringValue {
                merges.append((left, right))
            } else if let text = entry.stringValue, let space = text.firstIndex(of: " ") {
                merges.append((String(text[..<space]), String(text[text.index(after: space)...])))
            } else {
                throw fail("malformed merge \(entry)")
            }
        }
        guard count > 0 else { throw fail("the vocabulary is empty") }
        let leadingToken = leadingSpecialToken(of: root["post_processor"])
        return try SentencePieceTokenizer(
            tokens: tokens[..<count].map { $0 ?? "" }, scores: [Float](repeating: 0, count: count), types: Array(types[..<count]),
            bosID: idsByText["<bos>"] ?? 2, eosID: idsByText["<eos>"] ?? 1,
            addBOS: leadingToken == "<bos>", addSpacePrefix: prependsSpace(root["normalizer"]),
            merges: merges)
    }

    /// The special token a post-processor puts before every single sequence (`TemplateProcessing`'s first
    /// `SpecialToken`, looked for through `Sequence` processors), or nil.
    static func leadingSpecialToken(of processor: JSONValue?) -> String? {
        guard let object = processor?.objectValue else { return nil }
        switch object["type"]?.stringValue {
        case "TemplateProcessing":
            return object["single"]?.arrayValue?.first?.objectValue?["SpecialToken"]?.objectValue?["id"]?.stringValue
        case "Sequence":
            return object["processors"]?.arrayValue?.lazy.compactMap { leadingSpecialToken(of: $0) }.first
        default:
            return nil
        }
    }

    /// Whether a normalizer prepends "▁" to the text (a `Prepend` normalizer, alone or inside a `Sequence`).
    static func prependsSpace(_ normalizer: JSONValue?) -> Bool {
        guard let object = normalizer?.objectValue else { return false }
        switch object["type"]?.stringValue {
        case "Prepend": return object["prepend"]?.stringValue == "\u{2581}"
        case "Sequence": return object["normalizers"]?.arrayValue?.contains { prependsSpace($0) } ?? false
        default: return false
        }
    }
}
