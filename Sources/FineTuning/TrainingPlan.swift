import Foundation
import ModelFormats
import Models
import Tokenization
import Training
import TrainingData

/// `whittle train RECIPE --dry-run`: the pre-flight estimate before anything is downloaded or written.
///
/// Resolves the recipe and its `--set` overrides, reads the model folder's config.json (weights are never read, so
/// a folder holding only config.json is enough), counts the data when the tokenizer and the training files are
/// there (otherwise every micro-batch is taken as full rows of `data.max_length` tokens, and the plan says so), and
/// computes the same `Preflight` the real run prints before step 1 (`FineTuneRun.preflight`, one function for both),
/// plus the predicted time for the recipe's updates. Nothing is written: no run folder, no token cache.
public struct TrainingPlan: Sendable {
    public struct Counts: Sendable, Equatable {
        public var train: Int
        public var valid: Int
        public var test: Int
    }

    public var recipePath: String
    public var recipe: Recipe
    public var config: ModelConfig
    public var preflight: Preflight
    /// Whether the model folder holds weight files (they are not read either way).
    public var weightsPresent: Bool
    /// Examples after the split, when the data were counted.
    public var counts: Counts?
    /// Micro-batches per epoch, when the data were counted.
    public var batchesPerEpoch: Int?
    /// Updates the run would make (nil: the recipe trains for epochs and the data were not counted).
    public var totalUpdates: Int?
    /// Assumptions the prediction rests on (data not found, no tokenizer, …).
    public var assumptions: [String]

    /// Predicted seconds for the whole run, when its number of updates is known.
    public var totalSeconds: Double? { totalUpdates.map { Double($0) * preflight.secondsPerUpdate } }

    /// Builds the plan for `options.recipePath` with `options.overrides` (`options.resume` is not used).
    public static func make(_ options: FineTuneRun.Options) throws -> TrainingPlan {
        let recipe = try Recipe.load(path: options.recipePath, overrides: options.overrides)
        let folder = recipe.model.path
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw RunError("model.path \(folder): no such folder. The dry run needs only the model's config.json there, "
                           + "e.g. `huggingface-cli download REPO config.json --local-dir \(folder)`")
        }
        let configPath = (folder as NSString).appendingPathComponent("config.json")
        guard fm.fileExists(atPath: configPath) else {
            throw RunError("\(configPath): not found. The dry run reads the model's shape from config.json (model.path "
                           + "\(folder)); download it alone, e.g. `huggingface-cli download REPO config.json --local-dir \(folder)`")
        }
        let config = try HFConfig.read(path: configPath)

        // What would train, counted from shapes (no tensor is allocated).
        let trainable: Int
        switch Result(catching: { () throws(ModelError) -> Int in try trainableCount(recipe.tuning, config: config) }) {
        case .success(let n): trainable = n
        case .failure(let e): throw RunError("\(options.recipePath): tuning: \(e.message) (model \(configPath))")
        }
        let weightsPresent = (try? fm.contentsOfDirectory(atPath: folder))?
            .contains { $0.hasSuffix(".safetensors") || $0 == "model.safetensors.index.json" } ?? false

        // The data, when they can be counted.
        var assumptions: [String] = []
        var counts: Counts?, batches: Int?
        let missing = (recipe.data.train + recipe.data.valid + recipe.data.test).filter { !fm.fileExists(atPath: $0) }
        let tokenizerPath = (folder as NSString).appendingPathComponent("tokenizer.json")
        let b = recipe.training.batchSize
        let fullRows = "every micro-batch counted as \(b) full row\(b == 1 ? "" : "s") of \(recipe.data.maxLength) tokens"
        if !missing.isEmpty {
            assumptions.append("data not found (\(missing.joined(separator: ", "))): \(fullRows)")
        } else if !fm.fileExists(atPath: tokenizerPath) {
            assumptions.append("no tokenizer (\(tokenizerPath)) to count the data with: \(fullRows)")
        } else {
            let tokenizer = try Tokenizer.load(path: folder)
            let chat = try ChatTemplateConfig.loadIfPresent(folder: URL(fileURLWithPath: folder))
            let data = try FineTuneRun.prepareData(recipe, tokenizer: tokenizer, chat: chat, cacheDirectory: nil)
            counts = Counts(train: data.train.count, valid: data.valid.count, test: data.test.count)
            batches = Trainer.batchesPerEpoch(examples: data.train, options: recipe.training, maxLength: recipe.data.maxLength)
        }

