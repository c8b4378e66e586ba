import Foundation

/// Trains a byte-level BPE vocabulary the way Hugging Face `tokenizers` does.
///
/// Pipeline and algorithm follow `tokenizers/src/models/bpe/trainer.rs` (`BpeTrainer::do_train`) with a
/// `ByteLevel(add_prefix_space=false, use_regex=true)` pre-tokenizer and `initial_alphabet=ByteLevel.alphabet()`:
/// 1. every text is split with the GPT-2 regex and mapped to the byte alphabet; identical words are counted
///    (special tokens inside the text are *not* split out first: HF's `train` runs normalizer and pre-tokenizer only);
/// 2. ids: the special tokens in the given order, then the 256 byte characters sorted by code point;
/// 3. repeatedly the most frequent adjacent pair is merged (ties: the smaller `(left id, right id)` wins, as the
///    `Ord` of HF's `Merge`), until the vocabulary holds `vocabularySize` entries, no pair is left, or the best pair
///    occurs fewer than `minFrequency` times.
///
/// HF's bookkeeping quirks are kept on purpose, because they decide which pair wins: a merge does not subtract the
/// merged pair's own count, counts in the priority queue are refreshed lazily (a popped entry whose count is stale
/// is pushed back with the current count), and each queue entry merges only in the words recorded with it. A pair
/// merged twice keeps its last rank (HF collects merges into a map keyed by pair).
public struct BPETrainer: Sendable {
    /// Target size including the special tokens and the 256 byte characters.
    public var vocabularySize: Int
    /// Added first, ids 0, 1, ...; written as special `added_tokens`.
    public var specialTokens: [String]
    /// A pair occurring fewer times than this is never merged (HF `min_frequency`).
    public var minFrequency: Int

    public init(vocabularySize: Int, specialTokens: [String] = [], minFrequency: Int = 0) {
        self.vocabularySize = vocabularySize
        self.specialTokens = specialTokens
        self.minFrequency = minFrequency
    }

    /// A trained vocabulary: tokens in id order and merges in rank order.
    public struct Result: Sendable, Equatable {
        public var vocabulary: [String]
        public var merges: [Merge]
        public var specialTokens: [String]
    }

    public struct Merge: Sendable, Equatable {
        public var left: String
        public var right: String
    }

    // MARK: - Word counting

    /// Counts of pre-tokenized words (byte-alphabet scalars), accumulated over any number of texts.
    public struct WordCounts: Sendable {
        var counts: [[UInt32]: Int] = [:]

        public init() {}

        /// Splits `text` like HF's ByteLevel pre-tokenizer (GPT-2 regex, then bytes to the printable alphabet).
        public mutating func add(_ text: String) {
            let pieces = PreTokenizer.byteLevel(addPrefixSpace: false, useRegex: true)
                .apply([Piece(scalars: Array(scalarsOf: text), atStart: true)])
            for p in pieces where !p.scalars.isEmpty { counts[p.scalars, default: 0] += 1 }
        }

        /// Number of distinct words.
        public var distinctWords: Int { counts.count }
    }

    public func train(texts: some Sequence<String>) -> Result {
        var wc = WordCounts()
        for t in texts { wc.add(t) }
        return train(wordCounts: wc)
    }

    // MARK: - Training

