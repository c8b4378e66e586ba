import FineTuning
import Foundation
import ModelFormats
import Models
import TestSupport
import Testing

/// `whittle train --dry-run` (`TrainingPlan`): from a folder without weights it predicts exactly what the real run's
/// pre-flight predicts for the same recipe on a folder with weights, and it writes nothing.
///
/// The model is stories260K's shape and tokenizer (imported from ../shared/assets) with fresh random weights
/// (`ModelInit`); the machine speeds are fixed (`Options.preflightRates`) so the time predictions compare exactly.
@Suite(.serialized) struct DryRunTests {
    let root: String
    /// Fixed probe results: the time prediction is a pure function of the recipe, the shape and these.
    let rates = Preflight.Rates(gemmGFLOPS: 37.5, elementwiseGelemPerSecond: 1.25)

    init() throws {
        root = NSTemporaryDirectory() + "whittle-dryrun-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    }

    /// `model/`: config, tokenizer and random-init weights; `skeleton/`: the same without weights; `config-only/`:
    /// config.json alone. Plus 64 GSM8K records as data.
    func prepareFolders() throws {
        let fm = FileManager.default
        let imported = root + "/imported"
        _ = try Llama2C.importFolder(model: try sharedAsset("models/stories260K/stories260K.bin"),
                                     tokenizer: try sharedAsset("models/stories260K/tok512.bin"), out: imported)
        let model = try HFFolder.loadRandomlyInitialized(imported, seed: 11)
        try HFFolder.write(model, to: root + "/model", options: HFWriteOptions(baseFolder: imported))
        for folder in ["skeleton", "config-only"] { try fm.createDirectory(atPath: root + "/" + folder, withIntermediateDirectories: true) }
        for name in try fm.contentsOfDirectory(atPath: root + "/model") where !name.hasSuffix(".safetensors") {
            try fm.copyItem(atPath: root + "/model/" + name, toPath: root + "/skeleton/" + name)
        }
        try fm.copyItem(atPath: root + "/model/config.json", toPath: root + "/config-only/config.json")
        let lines = try String(contentsOfFile: try sharedAsset("datasets/gsm8k/test.jsonl"), encoding: .utf8)
            .split(separator: "\n").prefix(64)
        try (lines.joined(separator: "\n") + "\n").write(toFile: root + "/data.jsonl", atomically: true, encoding: .utf8)
    }

    func recipe(model: String, tuning: String, name: String) throws -> String {
        let text = """
        model: {path: \(root)/\(model)}
        data:
          train: [\(root)/data.jsonl]
          valid_ratio: 0.125
          key_map: {question: prompt, answer: completion}
          max_length: 96
        tuning: \(tuning)
        training: {epochs: 0.3, batch_size: 3, gradient_accumulation: 2, learning_rate: 0.001, seed: 2}
        output: {dir: \(root)/runs, name: \(name)}
        """
        let path = root + "/\(name).yaml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func options(_ recipe: String) -> FineTuneRun.Options {
        FineTuneRun.Options(recipePath: recipe, commandLine: "whittle train (test)", version: "test", live: false,
                            cacheDirectory: root + "/cache", preflightRates: rates)
    }

    @Test(arguments: ["{method: lora, r: 4, alpha: 8, target_modules: [q_proj, v_proj, down_proj]}",
                      "{method: lora, r: 4, alpha: 8, modules_to_save: [embed_tokens, model.norm]}",
                      "{method: full, trainable: [layers.4., model.norm]}"])
    func dryRunPredictsWhatTheRunPredicts(_ tuning: String) throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        try prepareFolders()
        let plan = try TrainingPlan.make(options(try recipe(model: "skeleton", tuning: tuning, name: "plan")))
        #expect(!plan.weightsPresent && plan.assumptions.isEmpty, "\(plan.assumptions)")
        #expect(!FileManager.default.fileExists(atPath: root + "/runs") && !FileManager.default.fileExists(atPath: root + "/cache"),
                "a dry run writes no run folder and no token cache")

