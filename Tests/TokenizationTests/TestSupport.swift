import Foundation
import Testing
@testable import Tokenization

/// Paths computed from this file, so tests run from any working directory.
enum Paths {
    static let testsDir = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    static let repoRoot = testsDir.deletingLastPathComponent().deletingLastPathComponent()
    static let fixtures = repoRoot.appendingPathComponent("Tests/Reference/fixtures/tokenizers")
    /// ../shared beside the repository (read-only test assets; CI has the same folder).
    static let shared = repoRoot.deletingLastPathComponent().appendingPathComponent("shared")

    static func fixture(_ name: String) -> String { fixtures.appendingPathComponent(name).path }
    static func asset(_ relative: String) -> String { shared.appendingPathComponent("assets").appendingPathComponent(relative).path }
}

struct MissingFile: Error, CustomStringConvertible {
    let path: String
    var description: String { "missing test file: \(path)" }
}

/// The contents of a file that must exist; a missing asset or fixture fails the test naming the path.
func readRequired(_ path: String) throws -> Data {
    guard let data = FileManager.default.contents(atPath: path) else {
        Issue.record("missing test file: \(path)")
        throw MissingFile(path: path)
    }
    return data
}

func requireExists(_ path: String) throws -> String {
    guard FileManager.default.fileExists(atPath: path) else {
        Issue.record("missing test file: \(path)")
        throw MissingFile(path: path)
    }
    return path
}

/// Records one failure showing the input, both id lists and the first index where they differ.
@discardableResult
func expectIDs(_ actual: [Int], _ expected: [Int], input: String, label: String = "",
               sourceLocation: SourceLocation = #_sourceLocation) -> Bool {
    guard actual != expected else { return true }
    var first = 0
    while first < min(actual.count, expected.count) && actual[first] == expected[first] { first += 1 }
    Issue.record("""
        \(label) ids differ at index \(first) for input \(String(reflecting: input))
          expected (\(expected.count)): \(expected)
          actual   (\(actual.count)): \(actual)
        """, sourceLocation: sourceLocation)
    return false
}

/// A fixture written by Tests/Reference/gen_tokenizers.py.
struct CaseFile: Decodable {
    struct Case: Decodable {
        let text: String
        let ids: [Int]
        let ids_with_special: [Int]
        let decoded: String
        let decoded_skip_special: String
    }
    struct Pair: Decodable {
        let a: String
        let b: String
        let ids: [Int]
        let ids_with_special: [Int]
    }
    let tokenizer: String
    let cases: [Case]
    let pairs: [Pair]

    static func load(_ name: String) throws -> CaseFile {
        try JSONDecoder().decode(CaseFile.self, from: try readRequired(Paths.fixture(name)))
    }

    /// The tokenizer path, relative to the fixtures folder or (for ../shared/...) to the repository root.
    var tokenizerPath: String {
        tokenizer.hasPrefix("../") ? Paths.repoRoot.appendingPathComponent(tokenizer).standardizedFileURL.path : Paths.fixture(tokenizer)
    }
}

/// Replays every case of a fixture: ids with and without special tokens, and HF's decodes of the special ids.
func replay(_ caseFile: String, tokenizer override: Tokenizer? = nil) throws {
    let file = try CaseFile.load(caseFile)
    let tok = try override ?? Tokenizer.load(path: try requireExists(file.tokenizerPath))
    #expect(file.cases.count > 10, "fixture \(caseFile) has too few cases")
    var failures = 0
    for c in file.cases {
        if !expectIDs(tok.encode(c.text, addSpecialTokens: false), c.ids, input: c.text, label: "no special:") { failures += 1 }
        if !expectIDs(tok.encode(c.text, addSpecialTokens: true), c.ids_with_special, input: c.text, label: "with special:") { failures += 1 }
        let decoded = tok.decode(c.ids_with_special)
        #expect(decoded == c.decoded, "decode of \(c.ids_with_special) for input \(String(reflecting: c.text))")
        let skipped = tok.decode(c.ids_with_special, skipSpecialTokens: true)
        #expect(skipped == c.decoded_skip_special, "decode(skip_special_tokens) of \(c.ids_with_special) for input \(String(reflecting: c.text))")
        if failures > 20 { Issue.record("stopping \(caseFile) after 20 failures"); return }
    }
    #expect(!file.pairs.isEmpty)
    for p in file.pairs {
        let label = "pair with \(String(reflecting: p.b)):"
        expectIDs(tok.encode(p.a, pair: p.b, addSpecialTokens: false), p.ids, input: p.a, label: label)
        expectIDs(tok.encode(p.a, pair: p.b, addSpecialTokens: true), p.ids_with_special, input: p.a, label: label)
    }
}
