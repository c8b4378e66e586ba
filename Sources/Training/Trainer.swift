import Models
import Tensors
import TrainingData

/// One optimizer update, as metrics.jsonl and the progress line report it.
public struct StepMetrics: Codable, Sendable, Equatable {
    /// Updates completed after this one (1-based).
    public var step: Int
    /// Token-weighted mean cross-entropy over the update's supervised tokens.
    public var loss: Double
    public var learningRate: Double
    /// Global gradient 2-norm before clipping.
    public var gradNorm: Double
    /// Positions processed (padding included) and supervised targets, this update.
    public var tokens: Int
    public var supervisedTokens: Int
    /// Fractional epoch reached (data cursor).
    public var epoch: Double
}

/// The optimizer of a run: exactly one of the two is set. (Two optionals rather than an enum with payloads:
/// `x!.update(…)` mutates in place, while rebinding an enum payload would share, and so copy, every moment tensor.)
public struct Optimizer: Sendable {
    public var adamw: AdamW?
    public var sgd: SGD?

    mutating func beginStep() { adamw?.beginStep() }

    /// The same update written through storage the model being run still shares (the optimizer in backward).
    mutating func updateShared(name: String, parameter: Tensor, gradient: Tensor, learningRate: Double, decays: Bool) {
        if adamw != nil {
            adamw!.updateShared(name: name, parameter: parameter, gradient: gradient, learningRate: learningRate,
                                applyWeightDecay: decays)
        } else {
            sgd!.updateShared(name: name, parameter: parameter, gradient: gradient, learningRate: learningRate,
                              applyWeightDecay: decays)
        }
    }

    mutating func update(name: String, parameter: inout Tensor, gradient: Tensor, learningRate: Double, decays: Bool) {
        if adamw != nil {
            adamw!.update(name: name, parameter: &parameter, gradient: gradient, learningRate: learningRate, applyWeightDecay: decays)
        } else {
            sgd!.update(name: name, parameter: &parameter, gradient: gradient, learningRate: learningRate, applyWeightDecay: decays)
        }
    }
}

/// Everything besides tensors that a resumed run needs to continue exactly where it stopped.
public struct TrainerProgress: Codable, Sendable, Equatable {
    /// Updates completed.
    public var step = 0
    public var cursor = DataCursor()
    public var dropoutRNG: RandomGenerator.State
    /// Best validation loss so far and the update it was measured after (nil before the first validation).
    public var bestValidationLoss: Double?
    public var bestStep = 0
    public var evaluationsWithoutImprovement = 0
    public var tokensSeen = 0
    public var supervisedTokensSeen = 0
}

/// The optimisation loop over a model, without files or terminals: the composition root (FineTuning) drives it
/// step by step, writes checkpoints and prints progress.
///
/// Parameters are split into `frozen` (read-only, e.g. the memory-mapped base model) and `trainable` (adapter or
/// chosen weights, updated in place). Each update rebuilds the model value from both dictionaries (cheap: layers
/// share the tensors' storage) and releases it before the optimizer runs, so every trainable tensor is uniquely
/// referenced and updated without a copy.
public struct Trainer {
    public let options: TrainingOptions
    public let frozen: [String: Tensor]
    public private(set) var trainable: [String: Tensor]
    public private(set) var optimizer: Optimizer
    public let schedule: LearningRateSchedule
    public private(set) var stream: BatchStream
    public let validationBatches: [SequenceBatch]
    public private(set) var progress: TrainerProgress
    /// Gradient buffers, kept across updates and zeroed in place (allocating them afresh each update costs page
    /// faults on every element).
    var gradientBuffers: [String: Tensor] = [:]
    /// With the optimizer in backward: one zeroed gradient buffer per shape, kept for the name of that shape that
    /// backward completed first last update (`firstCompleted`).
    var spareGradients: [[Int]: Tensor] = [:]
    var firstCompleted: [[Int]: String] = [:]
    /// Whether updates run the optimizer inside backward (`updateInBackward`): on when there is nothing to clip and
    /// nothing to accumulate, since then each parameter's update needs only its own gradient. The results are the
    /// same bits either way (turn it off to compare); it can be on only under those two conditions.
    public var optimizerInBackward: Bool {
        didSet {
            precondition(!optimizerInBackward || (options.maxGradNorm == 0 && options.gradientAccumulation == 1),
                         "the optimizer in backward needs max_grad_norm 0 and gradient_accumulation 1")
        }
    }
    /// Updates this run makes in total (from max_steps, or epochs × batches per epoch ÷ accumulation).
    public let totalSteps: Int
    /// Micro-batches in one epoch of the training data.
    public let batchesPerEpoch: Int
    let makeModel: ([String: Tensor]) throws -> any TrainableModel

