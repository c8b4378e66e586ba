import Foundation
import ModelFormats
import Models
import Tensors
import TestSupport
import Testing
import Training
import TrainingData

/// The trainer end to end on tiny models: 10-update loss curves against PyTorch / peft (fixtures
/// `train/llama_adamw_curve`, `train/gpt2_lora_curve` from Tests/Reference/gen_train_models.py), accumulation
/// equivalence, bit-exact resume, and the NaN guard.
@Suite struct TrainerTests {
    struct Tiny {
        let config: ModelConfig
        let parameters: [String: Tensor]
    }

    func tiny(_ name: String) throws -> Tiny {
        let folder = repoRoot.appendingPathComponent("Tests/Reference/fixtures/models/\(name)").path
        let config = try HFConfig.read(path: folder + "/config.json")
        return Tiny(config: config, parameters: try HFFolder.readParameters(folder: folder, config: config))
    }

    func examples(_ docs: [JSON]) -> [TokenizedExample] {
        docs.enumerated().map { i, d in
            TokenizedExample(tokens: d["tokens"].array.map { Int32($0.int) },
                             trained: d["trained"].array.map { if case .bool(let b) = $0 { b } else { false } },
                             file: "fixture", line: i + 1)
        }
    }

    func curveOptions(_ fx: JSON) -> TrainingOptions {
        var o = TrainingOptions()
        o.maxSteps = fx["steps"].int
        o.batchSize = 1
        o.gradientAccumulation = 2
        o.layout = .pad
        o.shuffle = false
        o.learningRate = fx["learning_rate"].double
        o.weightDecay = fx["weight_decay"].double
        o.schedule = .cosine
        o.warmupSteps = 2
        o.maxGradNorm = 1
        return o
    }

