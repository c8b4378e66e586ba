import FineTuning
import Foundation
import ModelFormats
import Models
import Tensors
import TestSupport
import Testing

/// `model.init: random`: pretraining from scratch through the normal run, from a folder with config.json and
/// tokenizer but no weights. Two runs from the same seeds end with bit-identical weights; misuse is refused.
@Suite(.serialized) struct PretrainTests {
    let root: String

    init() throws {
        root = NSTemporaryDirectory() + "whittle-pretrain-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    }

    /// A skeleton: stories260K's config and tokenizer (imported from ../shared), its weights deleted.
    func skeleton() throws -> String {
        let folder = root + "/skeleton"
        _ = try Llama2C.importFolder(model: try sharedAsset("models/stories260K/stories260K.bin"),
                                     tokenizer: try sharedAsset("models/stories260K/tok512.bin"), out: folder)
        try FileManager.default.removeItem(atPath: folder + "/model.safetensors")
        let lines = try String(contentsOfFile: try sharedAsset("datasets/gsm8k/test.jsonl"), encoding: .utf8)
            .split(separator: "\n").prefix(24)
        try (lines.joined(separator: "\n") + "\n").write(toFile: root + "/data.jsonl", atomically: true, encoding: .utf8)
        return folder
    }

    func recipe(model: String, method: String = "full", name: String) throws -> String {
        let text = """
        model: {path: \(model), init: random, seed: 9}
        data:
          train: [\(root)/data.jsonl]
          key_map: {question: prompt, answer: completion}
          train_on: everything
          max_length: 96
        tuning: {method: \(method)}
        training: {max_steps: 3, batch_size: 2, learning_rate: 0.003, seed: 4}
        output: {dir: \(root)/runs, name: \(name)}
        """
        let path = root + "/\(name).yaml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func run(_ recipe: String) throws -> FineTuneRun.Summary {
        try FineTuneRun.run(FineTuneRun.Options(recipePath: recipe, resume: nil, commandLine: "whittle train (test)", version: "test",
                                                live: false, cacheDirectory: root + "/cache")) { _ in }
    }

    @Test func sameSeedsSameWeights() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let model = try skeleton()
        let a = try run(try recipe(model: model, name: "a")), b = try run(try recipe(model: model, name: "b"))
        #expect(a.ending == .finished && b.ending == .finished && a.steps == 3)
        let wa = FileManager.default.contents(atPath: root + "/runs/a/last/model.safetensors")
        let wb = FileManager.default.contents(atPath: root + "/runs/b/last/model.safetensors")
        #expect(wa != nil && wa == wb, "two runs from the same seeds must write the same weight file")
        // The trained model differs from its initialisation (training happened) and loads as an ordinary folder.
        let trained = try HFFolder.load(root + "/runs/a/last")
        let config = trained.config
        let initial = ModelInit.parameters(config: config, seed: 9)
        let name = "model.layers.0.mlp.down_proj.weight"
        let t0 = initial[name]!.withUnsafeBufferPointer { Array($0) }
        let t1 = trained.parameters[name]!.withUnsafeBufferPointer { Array($0) }
        #expect(t0 != t1)
        #expect(FileManager.default.fileExists(atPath: root + "/runs/a/last/tokenizer.json"))
    }

    @Test func randomInitNeedsFullTuning() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        do {
            _ = try Recipe.load(path: try recipe(model: root + "/anything", method: "lora", name: "lora"))
            Issue.record("init: random with LoRA must be refused")
        } catch let e as RecipeError {
            #expect(e.path == "model.init" && e.description.contains("tuning.method: full"), "\(e)")
        }
        // An unknown value of init is a recipe error naming the key.
        let bad = try recipe(model: root + "/anything", name: "bad")
        do {
            _ = try Recipe.load(path: bad, overrides: ["model.init=scratch"])
            Issue.record("init: scratch must be refused")
        } catch let e as RecipeError {
            #expect(e.description.contains("model.init") || e.description.contains("init"), "\(e)")
        }
    }

    @Test func randomInitNeedsConfig() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let model = try skeleton()
        try FileManager.default.removeItem(atPath: model + "/config.json")
        do {
            _ = try run(try recipe(model: model, name: "c"))
            Issue.record("a folder without config.json must be refused")
        } catch {
            #expect("\(error)".contains("config.json"), "\(error)")
        }
    }
}