        let summary = try FineTuneRun.run(options(try recipe(model: "model", tuning: tuning, name: "real"))) { _ in }
        let real = try #require(summary.preflight)
        let p = plan.preflight
        #expect(p.totalParameters == real.totalParameters)
        #expect(p.trainableParameters == real.trainableParameters && p.trainableParameters > 0)
        #expect(p.predictedPeakBytes == real.predictedPeakBytes)
        #expect(p.tokensPerUpdate == real.tokensPerUpdate)
        #expect(p.secondsPerUpdate == real.secondsPerUpdate)
        #expect(p.updatesPerEpoch == real.updatesPerEpoch && p.updatesPerEpoch != nil)
        #expect(p.secondsPerEpoch == real.secondsPerEpoch)
        #expect(plan.totalUpdates == summary.totalSteps)
        func stripped(_ line: String) -> String { line.replacingOccurrences(of: Self.available, with: "", options: .regularExpression) }
        #expect(plan.lines.contains { stripped($0) == stripped(real.summary) },
                "the dry run prints the real pre-flight line:\n\(plan.lines.joined(separator: "\n"))\n\(real.summary)")
    }

    /// MemAvailable changes between two readings.
    static let available = #" of [0-9.]+ [MG]B available"#

    @Test func configOnlyAssumesFullRows() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        try prepareFolders()
        let tuning = "{method: lora, r: 4, alpha: 8}"
        let plan = try TrainingPlan.make(options(try recipe(model: "config-only", tuning: tuning, name: "plan")))
        #expect(plan.preflight.updatesPerEpoch == nil && plan.totalUpdates == nil && plan.counts == nil)
        #expect(plan.assumptions.count == 1 && plan.assumptions[0].contains("tokenizer.json")
                && plan.assumptions[0].contains("3 full rows of 96 tokens"), "\(plan.assumptions)")
        // Per update, the assumed full rows are what the pre-flight always counts: the same as with the data counted.
        let counted = try TrainingPlan.make(options(try recipe(model: "skeleton", tuning: tuning, name: "counted")))
        #expect(plan.preflight.secondsPerUpdate == counted.preflight.secondsPerUpdate)
        #expect(plan.preflight.predictedPeakBytes == counted.preflight.predictedPeakBytes)
        #expect(plan.lines.contains { $0.hasPrefix("predicted time:") && $0.contains("per 100 updates") }, "\(plan.lines)")
        #expect(!FileManager.default.fileExists(atPath: root + "/runs") && !FileManager.default.fileExists(atPath: root + "/cache"))

        // Missing data files are named, and the plan still predicts per update.
        let noData = try TrainingPlan.make(options(try recipe(model: "config-only", tuning: tuning, name: "nodata")),
                                           overriding: ["data.train=[\(root)/absent.jsonl]"])
        #expect(noData.assumptions.first?.contains("absent.jsonl") == true, "\(noData.assumptions)")
    }

    /// `tuning.modules_to_save` mistakes are named before anything runs: with full fine-tuning, a module that does not
    /// exist, a module LoRA also adapts.
    @Test(arguments: [("{method: full, modules_to_save: [embed_tokens]}", "tuning.modules_to_save applies to LoRA"),
                      ("{method: lora, modules_to_save: [embed_token]}", "tuning.modules_to_save: \"embed_token\" matches no module"),
                      ("{method: lora, target_modules: [q_proj], modules_to_save: [layers.0]}", "is also adapted by LoRA")])
    func modulesToSaveMistakesAreNamed(_ tuning: String, _ words: String) throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        try prepareFolders()
        do {
            _ = try TrainingPlan.make(options(try recipe(model: "skeleton", tuning: tuning, name: "plan")))
            Issue.record("expected an error for \(tuning)")
        } catch {
            #expect("\(error)".contains(words), "\(error)")
        }
    }

    @Test func missingConfigIsNamed() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        try prepareFolders()
        try FileManager.default.removeItem(atPath: root + "/config-only/config.json")
        do {
            _ = try TrainingPlan.make(options(try recipe(model: "config-only", tuning: "{method: lora}", name: "plan")))
            Issue.record("a folder without config.json must be refused")
        } catch {
            #expect("\(error)".contains(root + "/config-only/config.json"), "\(error)")
        }
        // A config.json without a required key names the key.
        try #"{"model_type": "llama", "hidden_size": 64}"#.write(toFile: root + "/config-only/config.json", atomically: true, encoding: .utf8)
        do {
            _ = try TrainingPlan.make(options(try recipe(model: "config-only", tuning: "{method: lora}", name: "plan")))
            Issue.record("an incomplete config.json must be refused")
        } catch {
            #expect("\(error)".contains("config.json") && "\(error)".contains("num_attention_heads"), "\(error)")
        }
    }
}

extension TrainingPlan {
    static func make(_ options: FineTuneRun.Options, overriding: [String]) throws -> TrainingPlan {
        var o = options
        o.overrides = overriding
        return try make(o)
    }
}