    func replay(_ fx: JSON, trainer: inout Trainer, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let losses = fx["losses"].doubles, norms = fx["grad_norms"].doubles, lrs = fx["learning_rates"].doubles
        for s in 0..<fx["steps"].int {
            let m = try trainer.step()
            #expect(abs(m.learningRate - lrs[s]) <= 1e-12 * lrs[s] + 1e-15, "update \(s + 1): lr \(m.learningRate) vs \(lrs[s])",
                    sourceLocation: sourceLocation)
            #expect(abs(m.loss - losses[s]) <= 2e-5 * abs(losses[s]), "update \(s + 1): loss \(m.loss) vs \(losses[s])",
                    sourceLocation: sourceLocation)
            #expect(abs(m.gradNorm - norms[s]) <= 1e-3 * abs(norms[s]), "update \(s + 1): grad norm \(m.gradNorm) vs \(norms[s])",
                    sourceLocation: sourceLocation)
        }
        #expect(trainer.isFinished, sourceLocation: sourceLocation)
    }

    /// Criterion: per-update loss within 2e-5 relative, grad norm within 1e-3, lr within 1e-12 of PyTorch's.
    @Test func fullFineTuningCurveMatchesPyTorch() throws {
        let fx = try loadFixture("train/llama_adamw_curve.json")
        let m = try tiny(fx["model"].string)
        var trainer = try Trainer(options: curveOptions(fx), frozen: [:], trainable: m.parameters,
                                  train: examples(fx["documents"].array), validation: [], maxLength: 16, padID: 0) {
            try makeLanguageModel(config: m.config, parameters: $0)
        }
        try replay(fx, trainer: &trainer)
    }

    /// Plain LoRA, and LoRA+ against peft's `create_loraplus_optimizer` (lora_B at lr × 4).
    @Test(arguments: ["gpt2_lora_curve", "gpt2_loraplus_curve"])
    func loraCurveMatchesPEFT(_ name: String) throws {
        let fx = try loadFixture("train/\(name).json")
        let m = try tiny(fx["model"].string)
        let l = fx["lora"]
        let spec = LoRASpec(rank: l["r"].int, alpha: l["lora_alpha"].double, targetModules: l["target_modules"].array.map(\.string))
        let initial = try SafetensorsFile(path: repoRoot.appendingPathComponent("Tests/Reference/fixtures/train/\(name).safetensors").path)
        var adapter: [String: Tensor] = [:]
        for name in initial.names { adapter[String(name.dropFirst("init/".count))] = try initial.tensor(name) }
        #expect(Set(adapter.keys) == Set(spec.parameterShapes(config: m.config).map(\.name)))
        var options = curveOptions(fx)
        if name.contains("loraplus") { options.loraplusLrRatio = fx["loraplus_lr_ratio"].double }
        var trainer = try Trainer(options: options, frozen: m.parameters, trainable: adapter,
                                  train: examples(fx["documents"].array), validation: [], maxLength: 16, padID: 0) {
            try makeLanguageModel(config: m.config, parameters: $0, lora: spec)
        }
        try replay(fx, trainer: &trainer)
    }

    /// LoRA plus a fully trained embedding matrix (peft `modules_to_save=["embed_tokens"]`, `ensure_weight_tying`) on a
    /// tied Llama: the copy is the one matrix both the input and the LM head read, and it decays as a matrix.
    @Test func loraWithSavedEmbeddingMatchesPEFT() throws {
        let fx = try loadFixture("train/llama_lora_embed_curve.json")
        let m = try tiny(fx["model"].string)
        #expect(m.config.tieWordEmbeddings)
        let l = fx["lora"]
        let spec = LoRASpec(rank: l["r"].int, alpha: l["lora_alpha"].double, targetModules: l["target_modules"].array.map(\.string))
        let initial = try SafetensorsFile(path: repoRoot.appendingPathComponent("Tests/Reference/fixtures/train/llama_lora_embed_curve.safetensors").path)
        var trainable: [String: Tensor] = [:]
        for name in initial.names { trainable[String(name.dropFirst("init/".count))] = try initial.tensor(name) }
        let saved = try m.config.savedParameterNames(modules: fx["modules_to_save"].array.map(\.string), lora: spec)
        #expect(saved == fx["trainable_copies"].array.map(\.string))
        var frozen = m.parameters
        for name in saved { trainable[name] = frozen.removeValue(forKey: name) }
        var trainer = try Trainer(options: curveOptions(fx), frozen: frozen, trainable: trainable,
                                  train: examples(fx["documents"].array), validation: [], maxLength: 16, padID: 0) {
            try makeLanguageModel(config: m.config, parameters: $0, lora: spec)
        }
        try replay(fx, trainer: &trainer)
        // The copy moved as far as peft's did.
        let name = saved[0]
        let moved = zip(trainer.trainable[name]!.scalars, m.parameters[name]!.scalars).map { Double(abs($0 - $1)) }.max()!
        let peftMoved = fx["copy_max_abs_change"][name].double
        #expect(abs(moved - peftMoved) <= 1e-3 * peftMoved, "embedding copy moved \(moved), peft's \(peftMoved)")
    }

    /// One plain SGD update (no clipping, constant rate, padded rows in file order): the update is lr × gradient.
    func oneSGDUpdate(rows: Int, accumulation: Int, learningRate: Double) -> TrainingOptions {
        var o = TrainingOptions()
        o.maxSteps = 1
        o.batchSize = rows
        o.gradientAccumulation = accumulation
        o.layout = .pad
        o.shuffle = false
        o.optimizer = .sgd
        o.learningRate = learningRate
        o.maxGradNorm = 0
        o.schedule = .constant
        return o
    }

    /// Batch 4 × 1, 2 × 2 and 1 × 4 (rows × accumulation) give the same update: the loss is token-weighted over
    /// the whole step, not averaged per micro-batch. SGD (lr 1, no clipping) makes the update the gradient itself
    /// (AdamW's first step is ~lr·sign(g) and would amplify rounding in near-zero gradients).
    /// Criterion: every update element within 1e-5 of the tensor's largest update.
    @Test func accumulationIsTokenWeighted() throws {
        let m = try tiny("llama_untied")
        let fx = try loadFixture("train/llama_adamw_curve.json")
        let data = Array(examples(fx["documents"].array).prefix(4))
        var results: [[String: [Float]]] = []
        for (rows, accumulation) in [(4, 1), (2, 2), (1, 4)] {
            let o = oneSGDUpdate(rows: rows, accumulation: accumulation, learningRate: 1)
            var trainer = try Trainer(options: o, frozen: [:], trainable: m.parameters, train: data, validation: [],
                                      maxLength: 16, padID: 0) { try makeLanguageModel(config: m.config, parameters: $0) }
            _ = try trainer.step()
            results.append(trainer.trainable.mapValues { after in after.withUnsafeBufferPointer { Array($0) } })
        }
        let before = m.parameters.mapValues { t in t.withUnsafeBufferPointer { Array($0) } }
        for other in results.dropFirst() {
            for (name, p0) in before {
                let reference = zip(results[0][name]!, p0).map { Double($0) - Double($1) }
                let update = zip(other[name]!, p0).map { Float(Double($0) - Double($1)) }
                let scale = reference.map(abs).max() ?? 0
                #expect(scale > 0, "\(name) got no update")
                expectClose(update, reference, rtol: 0, atol: 1e-5 * scale, name)
            }
        }
    }

    /// LoRA+ (`loraplus_lr_ratio`): with SGD one update moves every lora_B matrix exactly `ratio` times as far as
    /// plain LoRA does, and every lora_A matrix the same. B starts non-zero so that A has a gradient.
    /// Criterion: each element within 1e-4 of the tensor's largest update (parameters are Float; the update is small).
    @Test func loraPlusScalesOnlyTheBUpdates() throws {
        let m = try tiny("gpt2_tied")
        let spec = LoRASpec(rank: 4, alpha: 8, targetModules: ["c_attn", "c_proj", "c_fc"])
        var rng = RandomGenerator(seed: 7)
        var adapter: [String: Tensor] = [:]
        for (name, shape) in spec.parameterShapes(config: m.config) {
            adapter[name] = Tensor(shape: shape, data: (0..<shape.reduce(1, *)).map { _ in Float(rng.normal(std: 0.1)) })
        }
        let data = Array(examples(try loadFixture("train/gpt2_lora_curve.json")["documents"].array).prefix(2))
        func update(ratio: Double) throws -> [String: [Double]] {
            var o = oneSGDUpdate(rows: 2, accumulation: 1, learningRate: 0.1)
            o.loraplusLrRatio = ratio
            var trainer = try Trainer(options: o, frozen: m.parameters, trainable: adapter, train: data, validation: [],
                                      maxLength: 16, padID: 0) { try makeLanguageModel(config: m.config, parameters: $0, lora: spec) }
            _ = try trainer.step()
            var updates: [String: [Double]] = [:]
            for (name, after) in trainer.trainable {
                let a: [Float] = after.withUnsafeBufferPointer { Array($0) }
                let b: [Float] = adapter[name]!.withUnsafeBufferPointer { Array($0) }
                updates[name] = zip(a, b).map { Double($0) - Double($1) }
            }
            return updates
        }
        let plain = try update(ratio: 1), plus = try update(ratio: 4)
        var full = TrainingOptions()
        full.loraplusLrRatio = 16
        #expect(throws: TrainingError.self, "LoRA+ without adapters is an error") {
            try Trainer(options: full, frozen: [:], trainable: m.parameters, train: data, validation: [], maxLength: 16,
                        padID: 0) { try makeLanguageModel(config: m.config, parameters: $0) }
        }
        #expect(plain.keys.contains { $0.hasSuffix("lora_A.weight") } && plain.keys.contains { $0.hasSuffix("lora_B.weight") })
        for (name, reference) in plain {
            let expected = name.hasSuffix(".lora_B.weight") ? reference.map { 4 * $0 } : reference
            let scale = expected.map(abs).max() ?? 0
            #expect(scale > 0, "\(name) got no update")
            expectClose(plus[name]!.map { Float($0) }, expected, rtol: 0, atol: 1e-4 * scale, name)
        }
    }

    /// Stopping after 3 updates and resuming from the saved state equals running 7 updates straight, bit for bit
    /// (LoRA with dropout, packing, shuffling, validation — every generator and the data cursor are restored).
    @Test func resumeIsBitExact() throws {
        let m = try tiny("llama_untied")
        let fx = try loadFixture("train/llama_adamw_curve.json")
        let data = examples(fx["documents"].array)
        let spec = LoRASpec(rank: 4, alpha: 8, dropout: 0.1, targetModules: ["q_proj", "v_proj", "down_proj"])
        var rng = RandomGenerator(seed: 5)
        var adapter: [String: Tensor] = [:]
        for (name, shape) in spec.parameterShapes(config: m.config) {
            var t = Tensor(zeros: shape)
            rng.fillUniform(&t, low: -0.1, high: 0.1)
            adapter[name] = t
        }
        var o = TrainingOptions()
        o.maxSteps = 7
        o.batchSize = 2
        o.gradientAccumulation = 2
        o.learningRate = 5e-3
        o.weightDecay = 0.01
        o.warmupSteps = 1
        o.seed = 9
        func make() throws -> Trainer {
            try Trainer(options: o, frozen: m.parameters, trainable: adapter, train: Array(data[4...]), validation: Array(data[..<4]),
                        maxLength: 24, padID: 0) { try makeLanguageModel(config: m.config, parameters: $0, lora: spec) }
        }
        var straight = try make()
        var straightLosses: [Double] = []
        while !straight.isFinished { straightLosses.append(try straight.step().loss) }

        var first = try make()
        var losses: [Double] = []
        for _ in 0..<3 { losses.append(try first.step().loss) }
        var resumed = try make()
        try resumed.restore(progress: first.progress, trainable: first.trainable, optimizerTensors: first.optimizerTensors,
                            optimizerStep: first.optimizerStep)
        while !resumed.isFinished { losses.append(try resumed.step().loss) }
        #expect(losses == straightLosses)
        for (name, t) in straight.trainable {
            #expect(t.withUnsafeBufferPointer { Array($0) } == resumed.trainable[name]!.withUnsafeBufferPointer { Array($0) },
                    "\(name) differs after resume")
        }
        #expect(try straight.validationLoss() == resumed.validationLoss())
    }

    /// Random documents of 9–16 tokens, every target trained.
    func randomExamples(vocabulary: Int, count: Int, seed: UInt64) -> [TokenizedExample] {
        var rng = RandomGenerator(seed: seed)
        return (0..<count).map { i in
            let n = 9 + Int(rng.next() % 8)
            return TokenizedExample(tokens: (0..<n).map { _ in Int32(rng.next() % UInt64(vocabulary)) },
                                    trained: [false] + [Bool](repeating: true, count: n - 1), file: "random", line: i + 1)
        }
    }

    /// The optimizer in backward (no clipping, one micro-batch: on by default) against updating after backward:
    /// parameters, AdamW moments, loss and gradient norm are the same bits after four updates (so reused buffers,
    /// tied embeddings completed last and an untied head completed first are all exercised). Full fine-tuning of
    /// each family, and LoRA on every linear layer and the tied head.
    @Test(arguments: [("llama_untied", false), ("llama_tied_bf16", false), ("gpt2_tied", false), ("llama_tied_bf16", true)])
    func optimizerInBackwardGivesTheSameBits(_ model: String, _ lora: Bool) throws {
        let m = try tiny(model)
        var o = TrainingOptions()
        o.maxSteps = 4
        o.batchSize = 2
        o.layout = .pad
        o.shuffle = false
        o.learningRate = 1e-2
        o.weightDecay = 0.1
        o.maxGradNorm = 0
        o.schedule = .cosine
        o.warmupSteps = 1
        var rng = RandomGenerator(seed: 11)
        let spec = lora ? LoRASpec(rank: 4, alpha: 8, targetModules: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj",
                                                                      "up_proj", "down_proj", "lm_head"]) : nil
        let trainable = spec?.initialParameters(config: m.config, rng: &rng) ?? m.parameters
        let frozen = lora ? m.parameters : [:]
        let docs = randomExamples(vocabulary: m.config.vocabSize, count: 8, seed: 5)
        func trainer(inBackward: Bool) throws -> Trainer {
            var t = try Trainer(options: o, frozen: frozen, trainable: trainable, train: docs, validation: [], maxLength: 16,
                                padID: 0) { try makeLanguageModel(config: m.config, parameters: $0, lora: spec) }
            #expect(t.optimizerInBackward)
            t.optimizerInBackward = inBackward
            return t
        }
        var fused = try trainer(inBackward: true), plain = try trainer(inBackward: false)
        while !plain.isFinished {
            let a = try fused.step(), b = try plain.step()
            #expect(a == b, "update \(b.step): \(a) vs \(b)")
        }
        for (name, t) in plain.trainable { #expect(fused.trainable[name]!.scalars == t.scalars, "\(name) differs") }
        let moments = fused.optimizerTensors
        for (name, t) in plain.optimizerTensors { #expect(moments[name]?.scalars == t.scalars, "\(name) differs") }
        #expect(fused.optimizerStep == plain.optimizerStep)
    }

    /// With the optimizer in backward, a non-finite gradient stops the run with the same advice; the step does not count.
    @Test func nonFiniteGradientStopsTheOptimizerInBackward() throws {
        let m = try tiny("llama_untied")
        var params = m.parameters
        var w = params["model.norm.weight"]!
        w.withUnsafeMutableBufferPointer { $0[0] = .nan }
        params["model.norm.weight"] = w
        var o = TrainingOptions()
        o.maxSteps = 2
        o.layout = .pad
        o.maxGradNorm = 0
        var trainer = try Trainer(options: o, frozen: [:], trainable: params,
                                  train: randomExamples(vocabulary: m.config.vocabSize, count: 2, seed: 1),
                                  validation: [], maxLength: 16, padID: 0) { try makeLanguageModel(config: m.config, parameters: $0) }
        #expect(trainer.optimizerInBackward)
        do {
            _ = try trainer.step()
            Issue.record("a NaN gradient must stop training")
        } catch let e as TrainingError {
            #expect(e.message.contains("not finite") && e.message.contains("last checkpoint is intact")
                    && e.message.contains("learning_rate"), "\(e.message)")
        }
        #expect(trainer.progress.step == 0)
    }

    /// A non-finite loss stops the update before any parameter changes, with a message that says what to do.
    @Test func nonFiniteLossStopsWithoutUpdating() throws {
        let m = try tiny("llama_untied")
        let fx = try loadFixture("train/llama_adamw_curve.json")
        var params = m.parameters
        var w = params["model.norm.weight"]!
        w.withUnsafeMutableBufferPointer { $0[0] = .nan }
        params["model.norm.weight"] = w
        var o = TrainingOptions()
        o.maxSteps = 2
        o.layout = .pad
        var trainer = try Trainer(options: o, frozen: [:], trainable: params, train: examples(fx["documents"].array),
                                  validation: [], maxLength: 16, padID: 0) { try makeLanguageModel(config: m.config, parameters: $0) }
        let before = trainer.trainable["model.layers.0.self_attn.q_proj.weight"]!.withUnsafeBufferPointer { Array($0) }
        do {
            _ = try trainer.step()
            Issue.record("a NaN loss must stop training")
        } catch let e as TrainingError {
            #expect(e.message.contains("not updated") && e.message.contains("learning_rate"), "\(e.message)")
        }
        #expect(trainer.progress.step == 0)
        #expect(trainer.trainable["model.layers.0.self_attn.q_proj.weight"]!.withUnsafeBufferPointer { Array($0) } == before)
    }
}
