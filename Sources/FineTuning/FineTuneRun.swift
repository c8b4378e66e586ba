import Evaluation
import FileSupport
import Foundation
import ModelFormats
import Models
import Tensors
import Tokenization
import Training
import TrainingData

/// `whittle train`: recipe → base model and data → trainer → run folder. The composition root: each stage gets its
/// own section of the recipe; this file wires them, writes files and prints.
///
/// Run folder (architecture.md §2): `recipe.resolved.yaml`, `command.txt`, `run.json` (data hash, code version,
/// counts, thread count and OpenBLAS kernels) written before step 1; `metrics.jsonl` (one line per update and per
/// validation); `state/step-N/` (resumable); `last/` and `best/` (PEFT adapter folders for LoRA, HF model folders for full fine-tuning);
/// `adapter/` (LoRA: the adapter to use — best when validated, else last); `merged/` when asked.
public struct FineTuneRun {
    public struct Options: Sendable {
        public var recipePath: String
        public var overrides: [String]
        /// A run folder to resume (its recipe.resolved.yaml is the recipe; `recipePath` is ignored).
        public var resume: String?
        public var commandLine: String
        public var version: String
        /// Redraw a live progress line (a terminal).
        public var live: Bool
        /// Where the token cache lives.
        public var cacheDirectory: String
        /// The machine speeds the pre-flight time prediction uses; nil = measure them (the GEMM and softmax probes).
        /// Tests fix them to compare predictions exactly.
        public var preflightRates: Preflight.Rates?

        public init(recipePath: String, overrides: [String] = [], resume: String? = nil, commandLine: String,
                    version: String, live: Bool, cacheDirectory: String = "Checkpoints/cache",
                    preflightRates: Preflight.Rates? = nil) {
            self.recipePath = recipePath
            self.overrides = overrides
            self.resume = resume
            self.commandLine = commandLine
            self.version = version
            self.live = live
            self.cacheDirectory = cacheDirectory
            self.preflightRates = preflightRates
        }
    }

    /// How a run ended.
    public struct Summary: Sendable {
        public enum Ending: String, Sendable { case finished, stoppedEarly = "stopped early", interrupted }
        public var runFolder: String
        public var ending: Ending
        public var steps: Int
        public var totalSteps: Int
        public var lastLoss: Double?
        public var bestValidationLoss: Double?
        public var firstValidationLoss: Double?
        /// The evaluation report folder, when the recipe asked for one.
        public var reportFolder: String? = nil
        /// The pre-flight estimate printed before step 1.
        public var preflight: Preflight? = nil
    }

    // MARK: - Setup

    /// Everything a run needs before its first update.
    struct Setup {
        var recipe: Recipe
        var runFolder: String
        var loaded: LoadedModel
        var config: ModelConfig
        var lora: LoRASpec?
        var trainer: Trainer
        var dataHash: String
        var counts: (train: Int, valid: Int, test: Int)
        var preparation: PreparationSummary?
    }

    public static func run(_ options: Options, print: @escaping (String) -> Void) throws -> Summary {
        var setup = try prepare(options)
        return try train(&setup, options: options, print: print)
    }

