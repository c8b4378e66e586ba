import Foundation

/// One metadata value of a GGUF file (formats.md §5.2).
enum GGUFValue: Sendable {
    case uint(UInt64)
    case int(Int64)
    case float(Double)
    case bool(Bool)
    case string(String)
    case array([GGUFValue])

    var asString: String? { if case .string(let s) = self { return s } else { return nil } }
    var asInt: Int? {
        switch self {
        case .uint(let v): return Int(exactly: v)
        case .int(let v): return Int(exactly: v)
        default: return nil
        }
    }
    var asBool: Bool? { if case .bool(let b) = self { return b } else { return nil } }
    var asArray: [GGUFValue]? { if case .array(let a) = self { return a } else { return nil } }
    var asDouble: Double? {
        switch self {
        case .float(let v): return v
        case .uint(let v): return Double(v)
        case .int(let v): return Double(v)
        default: return nil
        }
    }
}

/// Reads the header and key/value section of a GGUF v2/v3 file (tensor infos and data are not needed for a
/// vocabulary). Every read is bounds-checked, so a truncated file is an error naming the offset, never a crash.
struct GGUFMetadata {
    let version: UInt32
    let values: [String: GGUFValue]

    init(path: String) throws {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped)
        } catch {
            throw TokenizerError.unreadable(file: path, reason: error.localizedDescription)
        }
        var r = ByteReader(data: data, file: path)
        let magic = try r.bytes(4, "magic")
        guard Array(magic) == Array("GGUF".utf8) else { throw TokenizerError.malformed(file: path, reason: "not a GGUF file (bad magic)") }
        version = try r.u32("version")
        guard version == 2 || version == 3 else { throw TokenizerError.malformed(file: path, reason: "unsupported GGUF version \(version)") }
        _ = try r.u64("tensor_count")
        let count = try r.u64("kv_count")
        // Each KV takes at least 12 bytes, which bounds an absurd count before allocating anything.
        guard count <= UInt64(data.count / 12) else { throw TokenizerError.malformed(file: path, reason: "kv_count \(count) exceeds the file size") }
        var values: [String: GGUFValue] = [:]
        for i in 0..<Int(count) {
            let key = try Self.string(&r, "key of KV \(i)")
            let type = try r.u32("type of '\(key)'")
            guard values[key] == nil else { throw TokenizerError.malformed(file: path, reason: "duplicate key '\(key)'") }
            values[key] = try Self.value(&r, type: type, what: key)
        }
        self.values = values
    }

    static func string(_ r: inout ByteReader, _ what: String) throws -> String {
        let n = try r.u64("length of \(what)")
        guard n <= UInt64(Int.max) else { throw TokenizerError.malformed(file: r.file, reason: "length of \(what) too large") }
        return String(decoding: try r.bytes(Int(n), what), as: UTF8.self)
    }

    static func value(_ r: inout ByteReader, type: UInt32, what: String) throws -> GGUFValue {
        switch type {
        case 0: return .uint(UInt64(try r.u8(what)))
        case 1: return .int(Int64(Int8(bitPattern: try r.u8(what))))
        case 2: let b = try r.bytes(2, what); return .uint(UInt64(b[b.startIndex]) | UInt64(b[b.startIndex + 1]) << 8)
        case 3:
            let b = try r.bytes(2, what)
            return .int(Int64(Int16(bitPattern: UInt16(b[b.startIndex]) | UInt16(b[b.startIndex + 1]) << 8)))
        case 4: return .uint(UInt64(try r.u32(what)))
        case 5: return .int(Int64(Int32(bitPattern: try r.u32(what))))
        case 6: return .float(Double(Float(bitPattern: try r.u32(what))))
        case 7:
            let b = try r.u8(what)
            guard b <= 1 else { throw TokenizerError.malformed(file: r.file, reason: "'\(what)': bool byte \(b)") }
            return .bool(b == 1)
        case 8: return .string(try string(&r, what))
        case 9:
            let elementType = try r.u32("element type of '\(what)'")
            let n = try r.u64("count of '\(what)'")
            guard n <= UInt64(r.data.count - r.offset) else {
                throw TokenizerError.malformed(file: r.file, reason: "'\(what)': array count \(n) exceeds the remaining \(r.data.count - r.offset) bytes")
            }
            var items: [GGUFValue] = []
            items.reserveCapacity(Int(n))
            for i in 0..<Int(n) { items.append(try value(&r, type: elementType, what: "\(what)[\(i)]")) }
            return .array(items)
        case 10: return .uint(try r.u64(what))
        case 11: return .int(Int64(bitPattern: try r.u64(what)))
        case 12: return .float(Double(bitPattern: try r.u64(what)))
        default: throw TokenizerError.malformed(file: r.file, reason: "'\(what)': unknown value type \(type)")
        }
    }
}

extension Tokenizer {
    /// Builds a tokenizer from a GGUF file's `tokenizer.ggml.*` keys (formats.md §5.7).
    ///
    /// `gpt2` vocabularies become the byte-level BPE pipeline with the pre-tokenizer named by `tokenizer.ggml.pre`;
    /// `llama` vocabularies use score-driven SentencePiece BPE like llama.cpp's SPM tokenizer. CONTROL tokens are
    /// special added tokens and USER_DEFINED tokens plain added tokens, both matched before BPE.
    public convenience init(gguf path: String) throws {
        let meta = try GGUFMetadata(path: path)
        func require(_ key: String) throws -> GGUFValue {
            guard let v = meta.values[key] else { throw TokenizerError.missingKey(file: path, key: key) }
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
        let types = (meta.values["tokenizer.ggml.token_type"]?.asArray ?? []).map { $0.asInt ?? 1 }
        /// A special-token id, ignored unless it names a token of this vocabulary.
        func id(_ key: String) -> Int? { meta.values[key]?.asInt.flatMap { $0 >= 0 && $0 < tokens.count ? $0 : nil } }
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
        special.chatTemplate = meta.values["tokenizer.chat_template"]?.asString

        switch model {
        case "llama":
            guard let scoreValues = meta.values["tokenizer.ggml.scores"]?.asArray, scoreValues.count == tokens.count else {
                throw TokenizerError.invalidValue(file: path, key: "tokenizer.ggml.scores", reason: "expected one float per token")
            }
            let scores = scoreValues.map { Float($0.asDouble ?? 0) }
            var specialIDs = Set<Int32>()
            for (i, t) in types.enumerated() where t == 3 { specialIDs.insert(Int32(i)) }
            let addBOS = meta.values["tokenizer.ggml.add_bos_token"]?.asBool ?? true
            let vocabulary = ScoredVocabulary(
                pieces: tokens, scores: scores, bos: addBOS ? special.bosID.map(Int32.init) : nil,
                eos: special.eosID.map(Int32.init), space: "\u{2581}",
                addSpacePrefix: meta.values["tokenizer.ggml.add_space_prefix"]?.asBool ?? true, specialIDs: specialIDs)
            self.init(engine: .scored(vocabulary), source: path, specialTokens: special)
        case "gpt2":
            guard let mergeValues = meta.values["tokenizer.ggml.merges"]?.asArray else {
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
            let pre = meta.values["tokenizer.ggml.pre"]?.asString ?? "gpt-2"
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
            let addBOS = meta.values["tokenizer.ggml.add_bos_token"]?.asBool ?? false
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