        let preflight = FineTuneRun.preflight(recipe, config: config, trainable: trainable, batchesPerEpoch: batches,
                                              rates: options.preflightRates)
        let totalUpdates: Int? = recipe.training.maxSteps > 0 ? recipe.training.maxSteps
            : batches.map { Trainer.totalSteps(options: recipe.training, batchesPerEpoch: $0) }
        return TrainingPlan(recipePath: options.recipePath, recipe: recipe, config: config, preflight: preflight,
                            weightsPresent: weightsPresent, counts: counts, batchesPerEpoch: batches, totalUpdates: totalUpdates,
                            assumptions: assumptions)
    }

    /// Trainable values of `tuning` on a model of shape `config`, from shapes alone.
    static func trainableCount(_ tuning: TuningOptions, config: ModelConfig) throws(ModelError) -> Int {
        switch tuning.method {
        case .lora:
            let saved = Set(try tuning.savedNames(for: config))
            return try tuning.loraSpec(for: config).parameterShapes(config: config).reduce(0) { $0 + $1.shape.reduce(1, *) }
                + config.parameterShapes().filter { saved.contains($0.name) }.reduce(0) { $0 + $1.shape.reduce(1, *) }
        case .full:
            _ = try tuning.savedNames(for: config)  // modules_to_save with full fine-tuning is an error
            let names = Set(try tuning.trainableNames(for: config))
            return config.parameterShapes().filter { names.contains($0.name) }.reduce(0) { $0 + $1.shape.reduce(1, *) }
        }
    }

    /// What `whittle train --dry-run` prints.
    public var lines: [String] {
        let t = recipe.training
        var out = ["dry run of \(recipePath): nothing is written and no weights are read"]
        out.append("model: \(recipe.model.path)/config.json: \(config.modelType), \(config.numLayers) layers, width "
                   + "\(config.hiddenSize), vocabulary \(config.vocabSize) (weights \(weightsPresent ? "present, not read" : "not downloaded"))")
        if let c = counts, let b = batchesPerEpoch {
            out.append("data: \(c.train) training, \(c.valid) validation, \(c.test) test examples; \(b) micro-batches per epoch")
        }
        for a in assumptions { out.append("assumed: \(a)") }
        out.append(preflight.summary)
        let per100 = ProgressPrinter.duration(100 * preflight.secondsPerUpdate)
        let perUpdate = preflight.secondsPerUpdate < 1 ? String(format: "%.2fs", preflight.secondsPerUpdate)
                                                       : ProgressPrinter.duration(preflight.secondsPerUpdate)
        var time = "predicted time: ~\(perUpdate) per update (\(t.batchSize) × \(recipe.data.maxLength) tokens × "
            + "\(t.gradientAccumulation) micro-batch\(t.gradientAccumulation == 1 ? "" : "es")), ~\(per100) per 100 updates"
        if let n = totalUpdates, let total = totalSeconds {
            time += "; this run: \(n) updates"
            if t.maxSteps == 0 { time += " (\(Self.number(t.epochs)) epochs)" }
            time += ", ~\(ProgressPrinter.duration(total))"
        } else {
            time += "; this run: \(Self.number(t.epochs)) epochs of data not yet counted"
        }
        out.append(time)
        if let problem = preflight.memoryProblem {
            out.append("would not start: \(problem)")
        }
        return out
    }

    static func number(_ x: Double) -> String { x == x.rounded() ? String(Int(x)) : String(x) }
}
