import Foundation

extension Tokenizer {
    /// Builds a tokenizer from a GGUF file's `tokenizer.ggml.*` keys (formats.md §5.7).
    ///
    /// `gpt2` vocabularies become the byte-level BPE pipeline with the pre-tokenizer named by `tokenizer.ggml.pre`;
    /// `llama` vocabularies use score-driven SentencePiece BPE like llama.cpp's SPM tokenizer. CONTROL tokens are
    /// special added tokens and USER_DEFINED tokens plain added tokens, both matched before BPE.
    public convenience init(gguf path: String) throws {
        let meta: GGUFFile
        do { meta = try GGUFFile(path: path) } catch { throw TokenizerError.malformed(file: path, reason: error.description) }
        func require(_ key: String) throws -> GGUFValue {
            guard let v = meta[key] else { throw TokenizerError.missingKey(file: path, key: key) }
            return v
        }
        guard let model = try require("tokenizer.ggml.model").asString else {
            throw TokenizerError.invalidValue(file: path, key: "tokenizer.ggml.model", reason: "expected a string")
        }
        guard let tokenValues = try require("tokenizer.ggml.tokens").asArray else {
            throw TokenizerError.invalidValue(file: path, key: "tokenizer.ggml.tokens", reason: "expected an array of strings")
        }
        let tokens = try tokenValues.enumerated().map { i, v -> String in
            guard let s = v.asString else { throw TokenizerError.invalidValue(file: path, key: "tokenizer.ggml.tokens[\(i)]", reason: "expected a string") }
            return s
        }
        let types = (meta["tokenizer.ggml.token_type"]?.asArray ?? []).map { $0.asInt ?? 1 }
        /// A special-token id, ignored unless it names a token of this vocabulary.
        func id(_ key: String) -> Int? { meta[key]?.asInt.flatMap { $0 >= 0 && $0 < tokens.count ? $0 : nil } }
        var special = SpecialTokens()
        special.bosID = id("tokenizer.ggml.bos_token_id")
        special.eosID = id("tokenizer.ggml.eos_token_id")
        special.unkID = id("tokenizer.ggml.unknown_token_id")
        special.padID = id("tokenizer.ggml.padding_token_id")
        let name = { (i: Int?) -> String? in i.flatMap { $0 >= 0 && $0 < tokens.count ? tokens[$0] : nil } }
        special.bos = name(special.bosID)
        special.eos = name(special.eosID)
        special.unk = name(special.unkID)
        special.pad = name(special.padID)
        special.chatTemplate = meta["tokenizer.chat_template"]?.asString

        switch model {
        case "llama":
            guard let scoreValues = meta["tokenizer.ggml.scores"]?.asArray, scoreValues.count == tokens.count else {
                throw TokenizerError.invalidValue(file: path, key: "tokenizer.ggml.scores", reason: "expected one float per token")
            }
            let scores = scoreValues.map { Float($0.asDouble ?? 0) }
            var specialIDs = Set<Int32>()
            for (i, t) in types.enumerated() where t == 3 { specialIDs.insert(Int32(i)) }
            let addBOS = meta["tokenizer.ggml.add_bos_token"]?.asBool ?? true
            let vocabulary = ScoredVocabulary(
                pieces: tokens, scores: scores, bos: addBOS ? special.bosID.map(Int32.init) : nil,
                eos: special.eosID.map(Int32.init), space: "\u{2581}",
                addSpacePrefix: meta["tokenizer.ggml.add_space_prefix"]?.asBool ?? true, specialIDs: specialIDs)
            self.init(engine: .scored(vocabulary), source: path, specialTokens: special)
        case "gpt2":
            guard let mergeValues = meta["tokenizer.ggml.merges"]?.asArray else {
                throw TokenizerError.missingKey(file: path, key: "tokenizer.ggml.merges")
            }
            var merges: [(String, String)] = []
            for (i, v) in mergeValues.enumerated() {
                guard let s = v.asString else { throw TokenizerError.invalidValue(file: path, key: "tokenizer.ggml.merges[\(i)]", reason: "expected a string") }
                let parts = s.split(separator: " ", omittingEmptySubsequences: false)
                guard parts.count == 2 else {
                    throw TokenizerError.invalidValue(file: path, key: "tokenizer.ggml.merges[\(i)]", reason: "expected 'a b', got '\(s)'")
                }
                merges.append((String(parts[0]), String(parts[1])))
            }
            let pre = meta["tokenizer.ggml.pre"]?.asString ?? "gpt-2"
            let preTokenizer: PreTokenizer
            var ignoreMerges = false
            switch pre {
            case "gpt-2", "gpt2":
                preTokenizer = .byteLevel(addPrefixSpace: false, useRegex: true)
            case "llama-bpe", "llama3", "llama-v3":
                preTokenizer = .sequence([.split(pattern: .llama3(maxDigits: 3), behavior: .isolated, invert: false),
                                          .byteLevel(addPrefixSpace: false, useRegex: false)])
                ignoreMerges = true
            case "qwen2":
                preTokenizer = .sequence([.split(pattern: .llama3(maxDigits: 1), behavior: .isolated, invert: false),
                                          .byteLevel(addPrefixSpace: false, useRegex: false)])
            case "smollm":
                preTokenizer = .sequence([.digits(individual: true), .byteLevel(addPrefixSpace: false, useRegex: true)])
            default:
                throw TokenizerError.unsupported(file: path, key: "tokenizer.ggml.pre", component: "BPE pre-tokenizer '\(pre)'")
            }
            var vocab: [String: Int32] = [:]
            var added: [AddedToken] = []
            for (i, t) in tokens.enumerated() {
                if vocab[t] == nil { vocab[t] = Int32(i) }
                let type = i < types.count ? types[i] : 1
                if type == 3 || type == 4 {
                    added.append(AddedToken(id: i, content: t, singleWord: false, lstrip: false, rstrip: false,
                                            normalized: false, special: type == 3))
                }
            }
            let bpe = try BPEModel(vocab: vocab, merges: merges, unk: nil, fuseUnk: false, byteFallback: false,
                                   ignoreMerges: ignoreMerges, file: path)
            var byID: [Int: AddedToken] = [:]
            var byContent: [String: AddedToken] = [:]
            for a in added { byID[a.id] = a; byContent[a.content] = a }
            let addBOS = meta["tokenizer.ggml.add_bos_token"]?.asBool ?? false
            let post: PostProcessor = addBOS && special.bosID != nil
                ? .template(single: [.special([Int32(special.bosID ?? 0)]), .sequenceA],
                            pair: [.special([Int32(special.bosID ?? 0)]), .sequenceA, .sequenceB])
                : .none
            let pipeline = Pipeline(model: bpe, normalizer: nil, preTokenizer: preTokenizer, post: post, decoder: .byteLevel,
                                    rawMatcher: AddedTokenMatcher(added), normalizedMatcher: AddedTokenMatcher([]),
                                    addedByID: byID, addedByContent: byContent)
            self.init(engine: .pipeline(pipeline), source: path, specialTokens: special)
        default:
            throw TokenizerError.unsupported(file: path, key: "tokenizer.ggml.model", component: "vocabulary model '\(model)'")
        }
    }
}
