import Foundation

/// Text ⇄ token ids, with the exact behaviour of the file it was loaded from.
///
/// Three sources are supported: a Hugging Face `tokenizer.json` (run as the same normalizer → pre-tokenizer → BPE →
/// post-processor pipeline as HF `tokenizers`), a llama2.c `tokenizer.bin`, and the `tokenizer.ggml.*` vocabulary
/// of a GGUF file. A tokenizer is immutable apart from an internal word cache guarded by a mutex, so one instance can
/// be shared across threads.
public final class Tokenizer: Sendable {
    enum Engine: Sendable {
        case pipeline(Pipeline)
        case scored(ScoredVocabulary)
    }

    let engine: Engine
    /// Where the tokenizer came from (for messages).
    public let source: String
    /// Special-token names from tokenizer_config.json / special_tokens_map.json (or the GGUF/llama2.c conventions).
    public let specialTokens: SpecialTokens

    init(engine: Engine, source: String, specialTokens: SpecialTokens) {
        self.engine = engine
        self.source = source
        self.specialTokens = specialTokens
    }

    /// Loads a tokenizer from a folder holding tokenizer.json, a tokenizer.json file, a llama2.c tokenizer.bin, or a
    /// .gguf file.
    public static func load(path: String) throws -> Tokenizer {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw TokenizerError.unreadable(file: path, reason: "no such file or directory")
        }
        if isDirectory.boolValue {
            let json = (path as NSString).appendingPathComponent("tokenizer.json")
            guard FileManager.default.fileExists(atPath: json) else {
                throw TokenizerError.unreadable(file: json, reason: "the folder has no tokenizer.json")
            }
            return try Tokenizer(tokenizerJSON: json)
        }
        let lower = path.lowercased()
        if lower.hasSuffix(".gguf") { return try Tokenizer(gguf: path) }
        if lower.hasSuffix(".bin") { return try Tokenizer(llama2cTokenizer: path) }
        return try Tokenizer(tokenizerJSON: path)
    }

    // MARK: - Encoding

    /// Token ids for `text`; `addSpecialTokens` runs the post-processor (BOS/EOS templates), like HF's
    /// `encode(text, add_special_tokens=...)`.
    public func encode(_ text: String, addSpecialTokens: Bool = true) -> [Int] {
        encode32(text, addSpecialTokens: addSpecialTokens).map(Int.init)
    }

    /// Token ids for a pair of texts (the post-processor's `pair` template).
    public func encode(_ text: String, pair: String, addSpecialTokens: Bool = true) -> [Int] {
        switch engine {
        case .pipeline(let p):
            let a = p.encodeRaw(text), b = p.encodeRaw(pair)
            return (addSpecialTokens ? p.post.apply(a, b) : a + b).map(Int.init)
        case .scored(let v):
            return (v.encode(text, addBOS: addSpecialTokens) + v.encode(pair, addBOS: false)).map(Int.init)
        }
    }

    /// Ids as Int32 (what training data stores).
    public func encode32(_ text: String, addSpecialTokens: Bool = true) -> [Int32] {
        switch engine {
        case .pipeline(let p):
            let ids = p.encodeRaw(text)
            return addSpecialTokens ? p.post.apply(ids, nil) : ids
        case .scored(let v):
            return v.encode(text, addBOS: addSpecialTokens)
        }
    }

    // MARK: - Decoding

    /// The text for `ids`; `skipSpecialTokens` drops tokens marked special (HF `skip_special_tokens`).
    public func decode(_ ids: [Int], skipSpecialTokens: Bool = false) -> String {
        switch engine {
        case .pipeline(let p): return p.decode(ids, skipSpecialTokens: skipSpecialTokens)
        case .scored(let v): return v.decode(ids, skipSpecialTokens: skipSpecialTokens)
        }
    }

    /// The vocabulary string of one id (byte-level or ▁ alphabet), or nil when out of range.
    public func token(forID id: Int) -> String? {
        switch engine {
        case .pipeline(let p): return p.token(id)
        case .scored(let v): return id >= 0 && id < v.pieces.count ? v.pieces[id] : nil
        }
    }

    /// The id of a vocabulary string or added token.
    public func id(forToken token: String) -> Int? {
        switch engine {
        case .pipeline(let p):
            if let a = p.addedByContent[token] { return a.id }
            return p.model.vocab[token].map(Int.init)
        case .scored(let v): return v.lookup[token].map(Int.init)
        }
    }

    /// Whether `id` is a special token (an added token marked special, or a control token of a llama2.c / GGUF
    /// vocabulary): BOS, EOS, end-of-turn markers. Training data checks that an end-of-turn token is trained.
    public func isSpecial(_ id: Int) -> Bool {
        switch engine {
        case .pipeline(let p): return p.addedByID[id]?.special ?? false
        case .scored(let v): return v.specialIDs.contains(Int32(id))
        }
    }

    /// Number of ids (vocabulary plus added tokens beyond it).
    public var vocabularySize: Int {
        switch engine {
        case .pipeline(let p): return max(p.model.idToToken.count, (p.addedByID.keys.max() ?? -1) + 1)
        case .scored(let v): return v.pieces.count
        }
    }
}

