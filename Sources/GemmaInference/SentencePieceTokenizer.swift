import ByteIO
import Foundation

/// The Gemma tokenizer: SentencePiece-style BPE over a scored vocabulary with byte fallback, built from the
/// vocabulary a GGUF file (or a pack made from one) carries.
///
/// Encoding follows llama.cpp's SPM tokenizer: user-defined tokens (and, when asked, control tokens) are cut out
/// of the text first, longest first; each remaining fragment has its spaces replaced by "▁", is split into
/// characters, and adjacent pieces are merged highest score first while the merged text is a token; pieces that
/// are not tokens fall back to `<0xXX>` byte tokens.
public struct SentencePieceTokenizer: Sendable {
    /// Token kinds as GGUF's `tokenizer.ggml.token_type` numbers them.
    public enum TokenType: Int32, Sendable {
        case undefined = 0, normal = 1, unknown = 2, control = 3, userDefined = 4, unused = 5, byte = 6
    }

    public let tokens: [String]
    public let scores: [Float]
    public let types: [TokenType]
    public let bosID: Int
    public let eosID: Int
    public let addBOS: Bool
    public let addSpacePrefix: Bool
    /// Whether text is first cut into runs of newlines and runs of everything else, a run of newlines that is a
    /// token becoming that token (llama.cpp's pre-tokenizer for Gemma 4-style BPE vocabularies in GGUF).
    public let splitsNewlines: Bool
    /// Token ids by their UTF-8 bytes (not by `String`, whose equality is canonical equivalence: "é" and "e\u{301}"
    /// are different tokens).
    private let ids: [[UInt8]: Int]
    private let byteTokens: [Int]
    /// Tokens cut out before merging, longest first: (text, id, isControl).
    private let specials: [(text: [UInt8], id: Int, control: Bool)]
    /// For vocabularies with a merge list (`tokenizer.json`): the rank of each allowed pair, keyed by the left
    /// piece's bytes, 0xFF (never in UTF-8), the right piece's bytes. Nil: any pair whose text is a token merges,
    /// by the token's score (SentencePiece).
    private let mergeRanks: [[UInt8]: Int]?
    /// The merge list in rank order, for BPE vocabularies that have one (what a GGUF export writes back).
    public let merges: [(String, String)]?


    /// - Parameters:
    ///   - merges: the allowed pairs in merge order, for BPE vocabularies that list them (scores are then unused).
    ///   - splitsNewlines: see ``splitsNewlines``.
    public init(tokens: [String], scores: [Float], types: [Int32], bosID: Int, eosID: Int, addBOS: Bool, addSpacePrefix: Bool,
                merges: [(String, String)]? = nil, splitsNewlines: Bool = false) throws {
        guard tokens.count == scores.count, tokens.count == types.count, !tokens.isEmpty else {
            throw TokenizerError(.invalidVocabulary, path: nil,
                                 "tokens, scores and token types differ in length (\(tokens.count), \(scores.count), \(types.count))")
        }
        self.tokens = tokens
        self.scores = scores
        self.types = types.map { TokenType(rawValue: $0) ?? .normal }
        self.bosID = bosID
        self.eosID = eosID
        self.addBOS = addBOS
        self.addSpacePrefix = addSpacePrefix
        self.splitsNewlines = splitsNewlines
        var ids: [[UInt8]: Int] = [:]
        ids.reserveCapacity(tokens.count)
        for (id, token) in tokens.enumerated() where ids[Array(token.utf8)] == nil { ids[Array(token.utf8)] = id }
        self.ids = ids
        var bytes = [Int](repeating: -1, count: 256)
        for value in 0..<256 {
            let hex = String(value, radix: 16, uppercase: true)
            if let id = ids[Array(("<0x" + (hex.count == 1 ? "0" : "") + hex + ">").utf8)] { bytes[value] = id }
        }
        byteTokens = bytes
        specials = tokens.indices.compactMap { id -> (text: [UInt8], id: Int, control: Bool)? in
            let type = TokenType(rawValue: types[id]) ?? .normal
            guard type == .userDefined || type == .control, !tokens[id].isEmpty else { return nil }
            return (Array(tokens[id].utf8), id, type == .control)
        }.sorted { $0.text.count > $1.text.count }
        self.merges = merges
        mergeRanks = merges.map { list in
            var ranks: [[UInt8]: Int] = [:]
            ranks.reserveCapacity(list.count)
            for (rank, pair) in list.enumerated() where ranks[Array(pair.0.utf8) + [0xFF] + Array(pair.1.utf8)] == nil {
                ranks[Array(pair.0.utf8) + [0xFF] + Array(pair.1.utf8)] = rank
            }
            return ranks
        }
    }