    static func prepare(_ options: Options) throws -> Setup {
        let recipe: Recipe
        var runFolder: String
        if let resume = options.resume {
            let path = (resume as NSString).appendingPathComponent("recipe.resolved.yaml")
            guard FileManager.default.fileExists(atPath: path) else {
                throw RunError("\(resume) is not a run folder (no recipe.resolved.yaml)")
            }
            recipe = try Recipe.load(path: path, overrides: options.overrides)
            runFolder = resume
        } else {
            recipe = try Recipe.load(path: options.recipePath, overrides: options.overrides)
            let stem = ((options.recipePath as NSString).lastPathComponent as NSString).deletingPathExtension
            let stamp = DateFormatter()
            stamp.dateFormat = "yyyyMMdd-HHmmss"
            stamp.timeZone = TimeZone(identifier: "UTC")
            let name = recipe.output.name.isEmpty ? "\(stem)-\(stamp.string(from: Date()))" : recipe.output.name
            runFolder = (recipe.output.dir as NSString).appendingPathComponent(name)
            if FileManager.default.fileExists(atPath: runFolder) {
                throw RunError("\(runFolder) already exists: resume it with --resume \(runFolder), or choose another output.name")
            }
        }

        // Base model, tokenizer and chat template.
        let loaded = try LoadedModel(folder: recipe.model.path,
                                     randomInitSeed: recipe.model.initialization == .random ? recipe.model.seed : nil)
        let config = loaded.model.config
        let base = loaded.model.parameters

        // Data: train (through the token cache), validation and test by file or by ratio.
        let data = try prepareData(recipe, tokenizer: loaded.tokenizer, chat: loaded.chat, cacheDirectory: options.cacheDirectory)
        let (train, valid, test) = (data.train, data.valid, data.test)
        let dataHash = data.hash ?? ""

        // What is trained.
        var frozen = base, trainable: [String: Tensor] = [:]
        var lora: LoRASpec?
        switch recipe.tuning.method {
        case .lora:
            let spec = try recipe.tuning.loraSpec(for: config)
            var rng = RandomGenerator(seed: recipe.training.seed &+ 0x10AA)
            trainable = spec.initialParameters(config: config, rng: &rng)
            for name in try recipe.tuning.savedNames(for: config) { trainable[name] = frozen.removeValue(forKey: name) }
            lora = spec
        case .full:
            _ = try recipe.tuning.savedNames(for: config)  // modules_to_save with full fine-tuning is an error
            for name in try recipe.tuning.trainableNames(for: config) { trainable[name] = frozen.removeValue(forKey: name) }
        }
        let padID = Int32(loaded.tokenizer.specialTokens.padID ?? loaded.tokenizer.specialTokens.eosID ?? 0)
        let spec = lora
        let trainer = try Trainer(options: recipe.training, frozen: frozen, trainable: trainable, train: train, validation: valid,
                                  maxLength: recipe.data.maxLength, padID: padID) { parameters in
            try makeLanguageModel(config: config, parameters: parameters, lora: spec)
        }
        return Setup(recipe: recipe, runFolder: runFolder, loaded: loaded, config: config, lora: lora, trainer: trainer,
                     dataHash: dataHash, counts: (train.count, valid.count, test.count), preparation: data.summary)
    }

    /// A run's examples: train, validation and test, split by file or by ratio.
    struct PreparedData {
        var train: [TokenizedExample]
        var valid: [TokenizedExample]
        var test: [TokenizedExample]
        /// The token cache key (hex) the training examples came from; nil when prepared without the cache.
        var hash: String?
        var summary: PreparationSummary?
    }

    /// Renders and tokenizes the recipe's data. With a `cacheDirectory` the training files go through the token
    /// cache (read, or written when missing); without one nothing is written (the dry run).
    static func prepareData(_ recipe: Recipe, tokenizer: Tokenizer, chat: ChatTemplateConfig?,
                            cacheDirectory: String?) throws -> PreparedData {
        let renderer = try ExampleRenderer(tokenizer: tokenizer, chat: chat, options: recipe.data.renderOptions)
        var train: [TokenizedExample], hash: String?, summary: PreparationSummary?
        if let cacheDirectory {
            let tokenizerFiles = ["tokenizer.json", "tokenizer_config.json"].map { (recipe.model.path as NSString).appendingPathComponent($0) }
                .filter { FileManager.default.fileExists(atPath: $0) }
            let cached = try DataPipeline.cached(files: recipe.data.train, tokenizerFiles: tokenizerFiles, renderer: renderer,
                                                 options: recipe.data, cacheDirectory: cacheDirectory)
            (train, hash, summary) = (cached.cache.examples, SHA256.hex(cached.cache.key), cached.summary)
        } else {
            let prepared = try DataPipeline.prepare(files: recipe.data.train, renderer: renderer, options: recipe.data)
            (train, hash, summary) = (prepared.examples, nil, prepared.summary)
        }
        var valid: [TokenizedExample] = [], test: [TokenizedExample] = []
        if recipe.data.validRatio > 0 || recipe.data.testRatio > 0 {
            let split = DataSplit.byRatio(train, valid: recipe.data.validRatio, test: recipe.data.testRatio, seed: recipe.data.splitSeed)
            (train, valid, test) = (split.train, split.valid, split.test)
        }
        if !recipe.data.valid.isEmpty { valid = try DataPipeline.prepare(files: recipe.data.valid, renderer: renderer, options: recipe.data).examples }
        if !recipe.data.test.isEmpty { test = try DataPipeline.prepare(files: recipe.data.test, renderer: renderer, options: recipe.data).examples }
        guard !train.isEmpty else { throw RunError("no training examples left in \(recipe.data.train.joined(separator: ", "))") }
        return PreparedData(train: train, valid: valid, test: test, hash: hash, summary: summary)
    }

