/// What `whittle eval --report DIR` writes as `report.json`, and what `report.md` and `report.html` are rendered
/// from: the facts of one evaluation of a base model and its adapters on the same examples.
///
/// The schema is stable: fields are only added (with defaults when decoded from an older file), never renamed or
/// re-typed without a new `schema` string. Every number a reader sees in the Markdown or HTML report is either stored
/// here or derived from stored per-example values (means, deltas, histograms), so a skeptic can recompute it.
///
/// Conventions: `models[0]` is the baseline (the base model); every per-model array (`summary`,
/// `ExampleResult.scores`, `Forgetting.loss`, `speed`) is aligned with `models`. Metric values are fractions in
/// [0, 1] (rendered as points out of 100); losses are natural-log nats per supervised token.
public struct EvaluationReport: Codable, Sendable, Equatable {
    public static let currentSchema = "whittle-eval-report/1"

    public var schema: String = EvaluationReport.currentSchema
    /// ISO-8601 UTC, e.g. "2026-11-25T16:00:00Z".
    public var createdAt: String
    public var provenance: Provenance
    /// `models[0]` is the baseline every comparison is against.
    public var models: [ModelEntry]
    public var data: DataEntry
    /// Task metrics in display order, by `TaskMetric` raw name ("exact_match", "json_valid", …); loss is always
    /// reported and is not listed here.
    public var metricNames: [String]
    /// One per model, aligned with `models`.
    public var summary: [ModelSummary]
    /// Each non-baseline model against the baseline, for "loss" and each name in `metricNames`.
    public var comparisons: [Comparison]
    /// Every evaluated example, in data order.
    public var examples: [ExampleResult]
    /// Indices into `examples` shown side by side.
    public var samples: [Int]
    /// Indices into `examples` with the largest loss improvement (most negative `models[1]` − base loss delta per
    /// token), and the largest loss worsening; empty with a single model.
    public var best: [Int]
    public var worst: [Int]
    /// Loss on general held-out text, base against adapters (did the fine-tune forget?).
    public var forgetting: Forgetting?
    /// One per model, aligned with `models`.
    public var speed: [SpeedEntry]
    /// Curves from the run folder's metrics.jsonl, when the evaluation belongs to a training run.
    public var training: TrainingCurves?

    public init(createdAt: String, provenance: Provenance, models: [ModelEntry], data: DataEntry, metricNames: [String],
                summary: [ModelSummary], comparisons: [Comparison], examples: [ExampleResult], samples: [Int],
                best: [Int], worst: [Int], forgetting: Forgetting?, speed: [SpeedEntry], training: TrainingCurves?) {
        self.createdAt = createdAt
        self.provenance = provenance
        self.models = models
        self.data = data
        self.metricNames = metricNames
        self.summary = summary
        self.comparisons = comparisons
        self.examples = examples
        self.samples = samples
        self.best = best
        self.worst = worst
        self.forgetting = forgetting
        self.speed = speed
        self.training = training
    }
}

extension EvaluationReport {
    /// Where the numbers came from.
    public struct Provenance: Codable, Sendable, Equatable {
        public var whittleVersion: String
        /// e.g. "Intel Xeon … · 2 cores · Linux 6.1"
        public var machine: String
        /// The command line that made the report.
        public var command: String
        /// The run folder and its resolved recipe (YAML text), when the evaluation ran at the end of `whittle train`.
        public var runFolder: String?
        public var recipe: String?
        /// SHA-256 (hex) of the base model's weight files and config.json, in name order.
        public var baseModelSHA256: String
        /// SHA-256 of tokenizer.json (or the GGUF file's vocabulary source).
        public var tokenizerSHA256: String
        /// SHA-256 of the chat template text used to render prompts, if one was used.
        public var templateSHA256: String?
        public init(whittleVersion: String, machine: String, command: String, runFolder: String? = nil, recipe: String? = nil,
                    baseModelSHA256: String, tokenizerSHA256: String, templateSHA256: String? = nil) {
            self.whittleVersion = whittleVersion
            self.machine = machine
            self.command = command
            self.runFolder = runFolder
            self.recipe = recipe
            self.baseModelSHA256 = baseModelSHA256
            self.tokenizerSHA256 = tokenizerSHA256
            self.templateSHA256 = templateSHA256
        }
    }

    public struct ModelEntry: Codable, Sendable, Equatable {
        /// Short display name: "base", "adapter", or a name the user gave ("adapter-r8").
        public var name: String
        /// "base", "adapter" (base + unmerged adapter) or "merged" (a merged folder or GGUF).
        public var kind: String
        /// The model folder or file; for adapters, the adapter folder.
        public var path: String
        /// SHA-256 of the adapter's weights file (adapters only).
        public var adapterSHA256: String?
        /// LoRA scale applied (adapters only).
        public var adapterScale: Double?
        public init(name: String, kind: String, path: String, adapterSHA256: String? = nil, adapterScale: Double? = nil) {
            self.name = name
            self.kind = kind
            self.path = path
            self.adapterSHA256 = adapterSHA256
            self.adapterScale = adapterScale
        }
    }

    public struct DataEntry: Codable, Sendable, Equatable {
        public var path: String
        public var sha256: String
        /// Record format as detected or named ("prompt_completion", "chat", "text", …).
        public var format: String
        /// Examples evaluated (after `--limit`).
        public var examples: Int
        public init(path: String, sha256: String, format: String, examples: Int) {
            self.path = path
            self.sha256 = sha256
            self.format = format
            self.examples = examples
        }
    }

