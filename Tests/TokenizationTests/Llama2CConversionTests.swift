import Foundation
import Testing
import Tokenization

/// tokenizer.bin → tokenizer.json must equal what transformers' LlamaConverter made from the same vocabulary's
/// SentencePiece model (fixture tok512.tokenizer.json), and encode every tok512 case identically.
@Suite struct Llama2CConversionTests {
    let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Reference/fixtures/tokenizers")
    var sharedBin: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("shared/assets/models/stories260K/tok512.bin").path
    }

    @Test func convertedFilesMatchTransformers() throws {
        #expect(FileManager.default.fileExists(atPath: sharedBin), "missing shared asset \(sharedBin)")
        let files = try Llama2CConversion.huggingFaceFiles(fromTokenizerBin: sharedBin, contextLength: 512)
        let ours = try JSONParser.parse(files.tokenizerJSON)
        let reference = try JSONParser.parse(String(contentsOf: fixtures.appendingPathComponent("tok512.tokenizer.json"), encoding: .utf8))
        #expect(ours["model"]?["vocab"] == reference["model"]?["vocab"], "vocabularies differ")
        let m1 = ours["model"]?["merges"]?.arrayValue ?? [], m2 = reference["model"]?["merges"]?.arrayValue ?? []
        #expect(m1.count == m2.count, "\(m1.count) merges, transformers has \(m2.count)")
        if let k = zip(m1, m2).enumerated().first(where: { $0.element.0 != $0.element.1 })?.offset {
            Issue.record("merge \(k) differs: \(m1[k]) vs transformers \(m2[k])")
        }
        for key in ["pre_tokenizer", "decoder", "normalizer", "added_tokens"] {
            #expect(ours[key] == reference[key], "\(key) differs")
        }
        for key in ["type", "byte_fallback", "fuse_unk", "unk_token", "ignore_merges"] {
            #expect(ours["model"]?[key] == reference["model"]?[key], "model.\(key) differs")
        }

        // Loaded back, it encodes every tok512 case exactly as HF tokenizers did with transformers' file.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tok512-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try files.tokenizerJSON.write(to: dir.appendingPathComponent("tokenizer.json"), atomically: true, encoding: .utf8)
        try files.tokenizerConfigJSON.write(to: dir.appendingPathComponent("tokenizer_config.json"), atomically: true, encoding: .utf8)
        let tok = try Tokenizer.load(path: dir.path)
        let cases = try JSONParser.parse(String(contentsOf: fixtures.appendingPathComponent("tok512_cases.json"), encoding: .utf8))
        for c in cases["cases"]?.arrayValue ?? [] {
            let text = c["text"]?.stringValue ?? ""
            let expected = (c["ids_with_special"]?.arrayValue ?? []).compactMap { if case .integer(let i) = $0 { i } else { nil } }
            #expect(tok.encode(text) == expected, "\(text.debugDescription)")
        }
        #expect(tok.specialTokens.eosID == 2 && tok.specialTokens.bosID == 1)
    }
}
