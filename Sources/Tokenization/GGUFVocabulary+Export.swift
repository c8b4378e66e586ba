import Foundation

/// The `tokenizer.*` metadata of a GGUF file built from a Hugging Face tokenizer folder (tokenizer.json, plus
/// tokenizer_config.json, chat_template.jinja and config.json when present), following llama.cpp's converter
/// (formats.md §5.7): `convert_hf_to_gguf.py` `_set_vocab_gpt2` / `_set_vocab_llama_hf` and gguf-py's
/// `SpecialVocab`, key by key and in the same order, so llama.cpp and Ollama see what they would see after converting
/// the folder themselves.
///
/// Two vocabulary kinds:
/// - `gpt2` (byte-level BPE: no byte fallback): every id below the model's vocabulary size becomes a token (missing ids
///   `[PAD<i>]`, UNUSED); added tokens are CONTROL when special or when they look special (`<|…|>`), else
///   USER_DEFINED; merges are written as `"a b"` with spaces inside a part written as U+0120; `tokenizer.ggml.pre`
///   names the pre-tokenizer.
/// - `llama` (SentencePiece-style BPE with byte fallback, llama architecture only), as gguf-py's LlamaHfVocab:
///   `<0xHH>` tokens are BYTE, the special tokens tokenizer_config.json names CONTROL, added tokens beyond the base
///   vocabulary CONTROL when named, else USER_DEFINED.
///
/// Deliberate differences from the converter (each keeps the GGUF behaving like the model Whittle trained):
/// - `tokenizer.ggml.pre` is read from the tokenizer.json pre-tokenizer (GPT-2 ByteLevel → `gpt-2`, Llama-3 split →
///   `llama-bpe`, Qwen2 split → `qwen2`, Digits + ByteLevel → `smollm`) instead of hashing a test string against
///   known models, so fine-tuned and retrained tokenizers export too; anything else is refused.
/// - `llama` scores are not gguf-py's −1000 placeholder (with equal scores llama.cpp's SentencePiece merge becomes
///   leftmost-first and tokenizes differently from tokenizer.json). A token produced by merge rank r scores −r, every
///   other token −(number of merges) − 1, so llama.cpp's highest-score-first merge replays the BPE ranks.
/// - The vocabulary is padded with `[PAD<i>]` up to the model's vocabulary size for `llama` too (gguf-py's
///   LlamaHfVocab does not pad, which llama.cpp then rejects against `token_embd`).
/// - The chat template is the one Whittle trains with (chat_template.jinja before tokenizer_config.json, as
///   transformers does); gguf-py prefers tokenizer_config.json when both exist.
public struct GGUFVocabularyExport: Sendable {
    public enum Kind: String, Sendable { case gpt2, llama }

    public let kind: Kind
    /// Key/value pairs in the converter's order.
    public let metadata: [(key: String, value: GGUFValue)]
    /// Things the caller should tell the user (e.g. a tokenizer.model whose scores were not used).
    public let warnings: [String]
    /// Token strings by id (as written to `tokenizer.ggml.tokens`).
    public var tokens: [String] { metadata.first { $0.key == "tokenizer.ggml.tokens" }?.value.asStrings ?? [] }

    /// Tokens that look like control tokens to llama.cpp's converter (`does_token_look_special`).
    public static func looksSpecial(_ token: String) -> Bool {
        if ["<pad>", "<mask>", "<2mass>", "[@BOS@]"].contains(token) { return true }
        if token.hasPrefix("<|") && token.hasSuffix("|>") { return true }
        if token.hasPrefix("<\u{FF5C}") && token.hasSuffix("\u{FF5C}>") { return true }
        return token.hasPrefix("<unused") && token.hasSuffix(">")
    }