    public func train(wordCounts: WordCounts) -> Result {
        var idToWord: [[UInt32]] = []
        var wordToID: [[UInt32]: Int32] = [:]
        func add(_ w: [UInt32]) {
            guard wordToID[w] == nil else { return }
            wordToID[w] = Int32(idToWord.count)
            idToWord.append(w)
        }
        for s in specialTokens { add(Array(scalarsOf: s)) }
        // The initial alphabet (all 256 byte characters) already covers every character of every word.
        for s in ByteLevel.byteToScalar.sorted() { add([s]) }

        var words: [[Int32]] = []
        var counts: [Int] = []
        words.reserveCapacity(wordCounts.counts.count)
        for (w, c) in wordCounts.counts {
            words.append(w.map { wordToID[[$0]]! })
            counts.append(c)
        }

        // Pair counts (HF keeps them as i32) and where each pair occurs.
        var pairCounts: [UInt64: Int] = [:]
        var whereToUpdate: [UInt64: Set<Int>] = [:]
        for (i, w) in words.enumerated() where w.count > 1 {
            for j in 0..<(w.count - 1) {
                let p = Self.key(w[j], w[j + 1])
                pairCounts[p, default: 0] += counts[i]
                whereToUpdate[p, default: []].insert(i)
            }
        }
        var queue = MergeQueue()
        for (p, pos) in whereToUpdate {
            let c = pairCounts[p]!
            if c > 0 { queue.push(.init(pair: p, count: UInt64(c), pos: pos)) }
        }
        whereToUpdate.removeAll()

        var merges: [(pair: UInt64, id: Int32)] = []
        while idToWord.count < vocabularySize {
            guard var top = queue.pop() else { break }
            let current = UInt64(bitPattern: Int64(pairCounts[top.pair]!))
            if top.count != current {
                top.count = current
                queue.push(top)
                continue
            }
            if top.count < 1 || UInt64(minFrequency) > top.count { break }
            let a = Int32(truncatingIfNeeded: top.pair >> 32), b = Int32(truncatingIfNeeded: top.pair & 0xFFFF_FFFF)
            let newToken = idToWord[Int(a)] + idToWord[Int(b)]
            add(newToken)
            let newID = wordToID[newToken]!
            merges.append((top.pair, newID))

            for i in top.pos {
                let changes = Self.merge(&words[i], a, b, newID)
                for (p, change) in changes {
                    pairCounts[p, default: 0] += change * counts[i]
                    if change > 0 { whereToUpdate[p, default: []].insert(i) }
                }
            }
            for (p, pos) in whereToUpdate {
                let c = pairCounts[p]!
                if c > 0 { queue.push(.init(pair: p, count: UInt64(c), pos: pos)) }
            }
            whereToUpdate.removeAll(keepingCapacity: true)
        }

        // A pair merged more than once keeps its last rank (HF builds a map pair → (rank, id)).
        var lastRank: [UInt64: Int] = [:]
        for (r, m) in merges.enumerated() { lastRank[m.pair] = r }
        let ordered = merges.enumerated().filter { lastRank[$0.element.pair] == $0.offset }.map(\.element)
        let vocabulary = idToWord.map { $0.string }
        return Result(
            vocabulary: vocabulary,
            merges: ordered.map {
                Merge(left: vocabulary[Int($0.pair >> 32)], right: vocabulary[Int($0.pair & 0xFFFF_FFFF)])
            },
            specialTokens: specialTokens)
    }

    @inline(__always) static func key(_ a: Int32, _ b: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: a)) << 32 | UInt64(UInt32(bitPattern: b))
    }

    /// HF `Word::merge`: replaces every non-overlapping `a b` (left to right) by `new` and reports the pair-count
    /// changes around each replacement (never for the merged pair itself).
    static func merge(_ w: inout [Int32], _ a: Int32, _ b: Int32, _ new: Int32) -> [(UInt64, Int)] {
        var changes: [(UInt64, Int)] = []
        var i = 0
        while i < w.count {
            if w[i] == a && i + 1 < w.count && w[i + 1] == b {
                if i > 0 {
                    changes.append((key(w[i - 1], a), -1))
                    changes.append((key(w[i - 1], new), 1))
                }
                w[i] = new
                w.remove(at: i + 1)
                if i < w.count - 1 {
                    changes.append((key(b, w[i + 1]), -1))
                    changes.append((key(new, w[i + 1]), 1))
                }
            }
            i += 1
        }
        return changes
    }
}

/// A max-heap of candidate merges ordered like HF's `Merge`: higher count first, then the smaller pair.
struct MergeQueue {
    struct Entry {
        var pair: UInt64
        var count: UInt64
        var pos: Set<Int>
    }

    private var items: [Entry] = []

    @inline(__always) private static func above(_ x: Entry, _ y: Entry) -> Bool {
        x.count != y.count ? x.count > y.count : x.pair < y.pair
    }

    mutating func push(_ e: Entry) {
        items.append(e)
        var i = items.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard Self.above(items[i], items[parent]) else { break }
            items.swapAt(i, parent)
            i = parent
        }
    }

    mutating func pop() -> Entry? {
        guard !items.isEmpty else { return nil }
        items.swapAt(0, items.count - 1)
        let top = items.removeLast()
        var i = 0
        while true {
            let l = 2 * i + 1, r = l + 1
            var best = i
            if l < items.count && Self.above(items[l], items[best]) { best = l }
            if r < items.count && Self.above(items[r], items[best]) { best = r }
            if best == i { break }
            items.swapAt(i, best)
            i = best
        }
        return top
    }
}

// MARK: - tokenizer.json

