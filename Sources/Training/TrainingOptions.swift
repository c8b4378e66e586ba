import TrainingData

/// The `training` section of a recipe: how long, how big, which optimizer and schedule, when to validate and
/// save. Codable and strict (FineTuning's StrictConfig); hyperparameters are Double; "unset" values are explicit
/// (0 = off) and documented in Recipes/README.md.
public struct TrainingOptions: Codable, Sendable, Equatable {
    /// Optimizer updates to run; 0 = derive from `epochs`.
    public var maxSteps: Int = 0
    /// Passes over the training data when `max_steps` is 0 (fractions allowed).
    public var epochs: Double = 1
    /// Rows per micro-batch.
    public var batchSize: Int = 4
    /// Micro-batches per optimizer update; the loss is token-weighted over all of them (8 × 1 equals 1 × 8).
    public var gradientAccumulation: Int = 1
    /// `pack` several examples into each row (block-diagonal attention, positions restart) or `pad` one per row.
    public var layout: SequenceLayout = .pack
    /// Shuffle the training examples each epoch (seeded by `seed` and the epoch).
    public var shuffle: Bool = true

    public var optimizer: OptimizerKind = .adamw
    public var learningRate: Double = 2e-4
    public var beta1: Double = 0.9
    public var beta2: Double = 0.999
    public var epsilon: Double = 1e-8
    /// Decoupled weight decay on matrices (norm weights and biases never decay).
    public var weightDecay: Double = 0
    /// SGD only.
    public var momentum: Double = 0

    public var schedule: LearningRateSchedule.Kind = .cosine
    public var warmupSteps: Int = 0
    /// Warmup as a fraction of the total steps, used when `warmup_steps` is 0.
    public var warmupRatio: Double = 0
    /// Cosine floor as a fraction of the peak.
    public var minLrRatio: Double = 0
    /// Global gradient-norm clipping; 0 = off.
    public var maxGradNorm: Double = 1
    /// LoRA+ (Hayou et al. 2024; PEFT's `create_loraplus_optimizer`, axolotl's `loraplus_lr_ratio`): the `lora_B`
    /// matrices learn at `learning_rate` × this ratio, everything else at `learning_rate`. 1 = plain LoRA.
    public var loraplusLrRatio: Double = 1

    /// Validate every N updates (and always at the end); 0 = only at the end.
    public var evalEvery: Int = 0
    /// Validation batches per evaluation; 0 = the whole validation split.
    public var evalBatches: Int = 0
    /// Save a resumable checkpoint every N updates (and always at the end); 0 = only at the end and on interrupt.
    public var saveEvery: Int = 0
    /// Resumable checkpoints kept in state/ (older ones are deleted); at least 1.
    public var keepCheckpoints: Int = 2
    /// Stop when the validation loss has not improved for this many evaluations; 0 = never stop early.
    public var earlyStoppingPatience: Int = 0
    /// Print a progress line every N updates.
    public var logEvery: Int = 1
    /// Seed for shuffling, adapter initialisation and dropout (each its own generator).
    public var seed: UInt64 = 0

    public enum OptimizerKind: String, Codable, Sendable { case adamw, sgd }

    public init() {}

    /// Checks the values; the message names the key.
    public func validate() throws(TrainingError) {
        func need(_ ok: Bool, _ m: String) throws(TrainingError) { if !ok { throw TrainingError(m) } }
        try need(maxSteps >= 0, "training.max_steps must be ≥ 0 (0 = use epochs), got \(maxSteps)")
        try need(maxSteps > 0 || epochs > 0, "training.epochs must be positive when max_steps is 0, got \(epochs)")
        try need(batchSize >= 1, "training.batch_size must be ≥ 1, got \(batchSize)")
        try need(gradientAccumulation >= 1, "training.gradient_accumulation must be ≥ 1, got \(gradientAccumulation)")
        try need(learningRate > 0 && learningRate.isFinite, "training.learning_rate must be positive, got \(learningRate)")
        try need((0..<1).contains(beta1) && (0..<1).contains(beta2), "training.beta1 and beta2 must be in [0, 1)")
        try need(epsilon > 0, "training.epsilon must be positive, got \(epsilon)")
        try need(weightDecay >= 0, "training.weight_decay must be ≥ 0, got \(weightDecay)")
        try need(warmupSteps >= 0 && (0...1).contains(warmupRatio), "training.warmup_steps ≥ 0 and warmup_ratio in [0, 1]")
        try need((0...1).contains(minLrRatio), "training.min_lr_ratio must be in [0, 1], got \(minLrRatio)")
        try need(maxGradNorm >= 0, "training.max_grad_norm must be ≥ 0 (0 = off), got \(maxGradNorm)")
        try need(loraplusLrRatio > 0 && loraplusLrRatio.isFinite,
                 "training.loraplus_lr_ratio must be positive (1 = plain LoRA), got \(loraplusLrRatio)")
        try need(evalEvery >= 0 && evalBatches >= 0 && saveEvery >= 0 && earlyStoppingPatience >= 0,
                 "training.eval_every, eval_batches, save_every and early_stopping_patience must be ≥ 0")
        try need(keepCheckpoints >= 1, "training.keep_checkpoints must be ≥ 1, got \(keepCheckpoints)")
        try need(logEvery >= 1, "training.log_every must be ≥ 1, got \(logEvery)")
    }
}

/// A training problem the user can act on (bad settings, no data, a loss that became NaN).
public struct TrainingError: Error, CustomStringConvertible, Sendable, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
