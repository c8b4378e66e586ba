import FileSupport
import Foundation
import ModelFormats
import Models
import Tensors
import Tokenization
import TrainingData

/// The `evaluation` section of a recipe (and the options of `whittle eval`): what to measure the base and the
/// fine-tune on. Codable and strict (FineTuning's StrictConfig); documented in Recipes/README.md.
public struct EvaluationSection: Codable, Sendable, Equatable {
    /// Evaluation data (any format the data section reads); empty = no evaluation at the end of training.
    public var data: String = ""
    /// Task metrics by name (`exact_match`, `numeric`, `regex=PATTERN`, `contains`, `multiple_choice`, `json_valid`,
    /// `token_f1`, `rouge_l`, `json_fields`); loss and perplexity are always reported.
    public var metrics: [String] = []
    /// Examples shown side by side in the report.
    public var samples: Int = 6
    /// Evaluate only the first N examples (0 = all).
    public var limit: Int = 0
    /// Greedy generation length for generative metrics, and extra stop strings.
    public var maxNewTokens: Int = 128
    public var stop: [String] = []
    /// General text (`{"text": …}` records) for the forgetting check; empty = none.
    public var general: String = ""
    /// Texts of `general` used at most.
    public var generalLimit: Int = 200
    /// Bootstrap resamples and confidence of the intervals on differences.
    public var resamples: Int = 2000
    public var confidence: Double = 0.95
    public var seed: UInt64 = 0

    public init() {}

    /// The metric specs, parsed (errors name the bad entry).
    public func metricSpecs() throws -> [MetricSpec] { try MetricSpec.parseAll(metrics) }

    public func validate() throws(ModelError) {
        if samples < 0 { throw ModelError("evaluation.samples must be ≥ 0, got \(samples)") }
        if limit < 0 { throw ModelError("evaluation.limit must be ≥ 0, got \(limit)") }
        if maxNewTokens < 1 { throw ModelError("evaluation.max_new_tokens must be ≥ 1, got \(maxNewTokens)") }
        if resamples < 100 { throw ModelError("evaluation.resamples must be ≥ 100, got \(resamples)") }
        if !(confidence > 0.5 && confidence < 1) { throw ModelError("evaluation.confidence must be in (0.5, 1), got \(confidence)") }
        do { _ = try metricSpecs() } catch { throw ModelError("evaluation.metrics: \(error)") }
    }
}

/// One model compared against the base: base + adapters run unmerged, or a merged folder / GGUF file.
public struct EvaluationCandidate: Sendable {
    public var name: String
    public var adapters: [AdapterChoice]
    /// A merged model (folder or .gguf) instead of adapters.
    public var mergedPath: String?

    public static func adapter(_ choice: AdapterChoice, name: String? = nil) -> EvaluationCandidate {
        EvaluationCandidate(name: name ?? URL(fileURLWithPath: choice.path).standardizedFileURL.lastPathComponent, adapters: [choice], mergedPath: nil)
    }
    public static func merged(_ path: String, name: String? = nil) -> EvaluationCandidate {
        EvaluationCandidate(name: name ?? URL(fileURLWithPath: path).standardizedFileURL.lastPathComponent, adapters: [], mergedPath: path)
    }
}

/// Evaluates a base model and candidates on the same examples and builds the report (see `EvaluationReport`).
///
/// Every example is rendered exactly as training renders it (`ExampleRenderer`, completions / assistant turns
/// supervised). Loss: Σ −log p over the supervised tokens of each example, token-weighted over examples. Generation
/// (for generative metrics): greedy from the tokens before the example's last supervised span — the completion or
/// the last assistant turn — with the model's stop ids; its text is scored against the record's reference answer.
/// Multiple choice: the record's `choices` array, each scored by the log-likelihood of its tokens after the prompt;
/// the reference (completion) must be one of them.
public enum EvaluationRun {
    public struct Inputs: Sendable {
        public var model: String
        public var candidates: [EvaluationCandidate]
        public var section: EvaluationSection
        /// How records become examples (format, key map, prompt format, lengths) — the recipe's `data` section.
        public var data: DataOptions
        public var command: String = ""
        public var whittleVersion: String = ""
        public var runFolder: String? = nil
        public var recipe: String? = nil
        /// How the base and merged models hold their matrices (`--weights`; Float32 by default).
        public var weights: WeightFormat = .f32
        public init(model: String, candidates: [EvaluationCandidate], section: EvaluationSection, data: DataOptions = DataOptions()) {
            self.model = model
            self.candidates = candidates
            self.section = section
            self.data = data
        }
    }

