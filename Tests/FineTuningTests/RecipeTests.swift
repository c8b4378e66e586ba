import FineTuning
import Foundation
import Models
import TestSupport
import Testing
import Training
import TrainingData

/// Every recipe in Recipes/ decodes strictly and validates; the resolved YAML reads back to the same recipe.
@Suite struct RecipeTests {
    static let recipes: [String] = {
        let dir = repoRoot.appendingPathComponent("Recipes").path
        return ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.hasSuffix(".yaml") }.sorted()
    }()

    @Test func thereAreRecipes() { #expect(Self.recipes.count >= 5, "\(Self.recipes)") }

    @Test(arguments: recipes)
    func recipeDecodesAndValidates(_ name: String) throws {
        let path = repoRoot.appendingPathComponent("Recipes/\(name)").path
        let recipe = try Recipe.load(path: path)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.hasPrefix("#"), "\(name) must open with a comment: what it does, the base model, the command")
        #expect(text.contains("whittle train Recipes/\(name)"), "\(name)'s comment must show its exact command")
        // The resolved form (what a run folder keeps) reads back identically.
        let resolved = try recipe.resolvedYAML()
        let again = try StrictConfig.resolve(defaults: Recipe(), yaml: resolved, file: "resolved")
        #expect(again == recipe)
    }

    @Test func overridesAndUnknownKeys() throws {
        let path = repoRoot.appendingPathComponent("Recipes/stories260k-gsm8k-lora.yaml").path
        let r = try Recipe.load(path: path, overrides: ["training.max_steps=7", "tuning.r=4", "data.train=[a.jsonl, b.jsonl]"])
        #expect(r.training.maxSteps == 7 && r.tuning.r == 4 && r.data.train == ["a.jsonl", "b.jsonl"])
        #expect(r.training.learningRate == 3e-3, "values not overridden keep the recipe's")
        #expect(r.training.beta2 == 0.999, "values the recipe omits keep the defaults")
        do {
            _ = try Recipe.load(path: path, overrides: ["training.learning_rat=1"])
            Issue.record("an unknown key must be an error")
        } catch let e as RecipeError {
            #expect(e.description.contains("learning_rate"), "\(e)")
        }
        do {
            _ = try Recipe.load(path: path, overrides: ["model.path="])
            Issue.record("an empty model path must be an error")
        } catch let e as RecipeError {
            #expect(e.path == "model.path", "\(e)")
        }
    }

    /// `all-linear` expands per family; a target the model lacks is an error naming the modules it has.
    @Test func tuningTargets() throws {
        let llama = ModelConfig(family: .llama, modelType: "llama", vocabSize: 10, hiddenSize: 8, intermediateSize: 12,
                                numLayers: 2, numHeads: 2, numKVHeads: 1, headDim: 4, maxPositionEmbeddings: 16,
                                normEps: 1e-5, tieWordEmbeddings: true)
        var t = TuningOptions()
        let spec = try t.loraSpec(for: llama)
        #expect(spec.targets(in: llama).count == 14)
        #expect(spec.scale == 2)
        t.targetModules = ["c_attn"]
        #expect(throws: ModelError.self) { try t.loraSpec(for: llama) }
        t.method = .full
        t.trainable = ["layers.1.", "model.norm"]
        #expect(try t.trainableNames(for: llama).count == 10)
        t.trainable = ["nope"]
        #expect(throws: ModelError.self) { try t.trainableNames(for: llama) }
    }
}