    /// The pre-flight estimate for `recipe` on a model of shape `config` — the one function both the real run and
    /// the dry run (`TrainingPlan`) call. `batchesPerEpoch` nil: the data were not counted (per-update time only).
    static func preflight(_ recipe: Recipe, config: ModelConfig, trainable: Int, batchesPerEpoch: Int?,
                          rates: Preflight.Rates?) -> Preflight {
        Preflight.estimate(config: config, trainable: trainable, full: recipe.tuning.method == .full, options: recipe.training,
                           maxLength: recipe.data.maxLength,
                           updatesPerEpoch: batchesPerEpoch.map { max(1, $0 / recipe.training.gradientAccumulation) },
                           rates: rates)
    }

    // MARK: - The loop

    static func train(_ s: inout Setup, options: Options, print: @escaping (String) -> Void) throws -> Summary {
        let recipe = s.recipe
        var progress = ProgressPrinter(live: options.live, every: recipe.training.logEvery, write: print)
        let preflight = Self.preflight(recipe, config: s.config, trainable: s.trainer.trainable.values.reduce(0) { $0 + $1.count },
                                       batchesPerEpoch: s.trainer.batchesPerEpoch, rates: options.preflightRates)
        progress.message(preflight.summary)
        try preflight.checkMemory()

        let fm = FileManager.default
        let metricsPath = (s.runFolder as NSString).appendingPathComponent("metrics.jsonl")
        if options.resume == nil {
            try fm.createDirectory(atPath: s.runFolder, withIntermediateDirectories: true)
            try AtomicFile.write(try recipe.resolvedYAML(), to: (s.runFolder as NSString).appendingPathComponent("recipe.resolved.yaml"))
            try AtomicFile.write(options.commandLine + "\n", to: (s.runFolder as NSString).appendingPathComponent("command.txt"))
            try AtomicFile.write(runJSON(s, version: options.version), to: (s.runFolder as NSString).appendingPathComponent("run.json"))
            try AtomicFile.write("", to: metricsPath)
            progress.message("run folder \(s.runFolder): \(s.counts.train) training, \(s.counts.valid) validation, "
                             + "\(s.counts.test) test examples; \(s.trainer.totalSteps) updates")
        } else {
            let restored = try RunState.restoreLatest(&s.trainer, runFolder: s.runFolder)
            try truncateMetrics(metricsPath, after: s.trainer.progress.step)
            progress.message("resumed from \(restored) at update \(s.trainer.progress.step)/\(s.trainer.totalSteps)")
            if let note = Self.resumeDifference(runFolder: s.runFolder) { progress.message(note) }
        }
        let metrics = try MetricsLog(path: metricsPath)
        var firstValidation: Double?
        // The base model's validation loss before any update: the number every later one is compared with.
        if options.resume == nil, let v = try s.trainer.validationLoss() {
            firstValidation = v
            try metrics.append([("step", .integer(0)), ("valid_loss", .double(v)), ("valid_ppl", .double(exp(v))),
                                ("elapsed_s", .double(0))])
            progress.message("validation before training: loss \(String(format: "%.4f", v)) (perplexity \(String(format: "%.2f", exp(v))))")
        }

        Interrupt.install()
        defer { Interrupt.uninstall() }
        let start = Date()
        var ending = Summary.Ending.finished
        var lastLoss: Double?
        var reportFolder: String? = nil
        let version = options.version
        while !s.trainer.isFinished {
            let t0 = Date()
            let m = try s.trainer.step()
            let dt = Date().timeIntervalSince(t0), elapsed = Date().timeIntervalSince(start)
            lastLoss = m.loss
            let rate = Double(m.tokens) / max(dt, 1e-9)
            try metrics.append([("step", .integer(m.step)), ("loss", .double(m.loss)), ("lr", .double(m.learningRate)),
                                ("grad_norm", .double(m.gradNorm)), ("tokens", .integer(m.tokens)),
                                ("supervised_tokens", .integer(m.supervisedTokens)), ("tokens_per_s", .double(rate)),
                                ("epoch", .double(m.epoch)), ("elapsed_s", .double(elapsed))])
            progress.update(m, total: s.trainer.totalSteps, tokensPerSecond: rate, elapsed: elapsed)
            if s.trainer.validationDue, let v = try s.trainer.validationLoss() {
                let improved = s.trainer.recordValidation(v)
                try metrics.append([("step", .integer(m.step)), ("valid_loss", .double(v)), ("valid_ppl", .double(exp(v))),
                                    ("elapsed_s", .double(Date().timeIntervalSince(start)))])
                progress.message("validation at step \(m.step): loss \(String(format: "%.4f", v)) (perplexity "
                                 + "\(String(format: "%.2f", exp(v))))\(improved ? ", best so far" : "")")
                if improved { try writeWeights(s, to: (s.runFolder as NSString).appendingPathComponent("best")) }
                if s.trainer.shouldStopEarly {
                    ending = .stoppedEarly
                    progress.message("early stopping: no improvement for \(recipe.training.earlyStoppingPatience) validations")
                    break
                }
            }
            if s.trainer.checkpointDue { try RunState.save(s.trainer, runFolder: s.runFolder, keep: recipe.training.keepCheckpoints, version: version) }
            if let sig = Interrupt.received {
                ending = .interrupted
                let saved = try RunState.save(s.trainer, runFolder: s.runFolder, keep: recipe.training.keepCheckpoints, version: version)
                progress.message("\(sig == SIGINT ? "interrupted" : "terminated"): saved \(saved); continue with "
                                 + "`whittle train --resume \(s.runFolder)`")
                break
            }
        }
        if ending != .interrupted {
            if !s.trainer.checkpointDue || ending == .stoppedEarly {
                try RunState.save(s.trainer, runFolder: s.runFolder, keep: recipe.training.keepCheckpoints, version: version)
            }
            let last = (s.runFolder as NSString).appendingPathComponent("last")
            try writeWeights(s, to: last)
            if s.lora != nil {
                let best = (s.runFolder as NSString).appendingPathComponent("best")
                let chosen = fm.fileExists(atPath: best) ? best : last
                try AtomicFile.writeDirectory(at: (s.runFolder as NSString).appendingPathComponent("adapter")) { tmp in
                    for name in try fm.contentsOfDirectory(atPath: chosen) {
                        try fm.copyItem(atPath: (chosen as NSString).appendingPathComponent(name), toPath: (tmp as NSString).appendingPathComponent(name))
                    }
                }
                if recipe.output.saveMerged {
                    let merged = (s.runFolder as NSString).appendingPathComponent("merged")
                    let receipt = try LoRAMerge.mergeFolder(model: recipe.model.path, adapter: chosen, out: merged)
                    progress.message("merged model written to \(merged) (\(receipt.entries.count) tensors changed)")
                }
            }
            progress.message("\(ending == .finished ? "finished" : "stopped early") after \(s.trainer.progress.step) updates; "
                             + (s.lora != nil ? "adapter in \((s.runFolder as NSString).appendingPathComponent("adapter"))"
                                              : "model in \(last)"))
            if !recipe.evaluation.data.isEmpty {
                reportFolder = try evaluate(s, options: options, print: { progress.message($0) })
            }
        }
        return Summary(runFolder: s.runFolder, ending: ending, steps: s.trainer.progress.step, totalSteps: s.trainer.totalSteps,
                       lastLoss: lastLoss, bestValidationLoss: s.trainer.progress.bestValidationLoss, firstValidationLoss: firstValidation,
                       reportFolder: reportFolder, preflight: preflight)
    }