    public init(options: TrainingOptions, frozen: [String: Tensor], trainable: [String: Tensor],
                train: [TokenizedExample], validation: [TokenizedExample], maxLength: Int, padID: Int32,
                makeModel: @escaping ([String: Tensor]) throws -> any TrainableModel) throws(TrainingError) {
        try options.validate()
        guard !train.isEmpty else { throw TrainingError("the training split has no examples") }
        guard !trainable.isEmpty else { throw TrainingError("nothing to train: no parameter is trainable") }
        if let clash = trainable.keys.first(where: { frozen[$0] != nil }) {
            throw TrainingError("parameter \(clash) is both frozen and trainable")
        }
        if options.loraplusLrRatio != 1 && !trainable.keys.contains(where: { $0.hasSuffix(".lora_B.weight") }) {
            throw TrainingError("training.loraplus_lr_ratio is \(options.loraplusLrRatio), but LoRA+ scales the lora_B "
                                + "matrices of LoRA adapters and this run trains none; remove it or use tuning.method: lora")
        }
        self.options = options
        self.frozen = frozen
        self.trainable = trainable
        self.makeModel = makeModel
        stream = BatchStream(examples: train, batchSize: options.batchSize, maxLength: maxLength, layout: options.layout,
                             padID: padID, seed: options.seed, shuffle: options.shuffle)
        batchesPerEpoch = Self.countBatches(stream)
        totalSteps = Self.totalSteps(options: options, batchesPerEpoch: batchesPerEpoch)
        let warmup = options.warmupSteps > 0 ? options.warmupSteps : Int((options.warmupRatio * Double(totalSteps)).rounded(.up))
        schedule = LearningRateSchedule(kind: options.schedule, peak: options.learningRate, warmupSteps: warmup,
                                        totalSteps: totalSteps, minimumRatio: options.minLrRatio)
        switch options.optimizer {
        case .adamw:
            optimizer = Optimizer(adamw: AdamW(config: AdamWConfig(beta1: options.beta1, beta2: options.beta2,
                                                                   epsilon: options.epsilon, weightDecay: options.weightDecay)))
        case .sgd:
            optimizer = Optimizer(sgd: SGD(config: SGDConfig(momentum: options.momentum, weightDecay: options.weightDecay)))
        }
        if validation.isEmpty {
            validationBatches = []
        } else {
            var v = BatchStream(examples: validation, batchSize: options.batchSize, maxLength: maxLength,
                                layout: options.layout, padID: padID, seed: options.seed, shuffle: false)
            var batches: [SequenceBatch] = []
            repeat { batches.append(Self.sequenceBatch(v.next())) } while v.cursor.epoch == 0
            validationBatches = batches
        }
        progress = TrainerProgress(dropoutRNG: RandomGenerator(seed: options.seed &+ 0xD509_0D70).state)
        optimizerInBackward = options.maxGradNorm == 0 && options.gradientAccumulation == 1
    }

    public var isFinished: Bool { progress.step >= totalSteps }

