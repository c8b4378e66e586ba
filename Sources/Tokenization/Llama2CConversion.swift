import Foundation

/// Converts a llama2.c `tokenizer.bin` into the Hugging Face files a Llama model folder carries
/// (`tokenizer.json`, `tokenizer_config.json`), as transformers' LlamaConverter makes them from the
/// SentencePiece model the .bin was exported from: BPE with byte fallback, merges recovered from the vocabulary
/// (every split of a piece into two pieces, in the order transformers' `generate_merges` gives them),
/// Metaspace pre-tokenization (prepend "▁" to the first word), BOS added.
public enum Llama2CConversion {
    public struct Files: Sendable {
        public var tokenizerJSON: String
        public var tokenizerConfigJSON: String
    }

    /// - Parameter contextLength: the model's sequence length (tokenizer_config.json `model_max_length`).
    public static func huggingFaceFiles(fromTokenizerBin path: String, contextLength: Int) throws -> Files {
        let (pieces, _) = try Tokenizer.readTokenizerBin(path)
        // llama2.c's export writes BOS and EOS as "\n<s>\n" and "\n</s>\n" and spaces as " "; SentencePiece spells
        // them "<s>", "</s>" and "▁".
        var vocab = pieces.map { $0.replacingOccurrences(of: " ", with: "\u{2581}") }
        vocab[0] = "<unk>"
        vocab[1] = "<s>"
        vocab[2] = "</s>"
        var ids: [String: Int] = [:]
        for (i, p) in vocab.enumerated() where ids[p] == nil { ids[p] = i }

        // Merges, as transformers' `generate_merges(vocab)` for SentencePiece BPE: for each piece (in id order), every
        // split into two known pieces, sorted by the halves' ids; then all of them by (the piece's id, length of the
        // left half, length of the right half), stably. (SentencePiece ids already follow the scores.)
        var merges: [(left: String, right: String, piece: Int, leftLength: Int, rightLength: Int, order: Int)] = []
        for (i, piece) in vocab.enumerated() {
            let scalars = Array(piece.unicodeScalars)
            guard scalars.count >= 2 else { continue }
            var local: [(String, String)] = []
            for k in 1..<scalars.count {
                let l = String(String.UnicodeScalarView(scalars[..<k])), r = String(String.UnicodeScalarView(scalars[k...]))
                if ids[l] != nil && ids[r] != nil { local.append((l, r)) }
            }
            local.sort { (ids[$0.0]!, ids[$0.1]!) < (ids[$1.0]!, ids[$1.1]!) }
            for (l, r) in local {
                merges.append((l, r, i, l.unicodeScalars.count, r.unicodeScalars.count, merges.count))
            }
        }
        merges.sort { ($0.piece, $0.leftLength, $0.rightLength, $0.order) < ($1.piece, $1.leftLength, $1.rightLength, $1.order) }

        let special: [JSONValue] = (0..<3).map { i in
            .object([("id", .integer(i)), ("content", .string(vocab[i])), ("single_word", .bool(false)), ("lstrip", .bool(false)),
                     ("rstrip", .bool(false)), ("normalized", .bool(false)), ("special", .bool(true))])
        }
        let bosRef: JSONValue = .object([("SpecialToken", .object([("id", .string("<s>")), ("type_id", .integer(0))]))])
        func seq(_ id: String, _ type: Int) -> JSONValue { .object([("Sequence", .object([("id", .string(id)), ("type_id", .integer(type))]))]) }
        let tokenizer: JSONValue = .object([
            ("version", .string("1.0")),
            ("truncation", .null),
            ("padding", .null),
            ("added_tokens", .array(special)),
            ("normalizer", .null),
            ("pre_tokenizer", .object([("type", .string("Metaspace")), ("replacement", .string("\u{2581}")),
                                       ("prepend_scheme", .string("first")), ("split", .bool(false))])),
            ("post_processor", .object([
                ("type", .string("TemplateProcessing")),
                ("single", .array([bosRef, seq("A", 0)])),
                ("pair", .array([bosRef, seq("A", 0),
                                 .object([("SpecialToken", .object([("id", .string("<s>")), ("type_id", .integer(1))]))]), seq("B", 1)])),
                ("special_tokens", .object([("<s>", .object([("id", .string("<s>")), ("ids", .array([.integer(1)])),
                                                             ("tokens", .array([.string("<s>")]))]))])),
            ])),
            ("decoder", .object([("type", .string("Sequence")), ("decoders", .array([
                .object([("type", .string("Replace")), ("pattern", .object([("String", .string("\u{2581}"))])), ("content", .string(" "))]),
                .object([("type", .string("ByteFallback"))]),
                .object([("type", .string("Fuse"))]),
                .object([("type", .string("Strip")), ("content", .string(" ")), ("start", .integer(1)), ("stop", .integer(0))]),
            ]))])),
            ("model", .object([
                ("type", .string("BPE")), ("dropout", .null), ("unk_token", .null),
                ("continuing_subword_prefix", .null), ("end_of_word_suffix", .null), ("fuse_unk", .bool(true)),
                ("byte_fallback", .bool(true)), ("ignore_merges", .bool(false)),
                ("vocab", .object(vocab.enumerated().map { ($0.element, .integer($0.offset)) })),
                ("merges", .array(merges.map { .array([.string($0.left), .string($0.right)]) })),
            ])),
        ])
        let config: JSONValue = .object([
            ("add_bos_token", .bool(true)), ("add_eos_token", .bool(false)),
            ("bos_token", .string("<s>")), ("eos_token", .string("</s>")), ("unk_token", .string("<unk>")),
            ("clean_up_tokenization_spaces", .bool(false)), ("legacy", .bool(false)),
            ("model_max_length", .integer(contextLength)), ("tokenizer_class", .string("LlamaTokenizer")),
        ])
        return Files(tokenizerJSON: tokenizer.serialized(indent: 2) + "\n", tokenizerConfigJSON: config.serialized(indent: 2) + "\n")
    }
}