    /// The evaluation the recipe asks for: the base against the fine-tune (the adapter, or for full fine-tuning the
    /// best — else last — weights), written as `report/` in the run folder; the headline sentences are printed.
    static func evaluate(_ s: Setup, options: Options, print: (String) -> Void) throws -> String {
        let fm = FileManager.default
        let run = s.runFolder as NSString
        let candidate: EvaluationCandidate
        if s.lora != nil {
            candidate = .adapter(AdapterChoice(path: run.appendingPathComponent("adapter")), name: "adapter")
        } else {
            let best = run.appendingPathComponent("best")
            candidate = .merged(fm.fileExists(atPath: best) ? best : run.appendingPathComponent("last"), name: "fine-tuned")
        }
        var inputs = EvaluationRun.Inputs(model: s.recipe.model.path, candidates: [candidate], section: s.recipe.evaluation, data: s.recipe.data)
        inputs.command = options.commandLine
        inputs.whittleVersion = options.version
        inputs.runFolder = s.runFolder
        inputs.recipe = try? s.recipe.resolvedYAML()
        print("evaluating the base and the fine-tune on \(s.recipe.evaluation.data)")
        let report = try EvaluationRun.run(inputs, progress: print)
        let folder = run.appendingPathComponent("report")
        let paths = try ReportWriter.write(report, to: folder)
        for c in report.comparisons { print(c.sentence) }
        for line in report.forgetting?.sentences ?? [] { print(line) }
        print("report: \(paths.first { $0.hasSuffix(".html") } ?? folder)")
        return folder
    }