    /// Headline numbers of one model.
    public struct ModelSummary: Codable, Sendable, Equatable {
        /// Token-weighted mean cross-entropy over supervised tokens (nats/token), and e^loss.
        public var loss: Double
        public var perplexity: Double
        public var supervisedTokens: Int
        /// Mean of each task metric over examples, keyed by the names in `metricNames` (fractions in [0, 1]).
        public var metrics: [String: Double]
        public init(loss: Double, perplexity: Double, supervisedTokens: Int, metrics: [String: Double]) {
            self.loss = loss
            self.perplexity = perplexity
            self.supervisedTokens = supervisedTokens
            self.metrics = metrics
        }
    }

    /// One model against the baseline on one metric: the mean paired difference over examples (model − base) with a
    /// percentile-bootstrap confidence interval over examples.
    public struct Comparison: Codable, Sendable, Equatable {
        /// Index into `models` (≥ 1).
        public var model: Int
        /// "loss" or a name from `metricNames`.
        public var metric: String
        /// For loss: the difference of token-weighted mean losses (nats/token); for metrics: of means (fraction).
        public var difference: Double
        public var ciLow: Double
        public var ciHigh: Double
        /// e.g. 0.95
        public var confidence: Double
        public var resamples: Int
        /// false for loss (lower is better).
        public var higherIsBetter: Bool
        /// The interval excludes 0.
        public var significant: Bool
        /// One plain sentence, e.g. "The adapter beats the base on exact match by 41 points (95% CI 36 to 46)."
        public var sentence: String
        public init(model: Int, metric: String, difference: Double, ciLow: Double, ciHigh: Double, confidence: Double,
                    resamples: Int, higherIsBetter: Bool, significant: Bool, sentence: String) {
            self.model = model
            self.metric = metric
            self.difference = difference
            self.ciLow = ciLow
            self.ciHigh = ciHigh
            self.confidence = confidence
            self.resamples = resamples
            self.higherIsBetter = higherIsBetter
            self.significant = significant
            self.sentence = sentence
        }
    }

    /// One example and what every model did on it.
    public struct ExampleResult: Codable, Sendable, Equatable {
        /// "file:line"
        public var id: String
        /// The prompt as the model saw it (rendered, special tokens as text) and the reference answer.
        public var prompt: String
        public var reference: String
        /// Aligned with `models`.
        public var scores: [ExampleScore]
        public init(id: String, prompt: String, reference: String, scores: [ExampleScore]) {
            self.id = id
            self.prompt = prompt
            self.reference = reference
            self.scores = scores
        }
    }

    public struct ExampleScore: Codable, Sendable, Equatable {
        /// Σ cross-entropy over the example's supervised tokens (nats) and their count.
        public var lossSum: Double
        public var tokens: Int
        /// Greedy output (nil when no generative metric was asked for).
        public var output: String?
        /// Per-example metric values in [0, 1], keyed by metric name.
        public var metrics: [String: Double]
        public init(lossSum: Double, tokens: Int, output: String?, metrics: [String: Double]) {
            self.lossSum = lossSum
            self.tokens = tokens
            self.output = output
            self.metrics = metrics
        }
        /// Mean loss per supervised token of this example (0 without tokens).
        public var meanLoss: Double { tokens == 0 ? 0 : lossSum / Double(tokens) }
    }

    public struct Forgetting: Codable, Sendable, Equatable {
        public var path: String
        public var sha256: String
        public var texts: Int
        public var tokens: Int
        /// Token-weighted mean loss per model, aligned with `models`.
        public var loss: [Double]
        /// One sentence per non-baseline model, e.g. "On general text the adapter's loss rose by 0.03 nats/token
        /// (2.51 → 2.54): little forgetting."
        public var sentences: [String]
        public init(path: String, sha256: String, texts: Int, tokens: Int, loss: [Double], sentences: [String]) {
            self.path = path
            self.sha256 = sha256
            self.texts = texts
            self.tokens = tokens
            self.loss = loss
            self.sentences = sentences
        }
    }

    /// Throughput while evaluating: prompt tokens run through the model (scoring and prefill) and tokens generated.
    public struct SpeedEntry: Codable, Sendable, Equatable {
        public var promptTokens: Int
        public var promptSeconds: Double
        public var generatedTokens: Int
        public var generationSeconds: Double
        public init(promptTokens: Int, promptSeconds: Double, generatedTokens: Int, generationSeconds: Double) {
            self.promptTokens = promptTokens
            self.promptSeconds = promptSeconds
            self.generatedTokens = generatedTokens
            self.generationSeconds = generationSeconds
        }
        public var promptTokensPerSecond: Double { promptSeconds > 0 ? Double(promptTokens) / promptSeconds : 0 }
        public var generatedTokensPerSecond: Double { generationSeconds > 0 ? Double(generatedTokens) / generationSeconds : 0 }
    }

    /// Curves from a run folder's metrics.jsonl: training lines carry "step", "loss", "lr"; validation lines carry
    /// "step", "valid_loss".
    public struct TrainingCurves: Codable, Sendable, Equatable {
        public var runFolder: String
        public var steps: [Int]
        public var loss: [Double]
        public var learningRate: [Double]
        public var validSteps: [Int]
        public var validLoss: [Double]
        public init(runFolder: String, steps: [Int], loss: [Double], learningRate: [Double], validSteps: [Int], validLoss: [Double]) {
            self.runFolder = runFolder
            self.steps = steps
            self.loss = loss
            self.learningRate = learningRate
            self.validSteps = validSteps
            self.validLoss = validLoss
        }
    }
}
