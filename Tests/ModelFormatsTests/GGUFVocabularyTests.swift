import Foundation
import ModelFormats
import TestSupport
import Testing
import Tokenization

/// The GGUF vocabulary Whittle writes, against llama.cpp's own converter output and against HF `tokenizers` ids.
@Suite struct GGUFVocabularyTests {
    static let gpt2Folder = sharedAssets.appendingPathComponent("tokenizers/gpt2").path

    /// GPT-2's tokenizer folder gives the vocabulary llama.cpp's converter wrote into ggml-vocab-gpt-2.gguf (shipped
    /// with llama.cpp): tokens, token types, merges, pre-tokenizer and BOS/EOS ids.
    @Test func gpt2MatchesLlamaCppsVocabFile() throws {
        let vocabFile = try sharedAsset("tokenizers/gguf-vocab/ggml-vocab-gpt-2.gguf")
        let reference = try GGUFFile(path: vocabFile)
        let export = try GGUFVocabularyExport(folder: Self.gpt2Folder, vocabularySize: 50257, sentencePieceAllowed: false,
                                              addSpacePrefixFromConfig: false)
        let mine = Dictionary(export.metadata.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
        for key in ["tokenizer.ggml.model", "tokenizer.ggml.pre", "tokenizer.ggml.tokens", "tokenizer.ggml.token_type",
                    "tokenizer.ggml.merges", "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id"] {
            #expect(mine[key] != nil && mine[key] == reference[key], "\(key) differs from llama.cpp's file")
        }
        #expect(export.kind == .gpt2)
    }

    /// Writes `metadata` as a tensor-less GGUF and loads it as a tokenizer.
    static func tokenizer(_ export: GGUFVocabularyExport, _ scratch: Scratch) throws -> Tokenizer {
        var w = GGUFWriter()
        try w.set("general.architecture", .string("llama"))
        for (k, v) in export.metadata { try w.set(k, v) }
        let path = scratch.file("vocab.gguf")
        try w.write(to: path)
        return try Tokenizer(gguf: path)
    }

    /// The exported GPT-2 vocabulary, read back by Whittle's GGUF tokenizer, encodes as HF `tokenizers` does.
    @Test func gpt2VocabularyTokenizesLikeHF() throws {
        let export = try GGUFVocabularyExport(folder: Self.gpt2Folder, vocabularySize: 50257, sentencePieceAllowed: false,
                                              addSpacePrefixFromConfig: false)
        let scratch = try Scratch()
        let tok = try Self.tokenizer(export, scratch)
        let cases = try loadFixture("tokenizers/gpt2_cases.json")["cases"].array
        #expect(cases.count > 100)
        for c in cases where !c["text"].string.contains("<|endoftext|>") {
            #expect(tok.encode(c["text"].string, addSpecialTokens: false) == c["ids"].array.map(\.int), "\(c["text"].string.debugDescription)")
        }
    }

    /// A SentencePiece-style tokenizer.json (tok512) exported with merge-rank scores is tokenized by llama.cpp's
    /// highest-score-first merge (Whittle's GGUF `llama` tokenizer runs it) exactly as HF's BPE: the reason the scores
    /// replace gguf-py's −1000 placeholder. With the placeholder every score ties and merging goes leftmost-first.
    @Test func sentencePieceScoresReproduceHFTokenization() throws {
        let folder = try GGUFFixture.folder("llama")
        let export = try GGUFVocabularyExport(folder: folder, vocabularySize: 514, sentencePieceAllowed: true, addSpacePrefixFromConfig: true)
        #expect(export.kind == .llama)
        let scratch = try Scratch()
        let tok = try Self.tokenizer(export, scratch)
        // Skipped: texts with special-token markup (llama.cpp splits those out first, Whittle's GGUF `llama` tokenizer
        // does not), and texts starting with whitespace (llama.cpp always adds the space prefix, HF's Metaspace not
        // when the text already starts with one — a tokenizer difference, not a score one).
        let cases = try loadFixture("tokenizers/tok512_cases.json")["cases"].array.filter {
            let text = $0["text"].string
            return !text.contains("<") && !(text.unicodeScalars.first.map { $0 == " " || $0 == "\u{2581}" || $0 == "\n" || $0 == "\t" } ?? false)
        }
        var checked = 0
        for c in cases {
            let text = c["text"].string
            #expect(tok.encode(text, addSpecialTokens: true) == c["ids_with_special"].array.map(\.int), "\(text.debugDescription)")
            checked += 1
        }
        #expect(checked > 50)

        // The placeholder really is wrong: equal scores change the ids of ordinary text.
        let placeholder = export.metadata.map { kv -> (key: String, value: GGUFValue) in
            guard kv.key == "tokenizer.ggml.scores", case .array(_, let items) = kv.value else { return kv }
            return (kv.key, .float32s([Float](repeating: -1000, count: items.count)))
        }
        var w = GGUFWriter()
        for (k, v) in placeholder { try w.set(k, v) }
        try w.write(to: scratch.file("flat.gguf"))
        let flat = try Tokenizer(gguf: scratch.file("flat.gguf"))
        let differing = cases.filter { flat.encode($0["text"].string, addSpecialTokens: true) != $0["ids_with_special"].array.map(\.int) }
        #expect(differing.count > 10, "equal scores should tokenize differently")
    }

    /// Tokenizers llama.cpp could not run the same way are refused with the file and key named.
    @Test func unsupportedTokenizersAreRefused() throws {
        // Byte fallback / SentencePiece style for a non-llama architecture.
        var m = describeError { _ = try GGUFVocabularyExport(folder: try GGUFFixture.folder("llama"), vocabularySize: 514,
                                                             sentencePieceAllowed: false, addSpacePrefixFromConfig: false) }
        #expect(m.contains("tokenizer.json") && m.contains("byte_fallback"), "\(m)")
        // A normalizer llama.cpp does not apply (the trained Lowercase + NFKC tokenizer).
        let scratch = try Scratch()
        try FileManager.default.copyItem(atPath: repoRoot.appendingPathComponent("Tests/Reference/fixtures/tokenizers/bytelevel_digits.tokenizer.json").path,
                                         toPath: scratch.file("tokenizer.json"))
        m = describeError { _ = try GGUFVocabularyExport(folder: scratch.path, vocabularySize: 3000, sentencePieceAllowed: false,
                                                         addSpacePrefixFromConfig: false) }
        #expect(m.contains("normalizer"), "\(m)")
        // Ids beyond the model's vocabulary.
        m = describeError { _ = try GGUFVocabularyExport(folder: try GGUFFixture.folder("gpt2"), vocabularySize: 100,
                                                         sentencePieceAllowed: false, addSpacePrefixFromConfig: false) }
        #expect(m.contains("outside the model's vocabulary of 100"), "\(m)")
    }
}