    /// One example ready to score.
    struct Item {
        var id: String
        var tokens: [Int]
        var trained: [Bool]
        /// Tokens before the last supervised span (the generation prompt).
        var promptLength: Int
        var reference: String
        var choices: [String]?
    }

    public static func run(_ inputs: Inputs, progress: (String) -> Void = { _ in }) throws -> EvaluationReport {
        let section = inputs.section
        try section.validate()
        let metrics = try section.metricSpecs()
        guard !section.data.isEmpty else { throw ModelError("evaluation: name the data file to evaluate on") }

        let base = try LoadedModel(folder: inputs.model, weights: inputs.weights)
        var models: [(entry: EvaluationReport.ModelEntry, model: LoadedModel)] = [
            (EvaluationReport.ModelEntry(name: "base", kind: "base", path: inputs.model), base),
        ]
        for c in inputs.candidates {
            if let path = c.mergedPath {
                let m = try LoadedModel(folder: path, weights: inputs.weights)
                guard m.model.config.vocabSize == base.model.config.vocabSize else {
                    throw ModelError("\(path): vocabulary of \(m.model.config.vocabSize) tokens, the base has \(base.model.config.vocabSize); compare models of one base")
                }
                models.append((EvaluationReport.ModelEntry(name: c.name, kind: "merged", path: path), m))
            } else {
                let m = try base.with(adapters: c.adapters)
                let weightsFile = c.adapters.first.map { $0.path + "/" + PEFTAdapter.weightsFileName }
                let scale = try c.adapters.first.map { try PEFTAdapter.readConfig(path: $0.path + "/" + PEFTAdapter.configFileName, config: base.model.config).spec.scale * $0.weight }
                models.append((EvaluationReport.ModelEntry(name: c.name, kind: "adapter", path: c.adapters.map(\.path).joined(separator: " + "),
                                                           adapterSHA256: try weightsFile.map { try SHA256.hexDigest(ofFile: $0) },
                                                           adapterScale: scale), m))
            }
        }
        let names = models.map(\.entry.name)
        if Set(names).count != names.count { throw ModelError("evaluation: two models are named alike (\(names)); name them apart") }

        // Examples, rendered as training renders them.
        var data = inputs.data
        data.trainOn = .completions
        let (items, format) = try readItems(path: section.data, data: data, model: base, limit: section.limit)
        guard !items.isEmpty else { throw ModelError("\(section.data): no examples to evaluate") }
        let generative = metrics.filter { $0.metric.needsGeneration }
        if format == "text" && !metrics.isEmpty {
            throw ModelError("\(section.data): {\"text\": …} records have no reference answers, so task metrics (\(metrics.map(\.name))) cannot apply; evaluate loss only")
        }
        if metrics.contains(where: { $0.metric == .multipleChoice }), let bad = items.first(where: { $0.choices == nil }) {
            throw ModelError("\(bad.id): multiple_choice needs a \"choices\" array of strings in every record")
        }

        // Score every model on every example.
        var scores = Array(repeating: [EvaluationReport.ExampleScore](), count: items.count)
        var speed: [EvaluationReport.SpeedEntry] = []
        for (entry, m) in models {
            var s = EvaluationReport.SpeedEntry(promptTokens: 0, promptSeconds: 0, generatedTokens: 0, generationSeconds: 0)
            for (i, item) in items.enumerated() {
                let t0 = Date()
                let lossSum = try supervisedLoss(m.model, item: item)
                s.promptTokens += item.tokens.count
                s.promptSeconds += Date().timeIntervalSince(t0)
                var output: String? = nil
                var values: [String: Double] = [:]
                if !generative.isEmpty {
                    let t1 = Date()
                    let options = GenerationOptions(maxNewTokens: section.maxNewTokens, temperature: 0)
                    let r = try TextGeneration.generateText(m, promptIDs: Array(item.tokens[..<item.promptLength]), options: options,
                                                            stopStrings: section.stop, onText: { _ in })
                    s.generatedTokens += r.generatedIDs.count
                    s.generationSeconds += Date().timeIntervalSince(t1)
                    output = r.text
                    for spec in generative {
                        do { values[spec.name] = try spec.score(prediction: r.text, reference: item.reference) } catch {
                            throw ModelError("\(item.id): \(spec.name): \(error)")
                        }
                    }
                }
                if metrics.contains(where: { $0.metric == .multipleChoice }), let choices = item.choices {
                    values[TaskMetric.multipleChoice.rawValue] = try multipleChoice(m, item: item, choices: choices)
                }
                scores[i].append(EvaluationReport.ExampleScore(lossSum: lossSum, tokens: item.trained.dropFirst().filter { $0 }.count,
                                                               output: output, metrics: values))
                if (i + 1) % 25 == 0 || i + 1 == items.count { progress("eval \(entry.name): \(i + 1)/\(items.count) examples") }
            }
            speed.append(s)
        }

        // Summaries and comparisons.
        let metricNames = metrics.map(\.name)
        var summary: [EvaluationReport.ModelSummary] = []
        for mi in models.indices {
            let lossSum = scores.reduce(0.0) { $0 + $1[mi].lossSum }, tokens = scores.reduce(0) { $0 + $1[mi].tokens }
            let loss = tokens == 0 ? 0 : lossSum / Double(tokens)
            var means: [String: Double] = [:]
            for n in metricNames { means[n] = scores.reduce(0.0) { $0 + ($1[mi].metrics[n] ?? 0) } / Double(items.count) }
            summary.append(EvaluationReport.ModelSummary(loss: loss, perplexity: Foundation.exp(loss), supervisedTokens: tokens, metrics: means))
        }
        var comparisons: [EvaluationReport.Comparison] = []
        for mi in models.indices.dropFirst() {
            let name = models.count == 2 ? (models[mi].entry.kind == "merged" ? "the fine-tuned model" : "the adapter") : "'\(models[mi].entry.name)'"
            let lossInterval = Bootstrap.pairedLossDifference(base: scores.map { ($0[0].lossSum, $0[0].tokens) },
                                                              model: scores.map { ($0[mi].lossSum, $0[mi].tokens) },
                                                              resamples: section.resamples, confidence: section.confidence, seed: section.seed)
            comparisons.append(comparison(mi, "loss", lossInterval, higherIsBetter: false,
                                          sentence: Verdict.lossSentence(modelName: name, baseName: "the base", baseLoss: summary[0].loss,
                                                                         modelLoss: summary[mi].loss, interval: lossInterval)))
            for spec in metrics {
                let n = spec.name
                let interval = Bootstrap.pairedDifference(base: scores.map { $0[0].metrics[n] ?? 0 }, model: scores.map { $0[mi].metrics[n] ?? 0 },
                                                          resamples: section.resamples, confidence: section.confidence, seed: section.seed)
                comparisons.append(comparison(mi, n, interval, higherIsBetter: true,
                                              sentence: Verdict.sentence(metric: spec.metric, modelName: name, baseName: "the base",
                                                                         baseMean: summary[0].metrics[n] ?? 0, modelMean: summary[mi].metrics[n] ?? 0,
                                                                         interval: interval)))
            }
        }

        // Examples for the report: evenly spaced samples, and the largest loss changes of the first candidate.
        let promptTexts = items.map { base.tokenizer.decode(Array($0.tokens[..<$0.promptLength]), skipSpecialTokens: false) }
        let examples = items.indices.map { i in
            EvaluationReport.ExampleResult(id: items[i].id, prompt: promptTexts[i], reference: items[i].reference, scores: scores[i])
        }
        let sampleCount = min(section.samples, items.count)
        let samples = sampleCount == 0 ? [] : (0..<sampleCount).map { $0 * items.count / sampleCount }
        var best: [Int] = [], worst: [Int] = []
        if models.count > 1 {
            let deltas = scores.map { $0[1].meanLoss - $0[0].meanLoss }
            let order = deltas.indices.sorted { deltas[$0] != deltas[$1] ? deltas[$0] < deltas[$1] : $0 < $1 }
            let k = min(5, items.count / 2)
            best = Array(order.prefix(k))
            worst = Array(order.suffix(k).reversed())
        }

        // Forgetting: loss on general text.
        var forgetting: EvaluationReport.Forgetting? = nil
        if !section.general.isEmpty {
            let texts = Array(try RecordTexts.read(section.general).prefix(section.generalLimit))
            var losses: [Double] = []
            var tokens = 0
            for (entry, m) in models {
                progress("forgetting check \(entry.name): \(texts.count) texts")
                let r = try Scoring.score(m, texts: texts)
                losses.append(r.meanLoss)
                tokens = r.tokens
            }
            let sentences = models.indices.dropFirst().map { mi in
                forgettingSentence(name: models.count == 2 ? (models[mi].entry.kind == "merged" ? "the fine-tuned model" : "the adapter")
                                                           : "'\(models[mi].entry.name)'", base: losses[0], model: losses[mi])
            }
            forgetting = EvaluationReport.Forgetting(path: section.general, sha256: try SHA256.hexDigest(ofFile: section.general),
                                                     texts: texts.count, tokens: tokens, loss: losses, sentences: sentences)
        }

        let training = try inputs.runFolder.map { try TrainingCurvesReader.read(runFolder: $0) }
        let provenance = EvaluationReport.Provenance(
            whittleVersion: inputs.whittleVersion, machine: machineDescription(), command: inputs.command,
            runFolder: inputs.runFolder, recipe: inputs.recipe, baseModelSHA256: try modelDigest(inputs.model),
            tokenizerSHA256: try tokenizerDigest(inputs.model),
            templateSHA256: templateDigest(base))
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return EvaluationReport(
            createdAt: formatter.string(from: Date()), provenance: provenance, models: models.map(\.entry),
            data: EvaluationReport.DataEntry(path: section.data, sha256: try SHA256.hexDigest(ofFile: section.data), format: format, examples: items.count),
            metricNames: metricNames, summary: summary, comparisons: comparisons, examples: examples, samples: samples,
            best: best, worst: worst, forgetting: forgetting, speed: speed, training: training)
    }

