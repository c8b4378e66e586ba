import Foundation
import Testing
@testable import Tokenization

/// llama.cpp's vocabulary test vectors and llama2.c's tokenizer.bin.
@Suite struct OtherFormatTests {
    /// Inputs separated by "\n__ggml_vocab_test__\n", one line of expected ids per input (no special tokens).
    static func ggmlVectors(_ name: String) throws -> [(String, [Int])] {
        let inp = String(decoding: try readRequired(Paths.asset("tokenizers/gguf-vocab/\(name).inp")), as: UTF8.self)
        let out = String(decoding: try readRequired(Paths.asset("tokenizers/gguf-vocab/\(name).out")), as: UTF8.self)
        var inputs = inp.components(separatedBy: "\n__ggml_vocab_test__\n")
        if inputs.last == "" { inputs.removeLast() }
        var lines = out.components(separatedBy: "\n")
        if lines.last == "" { lines.removeLast() }
        #expect(inputs.count == lines.count, "\(name): \(inputs.count) inputs but \(lines.count) id lines")
        return zip(inputs, lines).map { text, line in (text, line.split(separator: " ").compactMap { Int($0) }) }
    }

    @Test(arguments: ["ggml-vocab-gpt-2.gguf", "ggml-vocab-phi-3.gguf"])
    func ggufVocabVectors(_ name: String) throws {
        let tok = try Tokenizer.load(path: try requireExists(Paths.asset("tokenizers/gguf-vocab/\(name)")))
        let vectors = try Self.ggmlVectors(name)
        #expect(vectors.count > 40)
        for (text, ids) in vectors {
            expectIDs(tok.encode(text, addSpecialTokens: false), ids, input: text, label: name)
        }
    }

    @Test func ggufGPT2MatchesTokenizerJSON() throws {
        let gguf = try Tokenizer.load(path: try requireExists(Paths.asset("tokenizers/gguf-vocab/ggml-vocab-gpt-2.gguf")))
        let json = try Tokenizer.load(path: try requireExists(Paths.asset("tokenizers/gpt2/tokenizer.json")))
        #expect(gguf.vocabularySize == json.vocabularySize)
        for id in [0, 1, 220, 50256] { #expect(gguf.token(forID: id) == json.token(forID: id)) }
    }

    /// llama2.c's encoder (run.c) on tok512.bin gives HF's ids for the same vocabulary (converted from tok512.model).
    /// Three kinds of input are left out because the two encoders differ there by design: "<s>"-like text (HF
    /// matches special tokens, run.c never does), text starting with a space (run.c always adds its dummy-prefix
    /// space; HF's Metaspace `first` scheme skips it when the text already starts with one), and text holding a
    /// literal "▁" (HF maps spaces to it; tokenizer.bin stores plain spaces).
    @Test func llama2cTokenizerBin() throws {
        let tok = try Tokenizer.load(path: try requireExists(Paths.asset("models/stories260K/tok512.bin")))
        #expect(tok.vocabularySize == 512)
        let file = try CaseFile.load("tok512_cases.json")
        var compared = 0
        // Compared by scalars: "▁" or " " followed by a combining mark is a single Character in Swift.
        for c in file.cases where !["<s>", "</s>", "<unk>"].contains(where: { c.text.contains($0) })
            && !c.text.unicodeScalars.contains("\u{2581}") && c.text.unicodeScalars.first != " " {
            expectIDs(tok.encode(c.text, addSpecialTokens: true), c.ids_with_special, input: c.text, label: "tok512.bin")
            expectIDs(tok.encode(c.text, addSpecialTokens: false), c.ids, input: c.text, label: "tok512.bin no BOS")
            #expect(tok.decode(c.ids, skipSpecialTokens: true) == c.decoded_skip_special, "decode \(String(reflecting: c.text))")
            compared += 1
        }
        #expect(compared > 50)
    }
}

/// Special-token names come from the files beside tokenizer.json (or the GGUF/llama2.c conventions) and resolve to ids.
@Suite struct SpecialTokenTests {
    @Test func gpt2ConfigBesideTokenizerJSON() throws {
        let tok = try Tokenizer.load(path: try requireExists(Paths.asset("tokenizers/gpt2")))
        let config = try JSONSerialization.jsonObject(with: try readRequired(Paths.asset("tokenizers/gpt2/tokenizer_config.json"))) as? [String: Any]
        let bos = try #require(config?["bos_token"] as? String)
        #expect(tok.specialTokens.bos == bos)
        #expect(tok.specialTokens.bosID != nil && tok.specialTokens.bosID == tok.id(forToken: bos))
        #expect(tok.specialTokens.eosID == tok.id(forToken: bos))
        // The special token is matched in text and dropped by skip_special_tokens.
        let ids = tok.encode("a\(bos)b")
        #expect(ids.contains(try #require(tok.specialTokens.bosID)))
        #expect(tok.decode(ids, skipSpecialTokens: true) == "ab")
    }

    @Test func ggufCarriesSpecialIDsAndTemplate() throws {
        let tok = try Tokenizer.load(path: try requireExists(Paths.asset("tokenizers/gguf-vocab/ggml-vocab-phi-3.gguf")))
        let bos = try #require(tok.specialTokens.bosID)
        #expect(tok.specialTokens.bos == tok.token(forID: bos))
        #expect(tok.encode("Hello", addSpecialTokens: true).first == bos)
        #expect(tok.encode("Hello", addSpecialTokens: false).first != bos)
        #expect(tok.specialTokens.chatTemplate?.isEmpty == false)
        #expect(tok.decode(tok.encode("Hello world", addSpecialTokens: true), skipSpecialTokens: true) == "Hello world")
    }

    @Test func llama2cBOS() throws {
        let tok = try Tokenizer.load(path: try requireExists(Paths.asset("models/stories260K/tok512.bin")))
        let ids = tok.encode("Once upon a time")
        #expect(ids.first == tok.specialTokens.bosID)
        #expect(tok.decode(ids, skipSpecialTokens: true) == "Once upon a time")
    }
}

/// Round trips through the score-driven encoders, where no HF reference applies to the text as-is.
@Suite struct ScoredRoundTripTests {
    /// run.c drops the dummy-prefix space on decode; text with a combining mark right after the first space
    /// must keep the mark (a Swift Character holds both, so this catches Character-level string handling).
    @Test(arguments: ["models/stories260K/tok512.bin", "tokenizers/gguf-vocab/ggml-vocab-phi-3.gguf"])
    func decodeInvertsEncode(_ asset: String) throws {
        let tok = try Tokenizer.load(path: try requireExists(Paths.asset(asset)))
        for text in ["Once upon a time", "\u{301}x after a mark", "e\u{301}\u{301} two marks", "tab\tand\nnewline", "日本語 ok"] {
            let ids = tok.encode(text, addSpecialTokens: true)
            #expect(tok.decode(ids, skipSpecialTokens: true) == text, "\(String(reflecting: text)) → \(ids)")
        }
    }
}
