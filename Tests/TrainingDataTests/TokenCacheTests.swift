import Foundation
import Testing
import FileSupport
import TrainingData

@Suite struct TokenCacheTests {
    func tempPath(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("cache-\(UUID().uuidString)-\(name)").path
    }

    @Test func roundTripAndReuse() throws {
        let data = tempPath("train.jsonl"), tok = tempPath("tokenizer.json")
        try AtomicFile.write("{\"text\": \"a\"}\n", to: data)
        try AtomicFile.write("{\"model\": {}}", to: tok)
        let key = try TokenCache.key(dataFiles: [data], tokenizerFiles: [tok], template: "", settings: "max_length=16")
        let examples = makeExamples(300, maxLen: 40) + [TokenizedExample(tokens: [], trained: [], file: "other.jsonl", line: 5)]
        let path = tempPath("x.wtc")
        #expect(TokenCache.open(path: path, key: key) == nil)
        let writer = try TokenCache.Writer(path: path, key: key)
        for e in examples { try writer.append(e) }
        let cache = try writer.finish()
        #expect(cache.count == examples.count && cache.examples == examples)
        // Reopened (another run): same content without rebuilding.
        let reopened = try #require(TokenCache.open(path: path, key: key))
        #expect(reopened.examples == examples && reopened.files == ["f.jsonl", "other.jsonl"])
        // Any change to an input changes the key, and the old file is not used.
        try AtomicFile.write("{\"text\": \"b\"}\n", to: data)
        let changed = try TokenCache.key(dataFiles: [data], tokenizerFiles: [tok], template: "", settings: "max_length=16")
        #expect(changed != key && TokenCache.open(path: path, key: changed) == nil)
        let otherSettings = try TokenCache.key(dataFiles: [data], tokenizerFiles: [tok], template: "", settings: "max_length=32")
        #expect(otherSettings != changed)
    }

    @Test func damagedFilesAreNotUsed() throws {
        let key = [UInt8](repeating: 7, count: 32)
        let path = tempPath("d.wtc")
        let writer = try TokenCache.Writer(path: path, key: key)
        for e in makeExamples(20) { try writer.append(e) }
        _ = try writer.finish()
        let bytes = try Array(Data(contentsOf: URL(fileURLWithPath: path)))
        for cut in [0, 3, 40, 60, bytes.count - 1] {
            try AtomicFile.write(Array(bytes[0..<cut]), to: path)
            #expect(TokenCache.open(path: path, key: key) == nil, "truncated at \(cut)")
        }
        var flipped = bytes
        flipped[5] ^= 0xFF   // version
        try AtomicFile.write(flipped, to: path)
        #expect(TokenCache.open(path: path, key: key) == nil)
    }
}