/// Names (and ids, when they resolve) of the special tokens a model uses.
public struct SpecialTokens: Sendable, Equatable {
    public var bos: String?
    public var eos: String?
    public var unk: String?
    public var pad: String?
    public var bosID: Int?
    public var eosID: Int?
    public var unkID: Int?
    public var padID: Int?
    /// A chat template found beside the tokenizer (tokenizer_config.json `chat_template` or GGUF).
    public var chatTemplate: String?

    public init(bos: String? = nil, eos: String? = nil, unk: String? = nil, pad: String? = nil) {
        self.bos = bos
        self.eos = eos
        self.unk = unk
        self.pad = pad
    }
}

/// The HF `tokenizers` pipeline.
struct Pipeline: Sendable {
    let model: BPEModel
    let normalizer: Normalizer?
    let preTokenizer: PreTokenizer?
    let post: PostProcessor
    let decoder: Decoder?
    /// Added tokens matched in raw text (normalized: false) and in normalized text (normalized: true).
    let rawMatcher: AddedTokenMatcher
    let normalizedMatcher: AddedTokenMatcher
    let addedByID: [Int: AddedToken]
    let addedByContent: [String: AddedToken]

    func token(_ id: Int) -> String? {
        if let a = addedByID[id] { return a.content }
        guard id >= 0 && id < model.idToToken.count else { return nil }
        return model.idToToken[id]
    }

    /// Steps 1-4 of the pipeline (no post-processor).
    func encodeRaw(_ text: String) -> [Int32] {
        let s = Array(scalarsOf: text)
        var ids: [Int32] = []
        ids.reserveCapacity(s.count / 3 + 4)
        for segment in rawMatcher.split(s) {
            switch segment {
            case .token(let t):
                ids.append(Int32(t.id))
            case let .text(start, end):
                var normalized = Array(s[start..<end])
                if let normalizer { normalized = normalizer.apply(normalized) }
                for inner in normalizedMatcher.split(normalized) {
                    switch inner {
                    case .token(let t):
                        ids.append(Int32(t.id))
                    case let .text(a, b):
                        let piece = Piece(scalars: Array(normalized[a..<b]), atStart: start == 0 && a == 0)
                        if let preTokenizer {
                            for p in preTokenizer.apply([piece]) { model.tokenize(p.scalars, into: &ids) }
                        } else {
                            model.tokenize(piece.scalars, into: &ids)
                        }
                    }
                }
            }
        }
        return ids
    }

    func decode(_ ids: [Int], skipSpecialTokens: Bool) -> String {
        var tokens: [String] = []
        tokens.reserveCapacity(ids.count)
        for id in ids {
            if let a = addedByID[id] {
                if skipSpecialTokens && a.special { continue }
                tokens.append(a.content)
            } else if id >= 0 && id < model.idToToken.count {
                tokens.append(model.idToToken[id])
            }
        }
        guard let decoder else { return tokens.joined(separator: " ") }
        return decoder.apply(tokens).joined()
    }
}
