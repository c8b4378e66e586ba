import Foundation

extension Tokenizer {
    /// Reads a Hugging Face tokenizer.json, plus tokenizer_config.json and special_tokens_map.json when they sit
    /// beside it (for special-token names and the chat template; the ids themselves come from tokenizer.json).
    public convenience init(tokenizerJSON path: String) throws {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw TokenizerError.unreadable(file: path, reason: error.localizedDescription)
        }
        let root = try JSONObject.parse(data: data, file: path)
        let pipeline = try Pipeline(json: root)
        var special = SpecialTokens()
        let folder = (path as NSString).deletingLastPathComponent
        for name in ["special_tokens_map.json", "tokenizer_config.json"] {
            let side = (folder as NSString).appendingPathComponent(name)
            guard let sideData = FileManager.default.contents(atPath: side) else { continue }
            let config = try JSONObject.parse(data: sideData, file: side)
            special.bos = try config.tokenName("bos_token") ?? special.bos
            special.eos = try config.tokenName("eos_token") ?? special.eos
            special.unk = try config.tokenName("unk_token") ?? special.unk
            special.pad = try config.tokenName("pad_token") ?? special.pad
            if let template = config.raw["chat_template"] as? String { special.chatTemplate = template }
        }
        let lookup = { (name: String?) -> Int? in
            guard let name else { return nil }
            return pipeline.addedByContent[name]?.id ?? pipeline.model.vocab[name].map(Int.init)
        }
        special.bosID = lookup(special.bos)
        special.eosID = lookup(special.eos)
        special.unkID = lookup(special.unk)
        special.padID = lookup(special.pad)
        self.init(engine: .pipeline(pipeline), source: path, specialTokens: special)
    }
}

extension JSONObject {
    /// A special-token entry of tokenizer_config.json: a string, null, or an AddedToken object with `content`.
    func tokenName(_ key: String) throws -> String? {
        guard has(key) else { return nil }
        if let s = raw[key] as? String { return s }
        if let o = raw[key] as? [String: Any], let s = o["content"] as? String { return s }
        throw wrong(key, "a string or an object with 'content'")
    }
}

extension Pipeline {
    init(json root: JSONObject) throws {
        let file = root.file
        for key in ["truncation", "padding"] where root.has(key) {
            throw TokenizerError.unsupported(file: file, key: key, component: "\(key) settings (must be null)")
        }
        // Added tokens.
        var added: [AddedToken] = []
        if root.has("added_tokens") {
            for o in try root.objects("added_tokens") {
                let id = try o.int("id")
                guard id >= 0 && id <= Int(Int32.max) else { throw o.wrong("id", "an id between 0 and \(Int32.max)") }
                added.append(AddedToken(
                    id: id, content: try o.string("content"),
                    singleWord: try o.bool("single_word", default: false), lstrip: try o.bool("lstrip", default: false),
                    rstrip: try o.bool("rstrip", default: false), normalized: try o.bool("normalized", default: true),
                    special: try o.bool("special", default: false)))
            }
        }
        rawMatcher = AddedTokenMatcher(added.filter { !$0.normalized })

        model = try Self.model(try root.object("model"))
        let normalizer = try root.optionalObject("normalizer").map(Self.normalizer)
        self.normalizer = normalizer
        // Tokens with normalized: true are searched in normalized text, so their content is normalized too
        // (added_vocabulary.rs builds that trie from normalized contents).
        // HF also reports (and decodes) such a token by its normalized content.
        var byID: [Int: AddedToken] = [:]
        var byContent: [String: AddedToken] = [:]
        var normalizedTokens: [AddedToken] = []
        for token in added {
            var t = token
            if t.normalized, let normalizer {
                t.content = normalizer.apply(Array(scalarsOf: t.content)).string
                normalizedTokens.append(t)
            } else if t.normalized {
                normalizedTokens.append(t)
            }
            byID[t.id] = t
            byContent[token.content] = t
            byContent[t.content] = t
        }
        addedByID = byID
        addedByContent = byContent
        normalizedMatcher = AddedTokenMatcher(normalizedTokens)
        preTokenizer = try root.optionalObject("pre_tokenizer").map(Self.preTokenizer)
        decoder = try root.optionalObject("decoder").map(Self.decoder)
        post = try root.optionalObject("post_processor").map(Self.postProcessor) ?? PostProcessor.none
    }