    /// Token ids of `text`; `parseSpecial` also matches control tokens such as `<start_of_turn>`.
    public func encode(_ text: String, addBOS: Bool? = nil, parseSpecial: Bool = false) -> [Int] {
        // Cut special tokens out of the text the way llama.cpp partitions it: each special token in turn, longest
        // first, splits every remaining run of raw text at its leftmost non-overlapping occurrences.
        enum Fragment { case raw([UInt8]), token(Int) }
        var fragments: [Fragment] = [.raw(Array(text.utf8))]
        for special in specials where parseSpecial || !special.control {
            let needle = special.text
            var split: [Fragment] = []
            var changed = false
            for fragment in fragments {
                guard case .raw(let bytes) = fragment, bytes.count >= needle.count else {
                    split.append(fragment)
                    continue
                }
                var start = 0, index = 0
                while index + needle.count <= bytes.count {
                    if bytes[index] == needle[0] && bytes[index..<(index + needle.count)].elementsEqual(needle) {
                        if index > start { split.append(.raw(Array(bytes[start..<index]))) }
                        split.append(.token(special.id))
                        index += needle.count
                        start = index
                        changed = true
                    } else {
                        index += 1
                    }
                }
                if start < bytes.count { split.append(.raw(Array(bytes[start...]))) }
            }
            if changed { fragments = split }
        }
        var output: [Int] = (addBOS ?? self.addBOS) ? [bosID] : []
        for (index, fragment) in fragments.enumerated() {
            switch fragment {
            case .token(let id): output.append(id)
            case .raw(let bytes) where splitsNewlines: encodeSplittingNewlines(bytes, into: &output)
            case .raw(let bytes): encodeFragment(bytes, prefixSpace: addSpacePrefix && index == 0, into: &output)
            }
        }
        return output
    }

    /// One run of text between special tokens, cut into runs of newlines and runs without (llama.cpp's
    /// `[^\n]+|[\n]+`); a run of newlines that is itself a token is that token.
    private func encodeSplittingNewlines(_ utf8: [UInt8], into output: inout [Int]) {
        var start = 0
        while start < utf8.count {
            let newline = utf8[start] == 0x0A
            var end = start + 1
            while end < utf8.count && (utf8[end] == 0x0A) == newline { end += 1 }
            let run = Array(utf8[start..<end])
            if newline, let id = ids[run] { output.append(id) } else { encodeFragment(run, prefixSpace: false, into: &output) }
            start = end
        }
    }