    /// The model with the current parameters (for validation, evaluation and writing).
    public func model() throws -> any TrainableModel {
        try makeModel(frozen.merging(trainable) { _, t in t })
    }

    /// Runs one optimizer update: `gradient_accumulation` micro-batches, token-weighted loss, clipping, the
    /// schedule's learning rate. A non-finite loss or gradient stops with an error; the trainer must then not be
    /// saved (with the optimizer in backward some parameters may have changed; otherwise none has).
    public mutating func step() throws -> StepMetrics {
        precondition(!isFinished, "the run has finished")
        var micro: [TokenBatch] = []
        for _ in 0..<options.gradientAccumulation { micro.append(stream.next()) }
        let supervised = micro.reduce(0) { $0 + $1.supervisedTokens }
        guard supervised > 0 else {
            throw TrainingError("update \(progress.step + 1): its \(micro.count) micro-batch(es) contain no supervised token "
                                + "(examples \(micro.flatMap(\.sources).prefix(4).joined(separator: ", ")))")
        }
        let lr = schedule.learningRate(at: progress.step)
        let (loss, norm, tokens) = optimizerInBackward
            ? try updateInBackward(micro, supervised: supervised, learningRate: lr)
            : try updateAfterBackward(micro, supervised: supervised, learningRate: lr)
        progress.step += 1
        progress.cursor = stream.cursor
        progress.tokensSeen += tokens
        progress.supervisedTokensSeen += supervised
        return StepMetrics(step: progress.step, loss: loss, learningRate: lr, gradNorm: norm, tokens: tokens,
                           supervisedTokens: supervised, epoch: epochPosition)
    }

    /// The update as written: every micro-batch's gradients into whole-model buffers, then the global norm (and
    /// clipping), then the optimizer over every parameter. Returns the loss, the norm before clipping and the positions.
    mutating func updateAfterBackward(_ micro: [TokenBatch], supervised: Int, learningRate lr: Double) throws
        -> (loss: Double, norm: Double, tokens: Int) {
        var gradients = gradientBuffers.isEmpty ? trainable.mapValues { Tensor(zeros: $0.shape) } : gradientBuffers
        gradientBuffers = [:]
        // Over a copy of the names: iterating `gradients.keys` itself keeps the dictionary shared, so the first
        // write copies it and every buffer then has two owners; each zeroing copied its buffer afresh (0.2–0.3 s
        // of page faults per SmolLM2-135M update, and new addresses every update).
        for name in Array(gradients.keys) { gradients[name]!.setZero() }
        var lossSum = 0.0, tokens = 0
        do {
            let model = try self.model()
            var rng = RandomGenerator(state: progress.dropoutRNG)!
            for b in micro {
                let (sum, _) = try model.lossAndGradients(Self.sequenceBatch(b), gradScale: 1 / Float(supervised),
                                                          into: &gradients, dropoutRNG: &rng)
                lossSum += sum
                tokens += b.batchSize * b.length
            }
            progress.dropoutRNG = rng.state
        }
        let loss = lossSum / Double(supervised)
        let names = gradients.keys.sorted()
        var ordered = names.map { gradients.removeValue(forKey: $0)! }
        let norm = options.maxGradNorm > 0 ? GradientClipping.clip(&ordered, maxNorm: options.maxGradNorm)
                                           : GradientClipping.globalNorm(ordered)
        guard loss.isFinite, norm.isFinite else {
            throw TrainingError("update \(progress.step + 1): the loss is \(loss) and the gradient norm \(norm); parameters "
                                + "were not updated and the last checkpoint is intact. " + Self.nonFiniteAdvice(micro))
        }
        optimizer.beginStep()
        for (name, g) in zip(names, ordered) {
            var p = trainable.removeValue(forKey: name)!
            optimizer.update(name: name, parameter: &p, gradient: g, learningRate: lr * Self.learningRateFactor(name, options),
                             decays: AdamW.decays(parameterShape: p.shape))
            trainable[name] = p
        }
        gradientBuffers = Dictionary(uniqueKeysWithValues: zip(names, ordered))
        return (loss, norm, tokens)
    }

