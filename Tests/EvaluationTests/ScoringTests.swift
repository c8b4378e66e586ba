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
        let model = try Llama2C.read(path: try sharedAsset("models/stories260K/stories260K.bin"))
        try HFFolder.write(model, to: folder)
        try FileManager.default.copyItem(atPath: repoRoot.appendingPathComponent("Tests/Reference/fixtures/tokenizers/tok512.tokenizer.json").path,
                                         toPath: folder + "/tokenizer.json")
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
