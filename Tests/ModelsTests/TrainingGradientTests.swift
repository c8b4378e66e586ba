import Foundation
import ModelFormats
import Models
import Tensors
import TestSupport
import Testing

/// Model-level training numerics against transformers / peft (fixtures `train/*_grads` from
/// Tests/Reference/gen_train_models.py): a packed batch (two documents per row, padding) through Whittle gives the
/// loss and every parameter gradient that the reference computes by running each document alone.
/// Criteria: loss sum |Δ| ≤ 1e-5·|ref|; each gradient element |Δ| ≤ 1e-4·|ref| + 1e-5·max|ref of that tensor|.
@Suite struct TrainingGradientTests {
    struct Case {
        let model: any TrainableModel
        let batch: SequenceBatch
        let expected: SafetensorsFile
        let fx: JSON
    }

    func load(_ name: String) throws -> Case {
        let fx = try loadFixture("train/\(name).json")
        let folder = repoRoot.appendingPathComponent("Tests/Reference/fixtures/models/\(fx["model"].string)").path
        let config = try HFConfig.read(path: folder + "/config.json")
        var params = try HFFolder.readParameters(folder: folder, config: config)
        let expected = try SafetensorsFile(path: repoRoot.appendingPathComponent("Tests/Reference/fixtures/train/\(name).safetensors").path)
        var spec: LoRASpec?
        let lora = fx["lora"]
        if case .object = lora {
            spec = LoRASpec(rank: lora["r"].int, alpha: lora["lora_alpha"].double, useRSLoRA: { if case .bool(true) = lora["use_rslora"] { true } else { false } }(),
                            targetModules: lora["target_modules"].array.map(\.string),
                            layers: lora["layers_to_transform"].array.map(\.int))
            for name in expected.names where name.hasPrefix("init/") { params[String(name.dropFirst(5))] = try expected.tensor(name) }
        }
        let b = fx["batch"]
        let batch = SequenceBatch(batch: b["batch"].int, length: b["length"].int,
                                  inputs: b["inputs"].array.map { Int32($0.int) }, targets: b["targets"].array.map { Int32($0.int) },
                                  positions: b["positions"].array.map { Int32($0.int) },
                                  segmentStarts: b["segment_starts"].array.map { Int32($0.int) })
        return Case(model: try makeLanguageModel(config: config, parameters: params, lora: spec), batch: batch, expected: expected, fx: fx)
    }

    func check(_ c: Case, names: [String], sourceLocation: SourceLocation = #_sourceLocation) throws {
        var grads = Dictionary(uniqueKeysWithValues: names.map { ($0, Tensor(zeros: c.model.parameters[$0]!.shape)) })
        var rng = RandomGenerator(seed: 1)
        let count = c.fx["count"].int
        let (sum, n) = try c.model.lossAndGradients(c.batch, gradScale: 1 / Float(count), into: &grads, dropoutRNG: &rng)
        #expect(n == count, sourceLocation: sourceLocation)
        #expect(abs(sum - c.fx["loss_sum"].double) <= 1e-5 * abs(c.fx["loss_sum"].double),
                "loss sum \(sum), expected \(c.fx["loss_sum"].double)", sourceLocation: sourceLocation)
        for name in names {
            let ref = try c.expected.tensor(name)
            let refValues = ref.withUnsafeBufferPointer { Array($0).map(Double.init) }
            let scale = refValues.map(abs).max() ?? 0
            expectClose(grads[name]!.withUnsafeBufferPointer { Array($0) }, refValues, rtol: 1e-4, atol: 1e-5 * scale,
                        "gradient of \(name)", sourceLocation: sourceLocation)
        }
    }

    @Test(arguments: ["llama_untied_grads", "qwen2_grads", "gpt2_grads"])
    func fullFineTuningGradientsMatchTransformers(_ name: String) throws {
        let c = try load(name)
        let names = c.fx["gradient_names"].array.map(\.string)
        #expect(Set(names) == Set(c.model.parameters.keys), "every parameter has a reference gradient")
        try check(c, names: names)
    }

    @Test(arguments: ["llama_lora_grads", "gpt2_lora_grads"])
    func loraGradientsMatchPEFT(_ name: String) throws {
        let c = try load(name)
        let names = c.fx["gradient_names"].array.map(\.string)
        #expect(!names.isEmpty && names.allSatisfy { $0.contains(".lora_") })
        try check(c, names: names)
    }

    /// Frozen parameters get no gradient; a subset of trainable names gets exactly the values of the full run.
    @Test func frozenParametersGetNothingAndSubsetsAgree() throws {
        let c = try load("llama_untied_grads")
        let subset = ["model.layers.2.mlp.down_proj.weight", "model.layers.1.input_layernorm.weight", "lm_head.weight"]
        try check(c, names: subset)
    }

    /// `loss` (no backward) equals the loss of `lossAndGradients`.
    @Test func lossWithoutGradientsAgrees() throws {
        for name in ["llama_untied_grads", "gpt2_lora_grads"] {
            let c = try load(name)
            let (sum, n) = try c.model.loss(c.batch)
            #expect(n == c.fx["count"].int)
            #expect(abs(sum - c.fx["loss_sum"].double) <= 1e-5 * abs(c.fx["loss_sum"].double), "\(name): \(sum)")
        }
    }

    /// Bad batches are errors, not crashes.
    @Test func badBatchesAreErrors() throws {
        let c = try load("llama_untied_grads")
        var bad = c.batch
        bad.inputs[3] = 100_000
        #expect(throws: ModelError.self) { try c.model.loss(bad) }
        bad = c.batch
        bad.segmentStarts[2] = 5
        #expect(throws: ModelError.self) { try c.model.loss(bad) }
        bad = c.batch
        bad.targets.removeLast()
        #expect(throws: ModelError.self) { try c.model.loss(bad) }
        var grads = ["nope": Tensor(zeros: [1])]
        var rng = RandomGenerator(seed: 0)
        #expect(throws: ModelError.self) { try c.model.lossAndGradients(c.batch, gradScale: 1, into: &grads, dropoutRNG: &rng) }
    }
}