    /// The optimizer in backward (one micro-batch, no clipping): the model hands over each gradient as soon as
    /// backward completes it; that parameter is updated at once and its buffer, zeroed, becomes the buffer of a
    /// parameter of the same shape that backward has not reached yet. So gradient memory is about one layer's (plus
    /// a tied embedding's, complete only at the end) instead of the whole model's, and the parameters, moments, loss
    /// and norm are the same bits as `updateAfterBackward` gives.
    ///
    /// Names backward has not reached hold one shared zero placeholder per shape (no resident memory): a layer's
    /// first write copies it, so a name still holding the placeholder is known to be untouched. A buffer left with
    /// no untouched name to go to is kept, one per shape, for the name of that shape backward completed first
    /// (the same name next update: backward's order does not change), so steady updates allocate nothing.
    ///
    /// A non-finite gradient stops every later parameter update, and the step then throws. Parameters updated
    /// before it are not restored, so after that error this trainer must not be saved (the run stops; its last
    /// checkpoint is intact).
    mutating func updateInBackward(_ micro: [TokenBatch], supervised: Int, learningRate lr: Double) throws
        -> (loss: Double, norm: Double, tokens: Int) {
        precondition(micro.count == 1, "the optimizer in backward needs a single micro-batch")
        // Parameters are written while the model shares them, so no one else may: a caller still holding the tensors
        // this trainer was given (or a `trainable` it read) gets its own copy now, as copy on write would.
        for name in Array(trainable.keys) { trainable[name]!.makeUnique() }
        var placeholders: [[Int]: Tensor] = [:]
        var gradients: [String: Tensor] = [:]
        var kept = spareGradients
        spareGradients = [:]
        for (name, p) in trainable {
            if firstCompleted[p.shape] == name, let buffer = kept.removeValue(forKey: p.shape) {
                gradients[name] = buffer
            } else {
                if placeholders[p.shape] == nil { placeholders[p.shape] = Tensor(zerosOnTouch: p.shape) }
                gradients[name] = placeholders[p.shape]!
            }
        }
        kept = [:]
        var spare: [[Int]: Tensor] = [:]
        var firstSeen: [[Int]: String] = [:]
        var norms: [String: Double] = [:]
        var nonFinite: String?
        optimizer.beginStep()
        let options = self.options
        func complete(_ names: [String], _ g: inout [String: Tensor]) {
            for name in names {
                guard var grad = g.removeValue(forKey: name) else { continue }
                let shape = grad.shape
                if firstSeen[shape] == nil { firstSeen[shape] = name }
                let n = Double(grad.sumOfSquares().squareRoot())
                norms[name] = n
                if !n.isFinite, nonFinite == nil { nonFinite = name }
                if nonFinite == nil, let p = trainable[name] {
                    optimizer.updateShared(name: name, parameter: p, gradient: grad,
                                           learningRate: lr * Self.learningRateFactor(name, options),
                                           decays: AdamW.decays(parameterShape: p.shape))
                }
                let placeholder = placeholders[shape]?.storage
                if grad.storage === placeholder { continue }   // never written: nothing to pass on
                grad.setZero()
                if let placeholder, let next = g.first(where: { $0.value.storage === placeholder })?.key {
                    g[next] = grad
                } else if spare[shape] == nil {
                    spare[shape] = grad
                }
            }
        }
        var lossSum = 0.0
        do {
            let model = try self.model()
            var rng = RandomGenerator(state: progress.dropoutRNG)!
            (lossSum, _) = try model.lossAndGradients(Self.sequenceBatch(micro[0]), gradScale: 1 / Float(supervised),
                                                      into: &gradients, dropoutRNG: &rng, finished: complete)
            complete(gradients.keys.sorted(), &gradients)
            progress.dropoutRNG = rng.state
        }
        firstCompleted = firstSeen
        spareGradients = spare
        let loss = lossSum / Double(supervised)
        let norm = norms.keys.sorted().reduce(0.0) { $0 + norms[$1]! * norms[$1]! }.squareRoot()
        guard loss.isFinite, nonFinite == nil else {
            throw TrainingError("update \(progress.step + 1): the loss is \(loss) and the gradient of \(nonFinite ?? "some parameter") "
                                + "is not finite (norm \(norm)); the run stops here without saving, so the last checkpoint is "
                                + "intact. " + Self.nonFiniteAdvice(micro))
        }
        return (loss, norm, micro[0].batchSize * micro[0].length)
    }

