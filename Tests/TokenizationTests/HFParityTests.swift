import Foundation
import Testing
@testable import Tokenization

/// Parity with HF `tokenizers` on real and trained tokenizer.json files.
@Suite struct HFParityTests {
    @Test func gpt2FrenchParagraph() throws {
        struct Vector: Decodable { let text: String; let decoded_text: String; let token_ids: [Int] }
        let v = try JSONDecoder().decode(Vector.self, from: try readRequired(Paths.asset("tokenizers/test-vectors/gpt2_encoded_tokens.json")))
        let tok = try Tokenizer.load(path: try requireExists(Paths.asset("tokenizers/gpt2")))
        expectIDs(tok.encode(v.text), v.token_ids, input: v.text)
        #expect(tok.decode(v.token_ids) == v.decoded_text)
    }

    @Test func gpt2Multilingual() throws {
        struct Input: Decodable { let id: String; let text: String }
        struct Entry: Decodable { let id: String; let input_ids: [Int]; let decoded_with_special: String; let decoded_skip_special: String }
        struct Expected: Decodable { let entries: [Entry] }
        let inputs = try JSONDecoder().decode([Input].self, from: try readRequired(Paths.asset("tokenizers/test-vectors/multilingual/inputs.json")))
        let expected = try JSONDecoder().decode(Expected.self, from: try readRequired(Paths.asset("tokenizers/test-vectors/multilingual/gpt2_multilingual.json")))
        let byID = Dictionary(expected.entries.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        #expect(inputs.count == 83)
        let tok = try Tokenizer.load(path: try requireExists(Paths.asset("tokenizers/gpt2/tokenizer.json")))
        for input in inputs {
            guard let e = byID[input.id] else { Issue.record("no expected ids for \(input.id)"); continue }
            expectIDs(tok.encode(input.text), e.input_ids, input: input.text, label: input.id)
            #expect(tok.decode(e.input_ids) == e.decoded_with_special, "decode \(input.id)")
            #expect(tok.decode(e.input_ids, skipSpecialTokens: true) == e.decoded_skip_special, "decode skip \(input.id)")
        }
    }

    @Test func gpt2Cases() throws { try replay("gpt2_cases.json") }
    @Test func tok512TokenizerJSON() throws { try replay("tok512_cases.json") }
    @Test func tok512LegacyNormalizer() throws { try replay("tok512_legacy_cases.json") }
    @Test func trainedByteLevelLlama3() throws { try replay("bytelevel_llama3_cases.json") }
    @Test func trainedByteLevelQwen2() throws { try replay("bytelevel_qwen2_cases.json") }
    @Test func trainedByteLevelDigits() throws { try replay("bytelevel_digits_cases.json") }
    @Test func trainedMetaspaceByteFallback() throws { try replay("metaspace_cases.json") }

    /// Byte-level BPE without a normalizer or prefix space loses nothing: decoding the ids gives back the input
    /// exactly (inputs with the lstrip/rstrip `<tool>` token excepted: it swallows the spaces around it on purpose).
    @Test(arguments: ["bytelevel_llama3_cases.json", "gpt2_cases.json"])
    func byteLevelRoundTrip(_ name: String) throws {
        let file = try CaseFile.load(name)
        let tok = try Tokenizer.load(path: try requireExists(file.tokenizerPath))
        for c in file.cases where !c.text.contains("<tool>") {
            let ids = tok.encode(c.text, addSpecialTokens: false)
            let back = tok.decode(ids)
            #expect(back == c.text, "round trip of \(String(reflecting: c.text)) gave \(String(reflecting: back))")
        }
    }
}