    // MARK: - Examples

    static func readItems(path: String, data: DataOptions, model: LoadedModel, limit: Int) throws -> ([Item], String) {
        let recordOptions = try data.recordOptions()
        let renderer = try ExampleRenderer(tokenizer: model.tokenizer, chat: model.chat, options: data.renderOptions)
        var items: [Item] = []
        var format = ""
        var summary = PreparationSummary()
        let maxLength = min(data.maxLength, model.model.config.contextLength)
        for raw in try RecordReader.readAll(path: path) {
            if limit > 0 && items.count >= limit { break }
            let located = try RecordConverter.convert(raw, options: recordOptions)
            let reference: String
            let kind: String
            switch located.example {
            case .text: reference = ""; kind = "text"
            case .promptCompletion(_, let completion): reference = completion; kind = "prompt_completion"
            case .alpaca(_, _, let output): reference = output; kind = "alpaca"
            case .chat(let turns, _):
                guard let last = turns.last, last.role == "assistant" else {
                    throw DataError(.badValue, file: located.file, line: located.line, key: "messages",
                                    "the conversation must end with an assistant turn: it is the reference answer the models are scored against")
                }
                reference = last.content
                kind = "chat"
            }
            if format.isEmpty { format = kind } else if format != kind {
                throw DataError(.badValue, file: located.file, line: located.line,
                                "mixes \(kind) with \(format) records; evaluate one format per file")
            }
            let rendered = try renderer.render(located)
            guard let kept = try SequencePreparation.prepareOne(rendered, maxLength: maxLength, truncation: data.truncation,
                                                                 unusable: .error, summary: &summary) else {
                throw DataError(.badValue, file: located.file, line: located.line, "the example cannot be evaluated (nothing supervised left)")
            }
            let trained = kept.trained
            var start = trained.count
            if kind != "text" {
                // The last supervised span: walk back over trained tokens from the last one.
                guard let lastTrained = trained.lastIndex(of: true) else { continue }
                start = lastTrained
                while start > 0 && trained[start - 1] { start -= 1 }
            }
            var choices: [String]? = nil
            if case .array(let a)? = raw.value["choices"] {
                choices = try a.map { v -> String in
                    guard case .string(let s) = v else {
                        throw DataError(.badValue, file: raw.file, line: raw.line, key: "choices", "every choice must be a string")
                    }
                    return s
                }
            }
            items.append(Item(id: "\(located.file):\(located.line)", tokens: kept.tokens.map(Int.init), trained: trained,
                              promptLength: max(start, 1), reference: reference, choices: choices))
        }
        return (items, format.isEmpty ? "text" : format)
    }