    /// What to try after a non-finite loss or gradient, naming the update's first examples.
    static func nonFiniteAdvice(_ micro: [TokenBatch]) -> String {
        "Lower training.learning_rate, keep training.max_grad_norm on, or check the data (examples "
            + micro.flatMap(\.sources).prefix(4).joined(separator: ", ") + ")"
    }

    /// Token-weighted mean loss over the validation batches (the first `eval_batches`, or all); nil without validation.
    public func validationLoss() throws -> Double? {
        guard !validationBatches.isEmpty else { return nil }
        let model = try self.model()
        let batches = options.evalBatches > 0 ? Array(validationBatches.prefix(options.evalBatches)) : validationBatches
        var sum = 0.0, count = 0
        for b in batches {
            let (s, c) = try model.loss(b)
            sum += s
            count += c
        }
        return count > 0 ? sum / Double(count) : nil
    }

    /// Records a validation result; returns whether it is the best so far.
    @discardableResult
    public mutating func recordValidation(_ loss: Double) -> Bool {
        if let best = progress.bestValidationLoss, !(loss < best) {
            progress.evaluationsWithoutImprovement += 1
            return false
        }
        progress.bestValidationLoss = loss
        progress.bestStep = progress.step
        progress.evaluationsWithoutImprovement = 0
        return true
    }

    /// Early stopping: the validation loss has not improved for `early_stopping_patience` evaluations.
    public var shouldStopEarly: Bool {
        options.earlyStoppingPatience > 0 && progress.evaluationsWithoutImprovement >= options.earlyStoppingPatience
    }

    /// Whether validation is due after the update just completed.
    public var validationDue: Bool {
        !validationBatches.isEmpty && (isFinished || (options.evalEvery > 0 && progress.step % options.evalEvery == 0))
    }

    /// Whether a periodic checkpoint is due after the update just completed.
    public var checkpointDue: Bool { isFinished || (options.saveEvery > 0 && progress.step % options.saveEvery == 0) }

    /// Epochs completed, with the fraction of the current one.
    public var epochPosition: Double {
        Double(stream.cursor.epoch) + Double(stream.cursor.offset) / Double(max(1, stream.examples.count))
    }

    // MARK: - Resumable state

    /// Optimizer state as named tensors: `exp_avg/<name>` and `exp_avg_sq/<name>` (AdamW) or `momentum_buffer/<name>`
    /// (SGD), plus the AdamW step count in `progress`-independent form via `optimizerStep`.
    public var optimizerTensors: [String: Tensor] {
        var out: [String: Tensor] = [:]
        for (name, mv) in optimizer.adamw?.state.moments ?? [:] { out["exp_avg/" + name] = mv.m; out["exp_avg_sq/" + name] = mv.v }
        for (name, b) in optimizer.sgd?.buffers ?? [:] { out["momentum_buffer/" + name] = b }
        return out
    }

    /// AdamW's step count (t in the bias corrections); 0 for SGD.
    public var optimizerStep: Int { optimizer.adamw?.state.step ?? 0 }