    static func model(_ o: JSONObject) throws -> BPEModel {
        let type = o.has("type") ? try o.type() : "BPE"
        guard type == "BPE" else { throw TokenizerError.unsupported(file: o.file, key: o.keyPath("type"), component: "model type '\(type)'") }
        if o.has("dropout") {
            throw TokenizerError.unsupported(file: o.file, key: o.keyPath("dropout"), component: "BPE dropout (must be null)")
        }
        for key in ["continuing_subword_prefix", "end_of_word_suffix"] {
            if let v = try o.optionalString(key), !v.isEmpty {
                throw TokenizerError.unsupported(file: o.file, key: o.keyPath(key), component: "non-empty \(key) '\(v)'")
            }
        }
        guard let rawVocab = try o.require("vocab") as? [String: Any] else { throw o.wrong("vocab", "an object of token → id") }
        var vocab: [String: Int32] = [:]
        vocab.reserveCapacity(rawVocab.count)
        for (token, value) in rawVocab {
            guard let n = value as? NSNumber, let id = Int32(exactly: n.doubleValue), id >= 0 else {
                throw o.wrong("vocab[\(token)]", "a non-negative integer id")
            }
            vocab[token] = id
        }
        var merges: [(String, String)] = []
        let rawMerges = try o.array("merges")
        merges.reserveCapacity(rawMerges.count)
        for (i, m) in rawMerges.enumerated() {
            if let s = m as? String {
                if s.hasPrefix("#version") { continue }
                let parts = s.split(separator: " ", omittingEmptySubsequences: false)
                guard parts.count == 2 else { throw o.wrong("merges[\(i)]", "\"a b\" with exactly one space, got '\(s)'") }
                merges.append((String(parts[0]), String(parts[1])))
            } else if let pair = m as? [Any], pair.count == 2, let a = pair[0] as? String, let b = pair[1] as? String {
                merges.append((a, b))
            } else {
                throw o.wrong("merges[\(i)]", "a string \"a b\" or a pair [\"a\", \"b\"]")
            }
        }
        return try BPEModel(vocab: vocab, merges: merges, unk: try o.optionalString("unk_token"),
                            fuseUnk: try o.bool("fuse_unk", default: false), byteFallback: try o.bool("byte_fallback", default: false),
                            ignoreMerges: try o.bool("ignore_merges", default: false), file: o.file)
    }

    static func literalPattern(_ o: JSONObject, component: String) throws -> [UInt32] {
        let p = try o.object("pattern")
        if let s = p.raw["String"] as? String { return Array(scalarsOf: s) }
        if let r = p.raw["Regex"] as? String {
            throw TokenizerError.unsupported(file: o.file, key: p.keyPath("Regex"), component: "\(component) regex pattern '\(r)'")
        }
        throw p.wrong("String", "a String or Regex pattern")
    }

    static func normalizer(_ o: JSONObject) throws -> Normalizer {
        let type = try o.type()
        switch type {
        case "NFC": return .nfc
        case "NFD": return .nfd
        case "NFKC": return .nfkc
        case "NFKD": return .nfkd
        case "Lowercase": return .lowercase
        case "Replace":
            return .replace(pattern: try literalPattern(o, component: "Replace normalizer"), content: Array(scalarsOf: try o.string("content")))
        case "Prepend": return .prepend(Array(scalarsOf: try o.string("prepend")))
        case "Strip": return .strip(left: try o.bool("strip_left", default: true), right: try o.bool("strip_right", default: true))
        case "Sequence": return .sequence(try o.objects("normalizers").map(normalizer))
        default: throw TokenizerError.unsupported(file: o.file, key: o.keyPath("type"), component: "normalizer type '\(type)'")
        }
    }

