import Foundation
import ModelFormats
import Models
import TestSupport
import Testing

/// A test-only reader of llama2.c's tok512.bin and run.c's decode rules (piece strings; after BOS one leading
/// space is stripped; `<0xHH>` pieces are raw bytes; safe_printf drops unprintable single bytes).
/// It will be replaced by the Tokenization target's reader once that lands.
struct Llama2CTestVocabulary {
    var pieces: [[UInt8]] = []

    init(path: String, vocabSize: Int) throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        var offset = 4
        func u32() -> Int {
            let v = data.subdata(in: offset..<(offset + 4)).withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }
            offset += 4
            return Int(UInt32(littleEndian: v))
        }
        for _ in 0..<vocabSize {
            offset += 4  // score
            let n = u32()
            pieces.append(Array(data[offset..<(offset + n)]))
            offset += n
        }
    }

    func decode(_ tokens: [Int], after first: Int) -> String {
        var out: [UInt8] = []
        var prev = first
        for t in tokens {
            var piece = pieces[t]
            if prev == 1, piece.first == UInt8(ascii: " ") { piece.removeFirst() }
            let s = String(decoding: piece, as: UTF8.self)
            if s.count == 6, s.hasPrefix("<0x"), s.hasSuffix(">"), let b = UInt8(s.dropFirst(3).prefix(2), radix: 16) {
                piece = [b]
            }
            if piece.count == 1, !(piece[0] >= 0x20 && piece[0] < 0x7f) && !(piece[0] >= 9 && piece[0] <= 13) {
                prev = t; continue
            }
            out += piece
            prev = t
        }
        return String(decoding: out, as: UTF8.self)
    }
}

@Suite struct Stories260KTests {
    /// run.c with `-t 0 -n 200` forwards positions 0..<200 starting from BOS (id 1) and prints the argmax after
    /// each, i.e. 200 generated tokens (it would stop early on BOS, which does not happen here).
    @Test(arguments: ["stories260K.bin", "stories260K.v1.bin"])
    func greedyMatchesLlama2C(_ file: String) throws {
        let model = try Llama2C.read(path: try sharedAsset("models/stories260K/\(file)"))
        let golden = try String(contentsOfFile: try sharedAsset("models/stories260K/expected_greedy_200steps.txt"), encoding: .utf8)
        let vocab = try Llama2CTestVocabulary(path: try sharedAsset("models/stories260K/tok512.bin"), vocabSize: model.config.vocabSize)
        let result = try generate(model: model, prompt: [1], options: GenerationOptions(maxNewTokens: 200, eosTokenIDs: [1]))
        let text = vocab.decode(result.tokens, after: 1)
        #expect(text == golden, "decoded \(result.tokens.count) tokens:\n\(text)\n--- expected ---\n\(golden)")
    }

    @Test func v0AndV1HoldTheSameWeights() throws {
        let a = try Llama2C.read(path: try sharedAsset("models/stories260K/stories260K.bin"))
        let b = try Llama2C.read(path: try sharedAsset("models/stories260K/stories260K.v1.bin"))
        #expect(a.config == b.config)
        for (name, t) in a.parameters { #expect(b.parameters[name]?.scalars == t.scalars, "\(name) differs") }
    }

    /// The imported model written as an HF folder and read back gives the same logits.
    @Test func hfFolderRoundTrip() throws {
        let model = try Llama2C.read(path: try sharedAsset("models/stories260K/stories260K.bin"))
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("whittle-l2c-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try HFFolder.write(model, to: dir)
        let back = try HFFolder.load(dir)
        #expect(back.config.numKVHeads == 4 && back.config.tieWordEmbeddings)
        let tokens = [1, 300, 42, 7]
        #expect(try back.forward(tokens: tokens, batch: 1).scalars == model.forward(tokens: tokens, batch: 1).scalars)
    }
}

@Suite struct Llama2CErrorTests {
    @Test func truncatedAndBadHeaderFilesAreErrors() throws {
        let dir = try ScratchFolder()
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: try sharedAsset("models/stories260K/stories260K.bin"))))
        let path = dir.path + "/cut.bin"
        try writeBytes(Array(bytes.prefix(bytes.count - 1000)), path)
        var message = formatError { _ = try Llama2C.read(path: path) }
        #expect(message.hasPrefix(path) && message.contains("truncated"), "\(message)")
        try writeBytes(Array(bytes.prefix(10)), path)
        message = formatError { _ = try Llama2C.read(path: path) }
        #expect(message.contains("header"), "\(message)")
        // A header whose sizes multiply past Int.max is refused, not trapped on.
        var huge = bytes
        for i in 0..<3 { withUnsafeBytes(of: Int32(1 << 27).littleEndian) { huge.replaceSubrange((4 * i)..<(4 * i + 4), with: $0) } }
        try writeBytes(huge, path)
        message = formatError { _ = try Llama2C.read(path: path) }
        #expect(message.contains("overflow") || message.contains("implies"), "\(message)")
    }
}
