import Foundation
import Testing
import Evaluation
import ModelFormats
import Models
import TestSupport
import Tokenization

/// Eval loss of the real stories260K model against transformers, through the same path `whittle eval` takes.
@Suite struct ScoringTests {
    func stories260KFolder() throws -> String {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("s260-\(UUID())").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        // What `whittle import llama2c --model stories260K.bin --tokenizer tok512.bin` writes.
        try Llama2C.importFolder(model: try sharedAsset("models/stories260K/stories260K.bin"),
                                 tokenizer: try sharedAsset("models/stories260K/tok512.bin"), out: folder)
        #expect(FileManager.default.fileExists(atPath: folder + "/tokenizer_config.json"))
        return folder
    }

    @Test func lossMatchesTransformers() throws {
        let f = try loadFixture("eval/stories260k_loss.json")
        let m = try LoadedModel(folder: try stories260KFolder())
        for t in f["texts"].array {
            let ids = m.tokenizer.encode(t["text"].string, addSpecialTokens: true)
            #expect(ids == t["ids"].array.map(\.int), "ids of \(t["text"].string)")
            let loss = try Scoring.sequenceLoss(model: m.model, ids: ids)
            let ref = t["loss_sum"].double
            #expect(abs(loss - ref) <= 1e-5 * max(1, abs(ref)), "loss of \(t["text"].string): \(loss), transformers \(ref)")
        }
        let all = try Scoring.score(m, texts: f["texts"].array.map { ($0["text"].string, "fixture") })
        #expect(abs(all.meanLoss - f["mean_loss"].double) <= 1e-5 * f["mean_loss"].double, "mean \(all.meanLoss) vs \(f["mean_loss"].double)")
        #expect(all.tokens == f["texts"].array.reduce(0) { $0 + $1["tokens"].int })
        #expect(abs(all.perplexity - Foundation.exp(all.meanLoss)) < 1e-12)
    }

    @Test func importRefusesAMismatchedTokenizer() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("s260-\(UUID())").path
        let gpt2Bin = try sharedAsset("models/stories260K/tok512.bin")
        // A tokenizer.bin cut to fewer tokens than the model's vocabulary must be refused before anything is written.
        let bytes = try Data(contentsOf: URL(fileURLWithPath: gpt2Bin))
        let cut = FileManager.default.temporaryDirectory.appendingPathComponent("cut-\(UUID()).bin").path
        var n = 4, entries = 0
        while n < bytes.count && entries < 300 {
            let len = Int(bytes[n + 4]) | Int(bytes[n + 5]) << 8 | Int(bytes[n + 6]) << 16 | Int(bytes[n + 7]) << 24
            n += 8 + len
            entries += 1
        }
        try bytes.prefix(n).write(to: URL(fileURLWithPath: cut))
        #expect(throws: (any Error).self) {
            try Llama2C.importFolder(model: try sharedAsset("models/stories260K/stories260K.bin"), tokenizer: cut, out: folder)
        }
        #expect(!FileManager.default.fileExists(atPath: folder + "/model.safetensors"))
    }

    @Test func greedyTextMatchesTheGoldenOutput() throws {
        let m = try LoadedModel(folder: try stories260KFolder())
        let golden = try String(contentsOfFile: try sharedAsset("models/stories260K/expected_greedy_200steps.txt"), encoding: .utf8)
        // llama2.c's golden text starts from BOS alone; the same first words as a prompt continue identically.
        let prompt = String(golden.prefix(while: { $0 != "," }))
        var streamed = ""
        let r = try TextGeneration.run(m, prompt: prompt, options: GenerationOptions(maxNewTokens: 30)) { streamed += $0 }
        #expect(streamed == r.text)
        #expect(golden.hasPrefix(prompt + r.text) || (prompt + r.text).hasPrefix(golden), "\(prompt + r.text)")
        // A stop string cuts the text and ends generation.
        let cut = try TextGeneration.run(m, prompt: prompt, options: GenerationOptions(maxNewTokens: 60), stopStrings: ["."])
        #expect(!cut.text.contains(".") && cut.stopReason == "stop_string")
    }
}