    /// Σ −log p(token) over the supervised tokens of one example (the whole sequence run once).
    static func supervisedLoss(_ model: any LanguageModel, item: Item) throws -> Double {
        try Scoring.maskedLoss(model: model, ids: item.tokens, trained: item.trained)
    }

    /// 1 when the choice with the highest log-likelihood after the prompt is the reference, else 0.
    static func multipleChoice(_ m: LoadedModel, item: Item, choices: [String]) throws -> Double {
        let reference = item.reference.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let answer = choices.firstIndex(where: { $0.trimmingCharacters(in: .whitespacesAndNewlines) == reference }) else {
            throw ModelError("\(item.id): the reference answer \"\(item.reference)\" is not one of the choices \(choices)")
        }
        let prompt = Array(item.tokens[..<item.promptLength])
        var logLikelihoods: [Double] = [], counts: [Int] = []
        for c in choices {
            let ids = m.tokenizer.encode(c, addSpecialTokens: false)
            let choiceItem = Item(id: item.id, tokens: prompt + ids, trained: Array(repeating: false, count: prompt.count) + Array(repeating: true, count: ids.count),
                                  promptLength: prompt.count, reference: c, choices: nil)
            logLikelihoods.append(-(try supervisedLoss(m.model, item: choiceItem)))
            counts.append(ids.count)
        }
        return MultipleChoice.pick(logLikelihoods: logLikelihoods, tokenCounts: counts, perToken: false) == answer ? 1 : 0
    }