    /// - Parameters:
    ///   - folder: the tokenizer folder (tokenizer.json required).
    ///   - vocabularySize: the model's vocabulary size (rows of the embedding); ids at or beyond it are an error.
    ///   - sentencePieceAllowed: true for the llama architecture (only `LlamaModel` tries the SentencePiece path);
    ///     other architectures always get a `gpt2` vocabulary and a SentencePiece-style tokenizer is refused.
    ///   - addSpacePrefixFromConfig: copy tokenizer_config.json `add_prefix_space` to `tokenizer.ggml.add_space_prefix`
    ///     (the llama converter does; the others do not).
    public init(folder: String, vocabularySize: Int, sentencePieceAllowed: Bool, addSpacePrefixFromConfig: Bool) throws {
        let jsonPath = (folder as NSString).appendingPathComponent("tokenizer.json")
        guard FileManager.default.fileExists(atPath: jsonPath) else {
            throw TokenizerError.unreadable(file: jsonPath, reason: "a GGUF needs the tokenizer: the folder has no tokenizer.json")
        }
        // The tokenizer must be one Whittle runs: that validates the file and gives the parsed pre-tokenizer.
        let tokenizer = try Tokenizer(tokenizerJSON: jsonPath)
        guard case .pipeline(let pipeline) = tokenizer.engine else {
            throw TokenizerError.unsupported(file: jsonPath, key: "model", component: "tokenizer for GGUF export")
        }
        let root = try Self.readJSON(jsonPath)
        let configPath = (folder as NSString).appendingPathComponent("tokenizer_config.json")
        let tokenizerConfig: JSONValue? = FileManager.default.fileExists(atPath: configPath) ? try Self.readJSON(configPath) : nil
        let modelConfigPath = (folder as NSString).appendingPathComponent("config.json")
        let modelConfig: JSONValue? = FileManager.default.fileExists(atPath: modelConfigPath) ? try Self.readJSON(modelConfigPath) : nil

        guard let model = root["model"], model.objectValue != nil else { throw TokenizerError.missingKey(file: jsonPath, key: "model") }
        guard case .object(let vocabPairs)? = model["vocab"] else { throw TokenizerError.missingKey(file: jsonPath, key: "model.vocab") }
        let byteFallback = model["byte_fallback"] == .bool(true)
        let ignoreMerges = model["ignore_merges"] == .bool(true)
        let decoderType = root["decoder"]?["type"]?.stringValue
        var added: [(id: Int, content: String, special: Bool, normalized: Bool)] = []
        for (i, a) in (root["added_tokens"]?.arrayValue ?? []).enumerated() {
            guard case .integer(let id)? = a["id"], let content = a["content"]?.stringValue else {
                throw TokenizerError.invalidValue(file: jsonPath, key: "added_tokens[\(i)]", reason: "expected an id and a content")
            }
            added.append((id, content, a["special"] == .bool(true), a["normalized"] != .bool(false)))
        }
        var vocab: [(String, Int)] = []
        vocab.reserveCapacity(vocabPairs.count)
        for (token, value) in vocabPairs {
            guard case .integer(let id) = value, id >= 0 else {
                throw TokenizerError.invalidValue(file: jsonPath, key: "model.vocab[\(token)]", reason: "expected a non-negative id")
            }
            vocab.append((token, id))
        }

        // LlamaHfVocab's test (a Llama-3 style file is byte-level even with the llama architecture).
        let isLlama3Style = ignoreMerges && !byteFallback
        let sentencePieceStyle = byteFallback && decoderType == "Sequence" && !isLlama3Style
        if sentencePieceStyle && !sentencePieceAllowed {
            throw TokenizerError.unsupported(file: jsonPath, key: "model.byte_fallback",
                                             component: "SentencePiece-style tokenizer for this architecture in GGUF (llama.cpp would run it as byte-level BPE)")
        }
        if !sentencePieceStyle && (byteFallback || decoderType != "ByteLevel") {
            throw TokenizerError.unsupported(file: jsonPath, key: "decoder",
                                             component: "vocabulary for GGUF: neither byte-level BPE (ByteLevel decoder, no byte fallback) nor SentencePiece-style BPE (byte fallback, Sequence decoder)")
        }
        kind = sentencePieceStyle ? .llama : .gpt2

        var warnings: [String] = []
        var out: [(key: String, value: GGUFValue)] = []
        func add(_ key: String, _ value: GGUFValue) {
            // gguf-py skips empty strings and empty arrays; a repeated key keeps its first position.
            if case .string(let s) = value, s.isEmpty { return }
            if case .array(_, let items) = value, items.isEmpty { return }
            if let i = out.firstIndex(where: { $0.key == key }) { out[i].value = value } else { out.append((key, value)) }
        }

        // The llama converter copies add_prefix_space before the vocabulary.
        if addSpacePrefixFromConfig, case .bool(let b)? = tokenizerConfig?["add_prefix_space"] {
            add("tokenizer.ggml.add_space_prefix", .bool(b))
        }

        var tokens: [String] = []
        var types: [Int32] = []
        let merges = try Self.merges(model, file: jsonPath)
        var nVocab: Int? = nil
        switch kind {
        case .gpt2:
            var reverse: [Int: String] = [:]
            for (token, id) in vocab { reverse[id] = token }
            var addedByID: [Int: (content: String, special: Bool, normalized: Bool)] = [:]
            var addedContents = Set<String>()
            for a in added { reverse[a.id] = a.content; addedByID[a.id] = (a.content, a.special, a.normalized); addedContents.insert(a.content) }
            if let maxID = reverse.keys.max(), maxID >= vocabularySize {
                throw TokenizerError.invalidValue(file: jsonPath, key: "model.vocab",
                                                  reason: "token id \(maxID) is outside the model's vocabulary of \(vocabularySize)")
            }
            let pre = try Self.preTokenizerName(pipeline, file: jsonPath)
            for i in 0..<vocabularySize {
                guard let token = reverse[i] else {
                    tokens.append("[PAD\(i)]"); types.append(5); continue
                }
                if addedContents.contains(token) {
                    let special = addedByID[i]?.special ?? false
                    if special || Self.looksSpecial(token) {
                        tokens.append(token); types.append(3)
                    } else {
                        tokens.append(token.replacingOccurrences(of: "\u{2581}", with: " ")); types.append(4)
                    }
                } else {
                    tokens.append(token); types.append(1)
                }
            }
            add("tokenizer.ggml.model", .string("gpt2"))
            add("tokenizer.ggml.pre", .string(pre))
            add("tokenizer.ggml.tokens", .strings(tokens))
            add("tokenizer.ggml.token_type", .int32s(types))
            // SpecialVocab(load_merges=True): merges from tokenizer.json.
            add("tokenizer.ggml.merges", .strings(merges.map { a, b in
                [a, b].map { $0.replacingOccurrences(of: " ", with: "\u{0120}") }.joined(separator: " ")
            }))
        case .llama:
            if FileManager.default.fileExists(atPath: (folder as NSString).appendingPathComponent("tokenizer.model")) {
                warnings.append("tokenizer.model is present but not read: GGUF token scores are derived from tokenizer.json's merge ranks")
            }
            let base = vocab.count
            var reverse: [Int: String] = [:]
            for (token, id) in vocab { reverse[id] = token }
            for a in added { reverse[a.id] = a.content }
            let specialIDs = Self.specialIDs(added: added, vocab: vocab, tokenizerConfig: tokenizerConfig)
            let specialContents = Set(specialIDs.compactMap { reverse[$0] })
            var scores: [Float] = []
            let unranked = -Float(merges.count) - 1
            var scoreOf: [String: Float] = [:]
            for (rank, (a, b)) in merges.enumerated() where scoreOf[a + b] == nil { scoreOf[a + b] = -Float(rank) }
            for id in 0..<base {
                guard let token = reverse[id] else {
                    throw TokenizerError.invalidValue(file: jsonPath, key: "model.vocab", reason: "no token has id \(id) (ids must be contiguous)")
                }
                tokens.append(token)
                scores.append(scoreOf[token] ?? unranked)
                types.append(Self.isByteToken(token) ? 6 : specialIDs.contains(id) ? 3 : 1)
            }
            for a in added.filter({ $0.id >= base }).sorted(by: { $0.id < $1.id }) {
                guard a.id == tokens.count else {
                    throw TokenizerError.invalidValue(file: jsonPath, key: "added_tokens",
                                                      reason: "added token '\(a.content)' has id \(a.id), expected \(tokens.count) (ids must follow the base vocabulary without gaps)")
                }
                tokens.append(a.content)
                scores.append(scoreOf[a.content] ?? unranked)
                types.append(specialContents.contains(a.content) ? 3 : 4)
            }
            guard tokens.count <= vocabularySize else {
                throw TokenizerError.invalidValue(file: jsonPath, key: "model.vocab",
                                                  reason: "\(tokens.count) tokens exceed the model's vocabulary of \(vocabularySize)")
            }
            while tokens.count < vocabularySize {
                tokens.append("[PAD\(tokens.count)]"); scores.append(unranked); types.append(5)
            }
            nVocab = tokens.count
            add("tokenizer.ggml.model", .string("llama"))
            add("tokenizer.ggml.pre", .string("default"))
            add("tokenizer.ggml.tokens", .strings(tokens))
            add("tokenizer.ggml.scores", .float32s(scores))
            add("tokenizer.ggml.token_type", .int32s(types))
        }

        // gguf-py SpecialVocab: ids, add_* flags, then the chat template.
        let special = try Self.specialVocab(root: root, added: added, tokenizerConfig: tokenizerConfig,
                                            modelConfig: modelConfig, nVocab: nVocab)
        let idKeys = ["bos": "bos_token_id", "eos": "eos_token_id", "unk": "unknown_token_id", "sep": "seperator_token_id",
                      "pad": "padding_token_id", "mask": "mask_token_id", "eot": "eot_token_id", "eom": "eom_token_id"]
        for (type, id) in special.ids {
            guard let key = idKeys[type], let v = UInt32(exactly: id) else { continue }
            add("tokenizer.ggml." + key, .uint32(v))
        }
        for (type, value) in special.add where ["bos", "eos", "sep"].contains(type) {
            add("tokenizer.ggml.add_\(type)_token", .bool(value))
        }
        if tokenizerConfig != nil, let chat = try ChatTemplateConfig.loadIfPresent(folder: URL(fileURLWithPath: folder)) {
            var names: [String] = []
            var defaultSource: String? = nil
            for t in chat.templates {
                let name = String(t.name.map { $0.isASCII && ($0.isLetter || $0.isNumber) ? $0 : "_" })
                if name == "default" { defaultSource = t.source; continue }
                guard !name.isEmpty else { continue }
                add("tokenizer.chat_template.\(name)", .string(t.source))
                if !names.contains(name) { names.append(name) }
            }
            add("tokenizer.chat_templates", .strings(names))
            if let defaultSource { add("tokenizer.chat_template", .string(defaultSource)) }
        }
        metadata = out
        self.warnings = warnings
    }

