import Evaluation
import Foundation
import Models
import Training
import TrainingData
import Yams

/// A training recipe: one section per stage, each owned (and validated) by that stage. Keys, defaults and
/// precedence (`--set` > YAML > defaults) are documented in Recipes/README.md.
public struct Recipe: Codable, Sendable, Equatable {
    /// `model`: the base model.
    public struct ModelSection: Codable, Sendable, Equatable {
        /// A Hugging Face folder (config.json, safetensors, tokenizer.json); relative paths are from the working directory.
        public var path = ""
        /// `pretrained` reads the weights in `path`; `random` starts from fresh parameters (`ModelInit`, seeded by
        /// `seed`) for the architecture in `path`/config.json: pretraining from scratch, `tuning.method: full` only.
        public var initialization: Initialization = .pretrained
        /// Seed of the random initialisation (used with `init: random`).
        public var seed: UInt64 = 0
        public init() {}

        public enum Initialization: String, Codable, Sendable { case pretrained, random }

        enum CodingKeys: String, CodingKey { case path, initialization = "init", seed }
    }

    /// `output`: where the run folder goes.
    public struct OutputSection: Codable, Sendable, Equatable {
        /// Parent of run folders.
        public var dir = "Checkpoints/runs"
        /// Run folder name; empty = the recipe's file name plus the start time (yyyyMMdd-HHmmss).
        public var name = ""
        /// Also write `merged/` (base + adapter as one HF model) at the end of a LoRA run.
        public var saveMerged = false
        public init() {}
    }

    public var model = ModelSection()
    public var data = DataOptions()
    public var tuning = TuningOptions()
    public var training = TrainingOptions()
    public var output = OutputSection()
    /// `evaluation`: the base against the fine-tune at the end of the run (Evaluation owns the section).
    public var evaluation = EvaluationSection()

    public init() {}

    /// Resolves a recipe file with `--set key.path=value` overrides (strict: unknown keys are errors with a suggestion).
    public static func load(path: String, overrides: [String] = []) throws -> Recipe {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw RecipeError(file: path, line: nil, path: "", message: "cannot read the recipe file")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw RecipeError(file: path, line: nil, path: "", message: "the recipe is not UTF-8 text")
        }
        let recipe = try StrictConfig.resolve(defaults: Recipe(), yaml: text, file: path, overrides: overrides)
        try recipe.validate(file: path)
        return recipe
    }

    /// Checks what no single stage can: that a model and training data are named, and each stage's own rules.
    public func validate(file: String) throws {
        func fail(_ key: String, _ message: String) -> RecipeError { RecipeError(file: file, line: nil, path: key, message: message) }
        if model.path.isEmpty { throw fail("model.path", "name the base model: a Hugging Face folder with config.json") }
        if model.initialization == .random && tuning.method != .full {
            throw fail("model.init", "random initialisation trains every weight: use tuning.method: full (LoRA needs pretrained weights)")
        }
        if data.train.isEmpty { throw fail("data.train", "name at least one training file (JSONL, JSON, CSV or TSV)") }
        if !(0..<1).contains(data.validRatio) || !(0..<1).contains(data.testRatio) || data.validRatio + data.testRatio >= 1 {
            throw fail("data.valid_ratio", "valid_ratio and test_ratio must be in [0, 1) and leave training examples")
        }
        if !data.valid.isEmpty && data.validRatio > 0 { throw fail("data.valid_ratio", "give validation files or a ratio, not both") }
        if !data.test.isEmpty && data.testRatio > 0 { throw fail("data.test_ratio", "give test files or a ratio, not both") }
        do { try training.validate() } catch { throw fail("training", error.message) }
        do { try evaluation.validate() } catch { throw fail("evaluation", error.message) }
    }

    /// The recipe as YAML with every key (defaults included), as written to a run folder's recipe.resolved.yaml.
    public func resolvedYAML() throws -> String { try StrictConfig.yaml(encoding: self) }
}
