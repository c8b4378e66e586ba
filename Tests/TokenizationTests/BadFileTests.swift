import Foundation
import Testing
@testable import Tokenization

/// Broken or unsupported files give errors that name the file and the key or component.
@Suite struct BadFileTests {
    static func temporary(_ name: String, _ contents: Data) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("whittle-tok-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let url = dir.appendingPathComponent(name)
        try contents.write(to: url)
        return url.path
    }

    static func message(_ body: () throws -> Tokenizer) -> String? {
        do {
            _ = try body()
            return nil
        } catch {
            return "\(error)"
        }
    }

    static func smallJSON() throws -> [String: Any] {
        let data = try readRequired(Paths.fixture("tok512.tokenizer.json"))
        return try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
    }

    static func write(_ object: [String: Any]) throws -> String {
        try temporary("tokenizer.json", try JSONSerialization.data(withJSONObject: object))
    }

    @Test func truncatedJSON() throws {
        let data = try readRequired(Paths.fixture("tok512.tokenizer.json"))
        let path = try Self.temporary("tokenizer.json", data.prefix(data.count / 2))
        let m = try #require(Self.message { try Tokenizer.load(path: path) })
        #expect(m.contains(path) && m.contains("not valid JSON"), "\(m)")
    }

    @Test func missingModel() throws {
        var o = try Self.smallJSON()
        o.removeValue(forKey: "model")
        let path = try Self.write(o)
        let m = try #require(Self.message { try Tokenizer.load(path: path) })
        #expect(m.contains(path) && m.contains("missing key 'model'"), "\(m)")
    }

    @Test func unknownPreTokenizer() throws {
        var o = try Self.smallJSON()
        o["pre_tokenizer"] = ["type": "BertPreTokenizer"]
        let path = try Self.write(o)
        let m = try #require(Self.message { try Tokenizer.load(path: path) })
        #expect(m.contains("pre_tokenizer") && m.contains("BertPreTokenizer"), "\(m)")
    }

    @Test func unknownRegexIsNamed() throws {
        var o = try Self.smallJSON()
        o["pre_tokenizer"] = ["type": "Split", "pattern": ["Regex": "\\p{Han}+"], "behavior": "Isolated", "invert": false]
        let path = try Self.write(o)
        let m = try #require(Self.message { try Tokenizer.load(path: path) })
        #expect(m.contains("\\p{Han}+"), "\(m)")
    }

    @Test func unknownNormalizerAndDropout() throws {
        var o = try Self.smallJSON()
        o["normalizer"] = ["type": "BertNormalizer"]
        var m = try #require(Self.message { try Tokenizer.load(path: try Self.write(o)) })
        #expect(m.contains("normalizer") && m.contains("BertNormalizer"), "\(m)")
        o = try Self.smallJSON()
        var model = o["model"] as? [String: Any] ?? [:]
        model["dropout"] = 0.1
        o["model"] = model
        m = try #require(Self.message { try Tokenizer.load(path: try Self.write(o)) })
        #expect(m.contains("model.dropout"), "\(m)")
    }

    /// Each unsupported component is refused with its key path and type name.
    @Test(arguments: [
        ("model", "Unigram", "model.type"),
        ("decoder", "WordPiece", "decoder.type"),
        ("post_processor", "RobertaProcessing", "post_processor.type"),
    ])
    func unsupportedComponent(_ key: String, _ type: String, _ keyPath: String) throws {
        var o = try Self.smallJSON()
        if key == "model" {
            var model = o["model"] as? [String: Any] ?? [:]
            model["type"] = type
            o["model"] = model
        } else {
            o[key] = ["type": type]
        }
        let m = try #require(Self.message { try Tokenizer.load(path: try Self.write(o)) })
        #expect(m.contains(keyPath) && m.contains(type), "\(m)")
    }

    @Test func wrongTypesNameTheKey() throws {
        var o = try Self.smallJSON()
        var model = o["model"] as? [String: Any] ?? [:]
        model["merges"] = [["a"]]
        o["model"] = model
        let m = try #require(Self.message { try Tokenizer.load(path: try Self.write(o)) })
        #expect(m.contains("model.merges[0]"), "\(m)")
        o = try Self.smallJSON()
        o["added_tokens"] = [["id": 5]]
        let m2 = try #require(Self.message { try Tokenizer.load(path: try Self.write(o)) })
        #expect(m2.contains("added_tokens[0].content"), "\(m2)")
    }

    @Test func truncatedGGUF() throws {
        let data = try readRequired(Paths.asset("tokenizers/gguf-vocab/ggml-vocab-phi-3.gguf"))
        for cut in [3, 10, 30, 1000, data.count / 2, data.count - 1] {
            let path = try Self.temporary("cut.gguf", data.prefix(cut))
            let m = try #require(Self.message { try Tokenizer.load(path: path) }, "cut at \(cut) loaded")
            #expect(m.contains(path), "\(m)")
        }
    }

    @Test func truncatedTokenizerBin() throws {
        let data = try readRequired(Paths.asset("models/stories260K/tok512.bin"))
        let path = try Self.temporary("tokenizer.bin", data.prefix(data.count - 3))
        let m = try #require(Self.message { try Tokenizer.load(path: path) })
        #expect(m.contains(path) && m.contains("truncated"), "\(m)")
    }

    @Test func missingFolder() throws {
        let m = try #require(Self.message { try Tokenizer.load(path: "/nonexistent/whittle") })
        #expect(m.contains("/nonexistent/whittle"))
    }
}