    // MARK: - Pieces

    static func readJSON(_ path: String) throws -> JSONValue {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TokenizerError.unreadable(file: path, reason: "no such file or not readable")
        }
        do {
            return try JSONParser.parse(String(decoding: data, as: UTF8.self), duplicateKeys: .lastWins)
        } catch {
            throw TokenizerError.invalidJSON(file: path, reason: error.description)
        }
    }

    /// `<0xHH>` (gguf-py: `re.fullmatch(br"<0x[0-9A-Fa-f]{2}>", text)`).
    static func isByteToken(_ t: String) -> Bool {
        let u = Array(t.utf8)
        guard u.count == 6, u[0] == 0x3C, u[1] == 0x30, u[2] == 0x78, u[5] == 0x3E else { return false }
        func hex(_ c: UInt8) -> Bool { (0x30...0x39).contains(c) || (0x41...0x46).contains(c) || (0x61...0x66).contains(c) }
        return hex(u[3]) && hex(u[4])
    }

    /// The merges of tokenizer.json in rank order (strings `"a b"` or pairs `["a", "b"]`).
    static func merges(_ model: JSONValue, file: String) throws -> [(String, String)] {
        var out: [(String, String)] = []
        for (i, m) in (model["merges"]?.arrayValue ?? []).enumerated() {
            switch m {
            case .string(let s):
                if s.hasPrefix("#version") { continue }
                let parts = s.split(separator: " ", omittingEmptySubsequences: false)
                guard parts.count == 2 else { throw TokenizerError.invalidValue(file: file, key: "model.merges[\(i)]", reason: "expected \"a b\"") }
                out.append((String(parts[0]), String(parts[1])))
            case .array(let pair):
                guard pair.count == 2, let a = pair[0].stringValue, let b = pair[1].stringValue else {
                    throw TokenizerError.invalidValue(file: file, key: "model.merges[\(i)]", reason: "expected a pair of strings")
                }
                out.append((a, b))
            default:
                throw TokenizerError.invalidValue(file: file, key: "model.merges[\(i)]", reason: "expected a string or a pair")
            }
        }
        return out
    }

    /// llama.cpp's pre-tokenizer name for the pipeline's pre-tokenizer (the inverse of `Tokenizer(gguf:)`).
    static func preTokenizerName(_ p: Pipeline, file: String) throws -> String {
        switch p.normalizer {
        case nil, .nfc?: break
        default:
            throw TokenizerError.unsupported(file: file, key: "normalizer", component: "normalizer for a GGUF byte-level vocabulary (llama.cpp applies none)")
        }
        switch p.preTokenizer {
        case .byteLevel(addPrefixSpace: false, useRegex: true)?:
            return "gpt-2"
        case .sequence(let steps)? where steps.count == 2:
            switch (steps[0], steps[1]) {
            case (.split(.llama3(maxDigits: 3), .isolated, false), .byteLevel(false, false)): return "llama-bpe"
            case (.split(.llama3(maxDigits: 1), .isolated, false), .byteLevel(false, false)): return "qwen2"
            case (.digits(individual: true), .byteLevel(false, true)): return "smollm"
            default: break
            }
        default: break
        }
        throw TokenizerError.unsupported(file: file, key: "pre_tokenizer",
                                         component: "pre-tokenizer for GGUF (Whittle maps GPT-2 ByteLevel, the Llama-3 and Qwen2 splits, and Digits + ByteLevel to llama.cpp's gpt-2, llama-bpe, qwen2 and smollm)")
    }

    /// A tokenizer_config.json special-token entry as gguf-py sees it: a string, an AddedToken object (compared as
    /// an object, so never equal to a token name), or absent.
    enum ConfigToken: Equatable {
        case name(String), object(content: String?), absent
        var string: String? { if case .name(let s) = self { s } else { nil } }
        var content: String? {
            switch self {
            case .name(let s): s
            case .object(let c): c
            case .absent: nil
            }
        }
        var isSet: Bool {
            switch self {
            case .name(let s): !s.isEmpty
            case .object: true
            case .absent: false
            }
        }
        init(_ v: JSONValue?) {
            switch v {
            case .string(let s)?: self = .name(s)
            case .object?: self = .object(content: v?["content"]?.stringValue)
            default: self = .absent
            }
        }
    }

    /// Ids LlamaHfVocab treats as special (transformers' `all_special_ids`): the tokens tokenizer_config.json names
    /// (bos/eos/unk/sep/pad/cls/mask and the additional / extra special tokens). An added token marked special but
    /// not named there is not among them (gguf-py gives it NORMAL or USER_DEFINED).
    static func specialIDs(added: [(id: Int, content: String, special: Bool, normalized: Bool)], vocab: [(String, Int)],
                           tokenizerConfig: JSONValue?) -> Set<Int> {
        var lookup: [String: Int] = [:]
        for (t, id) in vocab { lookup[t] = id }
        for a in added { lookup[a.content] = a.id }
        var names: [String] = []
        for key in ["bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"] {
            if let c = ConfigToken(tokenizerConfig?[key]).content { names.append(c) }
        }
        for key in ["additional_special_tokens", "extra_special_tokens"] {
            switch tokenizerConfig?[key] {
            case .array(let items)?: names += items.compactMap { ConfigToken($0).content }
            case .object(let pairs)?: names += pairs.compactMap { ConfigToken($0.value).content }
            default: break
            }
        }
        return Set(names.compactMap { lookup[$0] })
    }

    /// gguf-py `SpecialVocab._load`: special-token ids (insertion order) and add_* flags.
    static func specialVocab(root: JSONValue, added: [(id: Int, content: String, special: Bool, normalized: Bool)],
                             tokenizerConfig: JSONValue?, modelConfig: JSONValue?, nVocab: Int?) throws
        -> (ids: [(String, Int)], add: [(String, Bool)]) {
        var types = ["bos", "eos", "unk", "sep", "pad", "cls", "mask"]
        var ids: [(String, Int)] = []
        var addFlags: [(String, Bool)] = []
        func setAdd(_ t: String, _ v: Bool) {
            if let i = addFlags.firstIndex(where: { $0.0 == t }) { addFlags[i].1 = v } else { addFlags.append((t, v)) }
        }
        func setID(_ t: String, _ id: Int?) {
            guard let id, id >= 0 else { return }
            if let n = nVocab, id >= n { return }
            if ids.contains(where: { $0.0 == t }) { return }
            ids.append((t, id))
        }
        var tc: [String: ConfigToken] = [:]
        if let c = tokenizerConfig { for t in types { tc[t] = ConfigToken(c["\(t)_token"]) } }
        let hasConfig = tokenizerConfig != nil && !(tokenizerConfig?.objectValue?.isEmpty ?? true)
        var bos = tc["bos"] ?? .absent, eos = tc["eos"] ?? .absent
        let cls = tc["cls"] ?? .absent, sep = tc["sep"] ?? .absent
        if !bos.isSet, cls.isSet, hasConfig { bos = cls; tc["bos"] = cls }
        if !eos.isSet, sep.isSet, hasConfig { eos = sep; tc["eos"] = sep }

        // Crude TemplateProcessing parse, as gguf-py does it (leading/trailing special tokens of `single`, separator of `pair`).
        if let post = root["post_processor"], post.objectValue != nil {
            let processors = post["processors"]?.arrayValue ?? [post]
            for processor in processors where processor["type"]?.stringValue == "TemplateProcessing" {
                let single = processor["single"]?.arrayValue ?? []
                var pair = processor["pair"]?.arrayValue ?? []
                func specialID(_ item: JSONValue?) -> String? { item?["SpecialToken"]?["id"]?.stringValue }
                var first: String? = nil, last: String? = nil
                if single.count > 1 {
                    if let f = specialID(single.first), !f.isEmpty {
                        first = f
                        if !hasConfig { bos = .name(f) }
                        setAdd("bos", f == bos.string || f == cls.string)
                    }
                    if let l = specialID(single.last), !l.isEmpty {
                        last = l
                        if !hasConfig {
                            eos = .name(l)
                        } else if l != eos.string {
                            if !types.contains("eot") { types.append("eot"); tc["eot"] = eos }
                            else if !types.contains("eom") { types.append("eom"); tc["eom"] = eos }
                            eos = .name(l); tc["eos"] = eos
                        }
                        setAdd("eos", l == eos.string)
                    }
                }
                if !pair.isEmpty {
                    let start = first != nil && specialID(pair.first) == first ? 1 : 0
                    let stop = last != nil && specialID(pair.last) == last ? pair.count - 1 : pair.count
                    pair = start < stop ? Array(pair[start..<stop]) : []
                    if !pair.isEmpty {
                        let a = pair.first?["Sequence"]?["id"]?.stringValue, b = pair.last?["Sequence"]?["id"]?.stringValue
                        if a == "A", b == "B", pair.count > 2 {
                            let middle = Array(pair[1..<(pair.count - 1)])
                            var addSep = false
                            if let entry = specialID(middle.first) {
                                if (entry == sep.string || entry == eos.string) && last == nil { addSep = true }
                            }
                            if middle.count == 2, let entry = specialID(middle[1]) {
                                if entry == sep.string || entry == eos.string { addSep = true }
                            }
                            setAdd("sep", addSep)
                        }
                    }
                }
            }
        }
        if hasConfig, let c = tokenizerConfig {
            for t in types {
                if case .bool(let b)? = c["add_\(t)_token"] { setAdd(t, b) }
                guard let content = (tc[t] ?? .absent).content else { continue }
                setID(t, added.first { $0.content == content }?.id)
            }
        }
        if let m = modelConfig {
            for t in types {
                if case .integer(let id)? = m["\(t)_token_id"] { setID(t, id) }
            }
        }
        return (ids, addFlags)
    }
}