    static func preTokenizer(_ o: JSONObject) throws -> PreTokenizer {
        let type = try o.type()
        switch type {
        case "ByteLevel":
            return .byteLevel(addPrefixSpace: try o.bool("add_prefix_space", default: true), useRegex: try o.bool("use_regex", default: true))
        case "Split":
            let p = try o.object("pattern")
            let pattern: SplitPattern
            if let s = p.raw["String"] as? String {
                pattern = .literal(Array(scalarsOf: s))
            } else if let r = p.raw["Regex"] as? String {
                guard let known = SplitPattern.regex(r) else {
                    throw TokenizerError.unsupported(file: o.file, key: p.keyPath("Regex"), component: "Split regex '\(r)' (Whittle matches only the GPT-2, Llama-3 and Qwen2 patterns)")
                }
                pattern = known
            } else {
                throw p.wrong("Regex", "a Regex or String pattern")
            }
            let b = try o.string("behavior")
            guard let behavior = SplitBehavior(rawValue: b) else {
                throw TokenizerError.unsupported(file: o.file, key: o.keyPath("behavior"), component: "Split behavior '\(b)'")
            }
            return .split(pattern: pattern, behavior: behavior, invert: try o.bool("invert", default: false))
        case "Metaspace":
            let (replacement, scheme) = try metaspaceSettings(o)
            return .metaspace(replacement: replacement.value, scheme: scheme, split: try o.bool("split", default: true))
        case "Digits": return .digits(individual: try o.bool("individual_digits", default: false))
        case "Sequence": return .sequence(try o.objects("pretokenizers").map(preTokenizer))
        default: throw TokenizerError.unsupported(file: o.file, key: o.keyPath("type"), component: "pre_tokenizer type '\(type)'")
        }
    }

    static func metaspaceSettings(_ o: JSONObject) throws -> (Unicode.Scalar, PrependScheme) {
        let r = try o.string("replacement")
        guard r.unicodeScalars.count == 1, let replacement = r.unicodeScalars.first else {
            throw o.wrong("replacement", "a single character")
        }
        var scheme = PrependScheme.always
        if let s = try o.optionalString("prepend_scheme") {
            guard let parsed = PrependScheme(rawValue: s) else { throw o.wrong("prepend_scheme", "first, always or never") }
            scheme = parsed
        } else if try !o.bool("add_prefix_space", default: true) {
            scheme = .never
        }
        return (replacement, scheme)
    }

    static func decoder(_ o: JSONObject) throws -> Decoder {
        let type = try o.type()
        switch type {
        case "ByteLevel": return .byteLevel
        case "Metaspace":
            let (replacement, scheme) = try metaspaceSettings(o)
            return .metaspace(replacement: replacement, scheme: scheme)
        case "Replace":
            return .replace(pattern: try literalPattern(o, component: "Replace decoder").string, content: try o.string("content"))
        case "ByteFallback": return .byteFallback
        case "Fuse": return .fuse
        case "Strip":
            let c = try o.string("content")
            guard c.unicodeScalars.count == 1, let u = c.unicodeScalars.first else { throw o.wrong("content", "a single character") }
            return .strip(content: u, start: try o.int("start"), stop: try o.int("stop"))
        case "Sequence": return .sequence(try o.objects("decoders").map(decoder))
        default: throw TokenizerError.unsupported(file: o.file, key: o.keyPath("type"), component: "decoder type '\(type)'")
        }
    }

    static func postProcessor(_ o: JSONObject) throws -> PostProcessor {
        let type = try o.type()
        switch type {
        case "ByteLevel": return .none
        case "Sequence": return .sequence(try o.objects("processors").map(postProcessor))
        case "TemplateProcessing":
            let specials = try o.object("special_tokens")
            func items(_ key: String) throws -> [PostProcessor.TemplateItem] {
                try o.objects(key).map { item in
                    if let seq = try item.optionalObject("Sequence") {
                        let id = try seq.string("id")
                        switch id {
                        case "A": return .sequenceA
                        case "B": return .sequenceB
                        default: throw seq.wrong("id", "A or B")
                        }
                    }
                    if let sp = try item.optionalObject("SpecialToken") {
                        let name = try sp.string("id")
                        let entry = try specials.object(name)
                        let ids = try entry.array("ids").enumerated().map { i, v -> Int32 in
                            guard let n = v as? NSNumber, let id = Int32(exactly: n.doubleValue) else { throw entry.wrong("ids[\(i)]", "an integer") }
                            return id
                        }
                        return .special(ids)
                    }
                    throw item.wrong("Sequence", "a Sequence or SpecialToken item")
                }
            }
            return .template(single: try items("single"), pair: try items("pair"))
        default: throw TokenizerError.unsupported(file: o.file, key: o.keyPath("type"), component: "post_processor type '\(type)'")
        }
    }
}