extension BPETrainer.Result {
    /// The tokenizer.json text in the exact layout `tokenizers` 0.2x writes for this trainer's setup (compact JSON,
    /// keys in serde's order, vocabulary in id order, merges as `[left, right]` pairs).
    public func tokenizerJSON() -> String {
        var s = "{\"version\":\"1.0\",\"truncation\":null,\"padding\":null,\"added_tokens\":["
        s += specialTokens.enumerated().map { i, t in
            let id = vocabulary.firstIndex(of: t) ?? i
            return "{\"id\":\(id),\"content\":\(JSONValue.quoted(t)),\"single_word\":false,\"lstrip\":false,\"rstrip\":false,"
                + "\"normalized\":false,\"special\":true}"
        }.joined(separator: ",")
        s += "],\"normalizer\":null,"
        s += "\"pre_tokenizer\":{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"trim_offsets\":true,\"use_regex\":true},"
        s += "\"post_processor\":null,"
        s += "\"decoder\":{\"type\":\"ByteLevel\",\"add_prefix_space\":true,\"trim_offsets\":true,\"use_regex\":true},"
        s += "\"model\":{\"type\":\"BPE\",\"dropout\":null,\"unk_token\":null,\"continuing_subword_prefix\":null,"
        s += "\"end_of_word_suffix\":null,\"fuse_unk\":false,\"byte_fallback\":false,\"ignore_merges\":false,\"vocab\":{"
        s += vocabulary.enumerated().map { "\(JSONValue.quoted($0.element)):\($0.offset)" }.joined(separator: ",")
        s += "},\"merges\":["
        s += merges.map { "[\(JSONValue.quoted($0.left)),\(JSONValue.quoted($0.right))]" }.joined(separator: ",")
        s += "]}}"
        return s
    }
}

// MARK: - Tokenizer folder

/// The special-token roles and chat template written to tokenizer_config.json beside a trained tokenizer.json.
public struct TokenizerFolderSettings: Sendable {
    public var bos: String?
    public var eos: String?
    public var pad: String?
    public var unk: String?
    public var modelMaxLength: Int
    public var chatTemplate: String?

    public init(bos: String?, eos: String?, pad: String?, unk: String?, modelMaxLength: Int, chatTemplate: String?) {
        self.bos = bos
        self.eos = eos
        self.pad = pad
        self.unk = unk
        self.modelMaxLength = modelMaxLength
        self.chatTemplate = chatTemplate
    }

    /// ChatML, as SmolLM2 and Qwen2 render it, without a default system message.
    public static let chatMLTemplate = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
}

extension BPETrainer.Result {
    /// tokenizer_config.json: `add_bos_token`/`add_eos_token` false, the special-token names (null when unset),
    /// `model_max_length`, the added tokens as transformers writes them, and the chat template.
    public func tokenizerConfigJSON(_ settings: TokenizerFolderSettings) -> String {
        func name(_ s: String?) -> String { s.map { JSONValue.quoted($0) } ?? "null" }
        var lines: [String] = []
        lines.append("  \"add_bos_token\": false")
        lines.append("  \"add_eos_token\": false")
        let decoder = specialTokens.map { t -> String in
            let id = vocabulary.firstIndex(of: t) ?? -1
            return "    \"\(id)\": {\n      \"content\": \(JSONValue.quoted(t)),\n      \"lstrip\": false,\n      \"normalized\": false,\n"
                + "      \"rstrip\": false,\n      \"single_word\": false,\n      \"special\": true\n    }"
        }
        lines.append("  \"added_tokens_decoder\": {\n" + decoder.joined(separator: ",\n") + "\n  }")
        lines.append("  \"bos_token\": \(name(settings.bos))")
        if let t = settings.chatTemplate { lines.append("  \"chat_template\": \(JSONValue.quoted(t))") }
        lines.append("  \"clean_up_tokenization_spaces\": false")
        lines.append("  \"eos_token\": \(name(settings.eos))")
        lines.append("  \"model_max_length\": \(settings.modelMaxLength)")
        lines.append("  \"pad_token\": \(name(settings.pad))")
        lines.append("  \"tokenizer_class\": \"PreTrainedTokenizerFast\"")
        lines.append("  \"unk_token\": \(name(settings.unk))")
        return "{\n" + lines.joined(separator: ",\n") + "\n}\n"
    }

    /// Writes tokenizer.json and tokenizer_config.json into `folder` (created if missing), each atomically.
    public func write(to folder: String, settings: TokenizerFolderSettings) throws {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        for (name, text) in [("tokenizer.json", tokenizerJSON()), ("tokenizer_config.json", tokenizerConfigJSON(settings))] {
            let path = (folder as NSString).appendingPathComponent(name)
            do {
                try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
            } catch {
                throw TokenizerError.unreadable(file: path, reason: "cannot write: \(error.localizedDescription)")
            }
        }
    }
}
