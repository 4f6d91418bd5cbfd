import GemmaInference
import TensorModel
import Verification

extension TextChunks {
    /// The text file at `path` tokenized with `source`'s own tokenizer and cut into at most `limit` chunks of `context`
    /// tokens, with the text's token count; refused, naming the file and `option`, when it does not fill one chunk.
    static func reading(_ path: String, for source: any TensorSource, context: Int, limit: Int?, option: String) throws -> (chunks: TextChunks, tokens: Int) {
        let text = try VerifyCommand.readText(path)
        let tokenizer = try SentencePieceTokenizer.from(source: source)
        let ids = tokenizer.encode(text)
        guard let chunks = TextChunks(tokens: ids, context: context, limit: limit, bos: tokenizer.bosID) else {
            throw TokenizerError(.invalidVocabulary, path: path,
                                 "\(ids.count) tokens do not fill one chunk of \(option) \(context); give a longer text or a smaller \(option)")
        }
        return (chunks, ids.count)
    }
}