    // MARK: - Files

    /// The trained weights: a PEFT adapter folder (LoRA) or a Hugging Face model folder with the tokenizer (full).
    static func writeWeights(_ s: Setup, to folder: String) throws {
        if let spec = s.lora {
            try AtomicFile.writeDirectory(at: folder) { tmp in
                let adapterNames = Set(spec.parameterShapes(config: s.config).map(\.name))
                try PEFTAdapter(spec: spec, tensors: s.trainer.trainable.filter { adapterNames.contains($0.key) },
                                baseModelNameOrPath: s.recipe.model.path, modulesToSave: s.recipe.tuning.modulesToSave,
                                savedModules: s.trainer.trainable.filter { !adapterNames.contains($0.key) })
                    .write(to: tmp, config: s.config)
            }
        } else {
            let model = try s.trainer.model()
            try HFFolder.write(model, to: folder, options: HFWriteOptions(baseFolder: s.recipe.model.path))
        }
    }

    static func runJSON(_ s: Setup, version: String) -> String {
        let object: JSONValue = .object([
            ("whittle_version", .string(version)),
            ("created", .string(ISO8601DateFormatter().string(from: Date()))),
            ("model", .string(s.recipe.model.path)),
            ("model_type", .string(s.config.modelType)),
            ("data_hash", .string(s.dataHash)),
            ("data_files", .array(s.recipe.data.train.map { .string($0) })),
            ("examples", .object([("train", .integer(s.counts.train)), ("valid", .integer(s.counts.valid)),
                                  ("test", .integer(s.counts.test))])),
            ("trainable_parameters", .integer(s.trainer.trainable.values.reduce(0) { $0 + $1.count })),
            ("total_updates", .integer(s.trainer.totalSteps)),
            ("batches_per_epoch", .integer(s.trainer.batchesPerEpoch)),
            ("threads", .integer(Threading.threadCount)),
            ("blas_kernels", .string(BLASKernels.core)),
        ])
        return object.serialized(indent: 2) + "\n"
    }

    /// A note when a resumed run computes on a different thread count or OpenBLAS kernel family than it started
    /// with (`run.json`): large products are then partitioned or rounded differently, so the updates from here on
    /// differ in the last bits from an uninterrupted run. Nil when they match or `run.json` does not say.
    public static func resumeDifference(runFolder: String) -> String? {
        let path = (runFolder as NSString).appendingPathComponent("run.json")
        guard let data = FileManager.default.contents(atPath: path),
              let run = try? JSONParser.parse(String(decoding: data, as: UTF8.self)) else { return nil }
        var differences: [String] = []
        if case .integer(let threads)? = run["threads"], threads != Threading.threadCount {
            differences.append("\(threads) threads, now \(Threading.threadCount) (WHITTLE_THREADS=\(threads) to match)")
        }
        if let kernels = run["blas_kernels"]?.stringValue, kernels != BLASKernels.core {
            differences.append("OpenBLAS \(kernels) kernels, now \(BLASKernels.core) (OPENBLAS_CORETYPE=\(kernels) to match)")
        }
        guard !differences.isEmpty else { return nil }
        return "note: this run started with " + differences.joined(separator: "; ")
            + ". Updates from here on can differ in the last bits from an uninterrupted run."
    }

    /// Drops metrics lines past `step` (a resumed run rewrites them).
    static func truncateMetrics(_ path: String, after step: Int) throws {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return }
        let kept = text.split(separator: "\n").filter { line in
            guard case .object(let pairs)? = try? JSONParser.parse(String(line)),
                  case .integer(let s)? = pairs.first(where: { $0.0 == "step" })?.1 else { return false }
            return s <= step
        }
        try AtomicFile.write(kept.map { $0 + "\n" }.joined(), to: path)
    }
}

/// metrics.jsonl, appended one JSON object per line and flushed as it goes.
final class MetricsLog {
    let handle: FileHandle
    init(path: String) throws {
        guard let h = FileHandle(forWritingAtPath: path) else { throw RunError("\(path): cannot open for appending") }
        h.seekToEndOfFile()
        handle = h
    }
    deinit { try? handle.close() }
    func append(_ pairs: [(String, JSONValue)]) throws {
        try handle.write(contentsOf: Data((JSONValue.object(pairs).serialized(indent: 0) + "\n").utf8))
    }
}
