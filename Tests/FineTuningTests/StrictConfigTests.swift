import Testing
import FineTuning

/// A configuration shaped like a recipe section: nested sections, a free-form map, lists, numbers, strings.
struct SampleRecipe: Codable, Equatable {
    struct Optimizer: Codable, Equatable {
        var learningRate: Double = 2e-4
        var weightDecay: Double = 0
        var beta1: Double = 0.9
    }
    struct Data: Codable, Equatable {
        var train: String = ""
        var keyMap: [String: String] = [:]
        var maxLength: Int = 512
    }
    var name: String = "default"
    var seed: Int = 0
    var targetModules: [String] = ["q_proj", "v_proj"]
    var useRslora: Bool = false
    var optimizer = Optimizer()
    var data = Data()
}

@Suite struct StrictConfigTests {
    func resolve(_ yaml: String?, _ overrides: [String] = []) throws -> SampleRecipe {
        try StrictConfig.resolve(defaults: SampleRecipe(), yaml: yaml, file: "r.yaml", overrides: overrides)
    }

    @Test func precedenceSetOverYAMLOverDefaults() throws {
        #expect(try resolve(nil) == SampleRecipe())
        let yaml = """
        name: gsm8k
        seed: 3
        optimizer:
          learning_rate: 1.0e-3
        data:
          train: data/train.jsonl
          key_map:
            question_text: prompt
            answer: completion
        target_modules: [q_proj, k_proj, v_proj]
        """
        let r = try resolve(yaml, ["optimizer.learning_rate=5e-4", "data.max_length=128", "use_rslora=true", "data.key_map.extra_col=text"])
        #expect(r.name == "gsm8k" && r.seed == 3)
        #expect(r.optimizer.learningRate == 5e-4 && r.optimizer.weightDecay == 0 && r.optimizer.beta1 == 0.9)
        #expect(r.data.maxLength == 128 && r.useRslora)
        #expect(r.data.keyMap == ["question_text": "prompt", "answer": "completion", "extra_col": "text"])
        #expect(r.targetModules == ["q_proj", "k_proj", "v_proj"])
    }

    @Test func unknownKeysAreErrorsWithSuggestions() throws {
        do { _ = try resolve("seed: 1\noptimizer:\n  learning_rte: 0.1\n"); Issue.record("accepted a misspelled key") } catch let e as RecipeError {
            #expect(e.line == 3 && e.path == "optimizer.learning_rte" && e.message.contains("did you mean \"learning_rate\""), "\(e)")
        }
        do { _ = try resolve("colour: blue\n"); Issue.record("accepted an unknown key") } catch let e as RecipeError {
            #expect(e.line == 1 && e.message.contains("known keys"), "\(e)")
        }
        do { _ = try resolve(nil, ["optimizer.wieght_decay=0.1"]); Issue.record("accepted a misspelled override") } catch let e as RecipeError {
            #expect(e.file.contains("--set") && e.message.contains("weight_decay"), "\(e)")
        }
        do { _ = try resolve(nil, ["seed"]); Issue.record("accepted an override without '='") } catch let e as RecipeError {
            #expect(e.message.contains("key.path=value"), "\(e)")
        }
    }

    @Test func typeErrorsNameTheKeyAndLine() throws {
        do { _ = try resolve("name: x\nseed: many\n"); Issue.record("accepted a string for an integer") } catch let e as RecipeError {
            #expect(e.line == 2 && e.path == "seed" && e.message.contains("integer"), "\(e)")
        }
        do { _ = try resolve("optimizer: 3\n"); Issue.record("accepted a scalar for a section") } catch let e as RecipeError {
            #expect(e.path == "optimizer" && e.message.contains("mapping"), "\(e)")
        }
        do { _ = try resolve("name: [unclosed\n"); Issue.record("accepted broken YAML") } catch let e as RecipeError {
            #expect(e.message.contains("invalid YAML"), "\(e)")
        }
    }

    @Test func namesAndDistances() {
        #expect(StrictConfig.camelToSnake("learningRate") == "learning_rate")
        #expect(StrictConfig.snakeToCamel("lora_dropout_rate") == "loraDropoutRate")
        #expect(StrictConfig.editDistance("learning_rte", "learning_rate") == 1)
        #expect(StrictConfig.editDistance("", "abc") == 3)
    }
}