    // MARK: - Sentences and provenance

    static func comparison(_ model: Int, _ metric: String, _ i: Bootstrap.Interval, higherIsBetter: Bool, sentence: String) -> EvaluationReport.Comparison {
        EvaluationReport.Comparison(model: model, metric: metric, difference: i.difference, ciLow: i.low, ciHigh: i.high,
                                    confidence: i.confidence, resamples: i.resamples, higherIsBetter: higherIsBetter,
                                    significant: i.significant, sentence: sentence)
    }

    static func forgettingSentence(name: String, base: Double, model: Double) -> String {
        let d = model - base
        let verdict = d <= 0.01 ? (d < -0.01 ? "no forgetting (it improved)" : "no measurable forgetting")
            : d <= 0.1 ? "little forgetting" : d <= 0.5 ? "some forgetting" : "strong forgetting"
        let direction = d >= 0 ? "rose" : "fell"
        return String(format: "On general text %@'s loss %@ by %.3f nats/token (%.3f → %.3f): %@.",
                      name, direction, abs(d), base, model, verdict)
    }

    static func machineDescription() -> String {
        var cpu = "unknown CPU"
        if let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
           let line = info.split(separator: "\n").first(where: { $0.hasPrefix("model name") }),
           let colon = line.firstIndex(of: ":") {
            cpu = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        let os = ProcessInfo.processInfo.operatingSystemVersionString
        return "\(cpu) · \(ProcessInfo.processInfo.activeProcessorCount) cores · \(os)"
    }

    /// SHA-256 over config.json and the weight files in name order (a GGUF file: the file).
    static func modelDigest(_ path: String) throws -> String {
        if path.lowercased().hasSuffix(".gguf") { return try SHA256.hexDigest(ofFile: path) }
        let names = try FileManager.default.contentsOfDirectory(atPath: path)
            .filter { $0 == "config.json" || $0.hasSuffix(".safetensors") }.sorted()
        var h = SHA256()
        for n in names { try h.update(fileAt: path + "/" + n) }
        return SHA256.hex(h.finalize())
    }

    static func tokenizerDigest(_ path: String) throws -> String {
        if path.lowercased().hasSuffix(".gguf") { return try SHA256.hexDigest(ofFile: path) }
        let file = path + "/tokenizer.json"
        return FileManager.default.fileExists(atPath: file) ? try SHA256.hexDigest(ofFile: file) : ""
    }

    static func templateDigest(_ m: LoadedModel) -> String? {
        guard let source = m.chat?.templates.first?.source else { return nil }
        var h = SHA256()
        h.update(source)
        return SHA256.hex(h.finalize())
    }
}
