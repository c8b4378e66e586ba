import Foundation
import Testing
@testable import Tokenization

/// BPETrainer against HF `tokenizers`' BpeTrainer (Tests/Reference/gen_bpe_trainer.py): the same vocabulary in the
/// same id order, the same merges in the same rank order, and the same tokenizer.json text byte for byte; then
/// Whittle's Tokenizer loads the trained file and encodes like the HF-trained one.
@Suite struct BPETrainerTests {
    struct Case: Decodable {
        let vocab_size: Int
        let min_frequency: Int
        let special_tokens: [String]
        let vocab: [String]
        let merges: [[String]]
        let tokenizer_json: String
    }

    struct Fixture: Decodable {
        let gsm8k: Case
        let mixed: Case
        let mixed_exhausted: Case
    }

    struct MixedTexts: Decodable {
        struct Texts: Decodable { let texts: [String] }
        let mixed: Texts
    }

    static let path = Paths.repoRoot.appendingPathComponent("Tests/Reference/fixtures/bpe_trainer/hf_bpe_trainer.json").path

    static func fixture() throws -> (Fixture, [String]) {
        let data = try readRequired(path)
        return (try JSONDecoder().decode(Fixture.self, from: data), try JSONDecoder().decode(MixedTexts.self, from: data).mixed.texts)
    }

    /// The first 1319 records of gsm8k test.jsonl as `question + "\n" + answer` (what the generator trained on).
    static func gsm8kTexts() throws -> [String] {
        let data = try readRequired(Paths.asset("datasets/gsm8k/test.jsonl"))
        var texts: [String] = []
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") where texts.count < 1319 {
            let o = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            texts.append("\(try #require(o["question"] as? String))\n\(try #require(o["answer"] as? String))")
        }
        return texts
    }

    static func compare(_ r: BPETrainer.Result, _ c: Case, label: String) {
        #expect(r.vocabulary.count == c.vocab.count, "\(label): vocabulary size \(r.vocabulary.count) vs HF \(c.vocab.count)")
        if let i = (0..<min(r.vocabulary.count, c.vocab.count)).first(where: { r.vocabulary[$0] != c.vocab[$0] }) {
            Issue.record("\(label): first vocabulary difference at id \(i): \(r.vocabulary[i].debugDescription) vs HF \(c.vocab[i].debugDescription)")
        }
        let merges = r.merges.map { [$0.left, $0.right] }
        #expect(merges.count == c.merges.count, "\(label): \(merges.count) merges vs HF \(c.merges.count)")
        if let i = (0..<min(merges.count, c.merges.count)).first(where: { merges[$0] != c.merges[$0] }) {
            Issue.record("\(label): first merge difference at rank \(i): \(merges[i]) vs HF \(c.merges[i])")
        }
        #expect(r.tokenizerJSON() == c.tokenizer_json, "\(label): tokenizer.json text differs from HF's")
    }

    @Test func gsm8kMatchesHF() throws {
        let (f, _) = try Self.fixture()
        let c = f.gsm8k
        let r = BPETrainer(vocabularySize: c.vocab_size, specialTokens: c.special_tokens, minFrequency: c.min_frequency)
            .train(texts: try Self.gsm8kTexts())
        Self.compare(r, c, label: "gsm8k")
    }

    @Test func mixedTextsMatchHF() throws {
        let (f, texts) = try Self.fixture()
        for (c, label) in [(f.mixed, "mixed min_frequency 2"), (f.mixed_exhausted, "mixed until no pair is left")] {
            let r = BPETrainer(vocabularySize: c.vocab_size, specialTokens: c.special_tokens, minFrequency: c.min_frequency)
                .train(texts: texts)
            Self.compare(r, c, label: label)
        }
    }

    /// The written folder loads in Whittle and encodes exactly like the tokenizer.json HF trained.
    @Test func trainedFolderLoadsAndEncodesLikeHF() throws {
        let (f, texts) = try Self.fixture()
        let c = f.gsm8k
        let r = BPETrainer(vocabularySize: c.vocab_size, specialTokens: c.special_tokens).train(texts: try Self.gsm8kTexts())
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("whittle-bpe-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try r.write(to: dir, settings: TokenizerFolderSettings(bos: "<|endoftext|>", eos: "<|endoftext|>", pad: "<|endoftext|>",
                                                              unk: "<|endoftext|>", modelMaxLength: 512,
                                                              chatTemplate: TokenizerFolderSettings.chatMLTemplate))
        let ours = try Tokenizer.load(path: dir)
        let hfPath = (dir as NSString).appendingPathComponent("hf.tokenizer.json")
        try Data(c.tokenizer_json.utf8).write(to: URL(fileURLWithPath: hfPath))
        let theirs = try Tokenizer(tokenizerJSON: hfPath)
        #expect(ours.specialTokens.eosID == 0 && ours.specialTokens.chatTemplate == TokenizerFolderSettings.chatMLTemplate)
        for t in texts + (try Self.gsm8kTexts()).prefix(50) {
            expectIDs(ours.encode(t), theirs.encode(t), input: t)
            #expect(ours.decode(ours.encode(t)) == t)
        }
    }

    @Test func tieBreakPrefersSmallerPair() {
        // "ab" and "cd" both occur twice: HF merges the pair with the smaller (left, right) ids first.
        let r = BPETrainer(vocabularySize: 258).train(texts: ["cd ab", "ab cd"])
        #expect(r.merges.map { $0.left + $0.right } == ["ab", "cd"])
    }
}