    /// One run of text between special tokens.
    private func encodeFragment(_ utf8: [UInt8], prefixSpace: Bool, into output: inout [Int]) {
        // Spaces become "▁" (E2 96 81), byte for byte.
        var escaped: [UInt8] = prefixSpace ? [0xE2, 0x96, 0x81] : []
        escaped.reserveCapacity(utf8.count + 16)
        for byte in utf8 {
            if byte == 0x20 { escaped += [0xE2, 0x96, 0x81] } else { escaped.append(byte) }
        }
        // Symbols: UTF-8 characters, linked left to right.
        var starts: [Int] = [], lengths: [Int] = []
        var position = 0
        while position < escaped.count {
            let lead = escaped[position]
            let length = lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4
            starts.append(position)
            lengths.append(min(length, escaped.count - position))
            position += length
        }
        let count = starts.count
        var previous = (0..<count).map { $0 - 1 }, next = (0..<count).map { $0 + 1 }
        var heap = BigramHeap()
        func piece(_ start: Int, _ length: Int) -> [UInt8] { Array(escaped[start..<(start + length)]) }
        func tryBigram(_ left: Int, _ right: Int) {
            guard left >= 0, right < count else { return }
            let text = piece(starts[left], lengths[left] + lengths[right])
            guard let id = ids[text] else { return }
            var score = scores[id]
            if let mergeRanks {
                guard let rank = mergeRanks[piece(starts[left], lengths[left]) + [0xFF] + piece(starts[right], lengths[right])] else { return }
                score = -Float(rank)  // lower rank first; exact below 2^24 ranks
            }
            heap.push(Bigram(left: left, right: right, score: score, size: lengths[left] + lengths[right]))
        }
        for i in 1..<max(1, count) { tryBigram(i - 1, i) }
        while let bigram = heap.pop() {
            let left = bigram.left, right = bigram.right
            guard lengths[left] != 0, lengths[right] != 0, lengths[left] + lengths[right] == bigram.size else { continue }
            lengths[left] += lengths[right]
            lengths[right] = 0
            next[left] = next[right]
            if next[right] < count { previous[next[right]] = left }
            tryBigram(previous[left], left)
            tryBigram(left, next[left])
        }
        var symbol = count > 0 ? 0 : count
        while symbol < count {
            let text = piece(starts[symbol], lengths[symbol])
            if let id = ids[text] {
                output.append(id)
            } else {
                for byte in escaped[starts[symbol]..<(starts[symbol] + lengths[symbol])] where byteTokens[Int(byte)] >= 0 {
                    output.append(byteTokens[Int(byte)])
                }
            }
            symbol = next[symbol]
        }
    }

    /// The text of `ids`: "▁" becomes a space, byte tokens become their bytes, control tokens are left out.
    public func decode(_ ids: [Int]) -> String {
        var bytes: [UInt8] = []
        for id in ids where id >= 0 && id < tokens.count {
            switch types[id] {
            case .control, .unknown, .unused: continue
            case .byte:
                let hex = tokens[id].dropFirst(3).dropLast()
                if let value = UInt8(hex, radix: 16) { bytes.append(value) }
            default:
                bytes += Array(tokens[id].replacingOccurrences(of: "▁", with: " ").utf8)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// A candidate merge of two adjacent symbols.
struct Bigram {
    let left: Int
    let right: Int
    let score: Float
    let size: Int

    /// Higher score first; on ties, the leftmost pair first (as llama.cpp orders them).
    func precedes(_ other: Bigram) -> Bool { score > other.score || (score == other.score && left < other.left) }
}

/// A binary max-heap of bigrams.
struct BigramHeap {
    private var items: [Bigram] = []

    mutating func push(_ item: Bigram) {
        items.append(item)
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard items[child].precedes(items[parent]) else { break }
            items.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> Bigram? {
        guard !items.isEmpty else { return nil }
        let top = items[0]
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var parent = 0
            while true {
                let left = 2 * parent + 1, right = left + 1
                var best = parent
                if left < items.count && items[left].precedes(items[best]) { best = left }
                if right < items.count && items[right].precedes(items[best]) { best = right }
                if best == parent { break }
                items.swapAt(parent, best)
                parent = best
            }
        }
        return top
    }
}

/// Why a tokenizer could not be built: the kind, the file (or the model that should carry one), the key, and what
/// is wrong.
public struct TokenizerError: LayerPackError {
    /// What kind of problem.
    public enum Kind: Sendable, Equatable {
        /// The model carries no vocabulary LayerPack reads.
        case noTokenizer
        /// A vocabulary that does not make a tokenizer (lengths, ids, merges).
        case invalidVocabulary
    }

    public let kind: Kind
    public let path: String?
    public let location: ErrorLocation?
    public let message: String

    public init(_ kind: Kind, path: String?, location: ErrorLocation? = nil, _ message: String) {
        self.kind = kind
        self.path = path
        self.location = location
        self.message = message
    }
}