    /// Restores a saved state: progress, trainable tensors and optimizer tensors must match this run's parameters.
    public mutating func restore(progress saved: TrainerProgress, trainable saved_: [String: Tensor],
                                 optimizerTensors: [String: Tensor], optimizerStep: Int) throws(TrainingError) {
        var problems: [String] = []
        for (name, t) in trainable {
            guard let s = saved_[name] else { problems.append("missing trainable \(name)"); continue }
            if s.shape != t.shape { problems.append("\(name) has shape \(s.shape), expected \(t.shape)") }
        }
        for name in saved_.keys where trainable[name] == nil { problems.append("unexpected trainable \(name)") }
        guard RandomGenerator(state: saved.dropoutRNG) != nil else { throw TrainingError("the saved dropout generator state is invalid") }
        guard saved.step <= totalSteps else {
            throw TrainingError("the checkpoint is at update \(saved.step), past this run's \(totalSteps) updates")
        }
        if optimizer.adamw != nil {
            var moments: [String: (m: Tensor, v: Tensor)] = [:]
            for (name, t) in trainable where saved.step > 0 {
                guard let m = optimizerTensors["exp_avg/" + name], let v = optimizerTensors["exp_avg_sq/" + name],
                      m.shape == t.shape, v.shape == t.shape else { problems.append("optimizer moments of \(name) missing or misshapen"); continue }
                moments[name] = (m, v)
            }
            optimizer.adamw!.state.moments = moments
            optimizer.adamw!.state.step = optimizerStep
        } else {
            optimizer.sgd!.buffers = [:]
            for (name, t) in trainable {
                if let b = optimizerTensors["momentum_buffer/" + name] {
                    if b.shape == t.shape { optimizer.sgd!.buffers[name] = b } else { problems.append("momentum buffer of \(name) misshapen") }
                }
            }
        }
        if !problems.isEmpty { throw TrainingError("the checkpoint does not match this run:\n  " + problems.joined(separator: "\n  ")) }
        trainable = saved_
        progress = saved
        stream.cursor = saved.cursor
    }

    // MARK: - Helpers

    /// The model-side view of a data batch.
    /// The multiple of the scheduled learning rate a parameter gets: LoRA+'s ratio for `lora_B` matrices, else 1.
    static func learningRateFactor(_ name: String, _ options: TrainingOptions) -> Double {
        name.hasSuffix(".lora_B.weight") ? options.loraplusLrRatio : 1
    }

    public static func sequenceBatch(_ b: TokenBatch) -> SequenceBatch {
        SequenceBatch(batch: b.batchSize, length: b.length, inputs: b.inputs, targets: b.targets, positions: b.positions,
                      segmentStarts: b.segmentStarts)
    }

    /// Updates a run makes: `max_steps`, or epochs × micro-batches per epoch ÷ accumulation, each rounded up.
    public static func totalSteps(options: TrainingOptions, batchesPerEpoch: Int) -> Int {
        if options.maxSteps > 0 { return options.maxSteps }
        let micro = (options.epochs * Double(batchesPerEpoch)).rounded(.up)
        return max(1, Int((micro / Double(options.gradientAccumulation)).rounded(.up)))
    }

    /// Micro-batches in one epoch of `examples`, batched exactly as a trainer with these options batches them
    /// (same layout, packing and seeded order), without building the trainer.
    public static func batchesPerEpoch(examples: [TokenizedExample], options: TrainingOptions, maxLength: Int) -> Int {
        countBatches(BatchStream(examples: examples, batchSize: options.batchSize, maxLength: maxLength, layout: options.layout,
                                 padID: 0, seed: options.seed, shuffle: options.shuffle))
    }

    /// Micro-batches in the first epoch of `stream` (packing makes it depend on the example lengths and order).
    static func countBatches(_ stream: BatchStream) -> Int {
        var s = stream
        s.cursor = DataCursor()
        var n = 0
        repeat { _ = s.next(); n += 1 } while s.cursor.epoch == 0
        return n
    }
}
