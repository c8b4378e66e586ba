import Foundation
import Testing
@testable import Tokenization

/// Components swapped into a trained tokenizer.json (every Split behaviour with and without invert, for literal and
/// regex patterns; Digits contiguous; each Metaspace scheme with and without split; normalizers), each compared
/// with the ids HF `tokenizers` produced for the same override (fixtures/tokenizers/variants.json).
@Suite struct VariantTests {
    @Test func everyVariantMatchesHF() throws {
        let data = try readRequired(Paths.fixture("variants.json"))
        let root = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let texts = try #require(root["texts"] as? [String])
        let variants = try #require(root["variants"] as? [[String: Any]])
        #expect(variants.count > 50)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("whittle-variants-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        for (index, variant) in variants.enumerated() {
            let base = try #require(variant["base"] as? String)
            let override = try #require(variant["override"] as? [String: Any])
            let expected = try #require(variant["ids"] as? [[Int]])
            let decoded = variant["decoded"] as? [String]
            var doc = try #require(try JSONSerialization.jsonObject(with: try readRequired(Paths.fixture(base))) as? [String: Any])
            for (key, value) in override { doc[key] = value }
            let path = dir.appendingPathComponent("variant-\(index).json").path
            try JSONSerialization.data(withJSONObject: doc).write(to: URL(fileURLWithPath: path))
            let tok = try Tokenizer(tokenizerJSON: path)
            let description = String(decoding: try JSONSerialization.data(withJSONObject: override, options: [.sortedKeys]), as: UTF8.self)
            for (i, text) in texts.enumerated() {
                let ids = tok.encode(text, addSpecialTokens: false)
                expectIDs(ids, expected[i], input: text, label: "variant \(index) \(description):")
                if let decoded {
                    // HF `decode` skips special tokens by default.
                    #expect(tok.decode(expected[i], skipSpecialTokens: true) == decoded[i], "variant \(index) \(description): decode of \(String(reflecting: text))")
                }
            }
        }
    }
}
