import Foundation
import Testing
import Evaluation
import ModelFormats
import Models
import Tensors
import TestSupport
import TrainingData

/// `whittle eval` end to end on the real stories260K model with a random adapter: every number in the report is
/// recomputed here by another path (the training loss, Scoring, the metric on the stored outputs).
@Suite(.serialized) struct EvaluationRunTests {
    let root: String

    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("whittle-eval-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    }

    /// stories260K imported, a rank-4 adapter with random A and B, 10 GSM8K records and 5 general texts.
    func prepare() throws -> (model: String, adapter: String, data: String, general: String) {
        let model = root + "/model"
        if !FileManager.default.fileExists(atPath: model) {
            try Llama2C.importFolder(model: try sharedAsset("models/stories260K/stories260K.bin"),
                                     tokenizer: try sharedAsset("models/stories260K/tok512.bin"), out: model)
        }
        let config = try HFConfig.read(path: model + "/config.json")
        let spec = LoRASpec(rank: 4, alpha: 8, targetModules: ["q_proj", "v_proj", "down_proj"])
        var rng = RandomGenerator(seed: 11)
        var tensors = spec.initialParameters(config: config, rng: &rng)
        for (k, t) in tensors where k.hasSuffix("lora_B.weight") {
            var b = t
            rng.fillNormal(&b, mean: 0, std: 0.2)
            tensors[k] = b
        }
        let adapter = root + "/adapter"
        try PEFTAdapter(spec: spec, tensors: tensors).write(to: adapter, config: config)
        let lines = try String(contentsOfFile: try sharedAsset("datasets/gsm8k/test.jsonl"), encoding: .utf8).split(separator: "\n").prefix(10)
        let data = root + "/data.jsonl"
        try (lines.joined(separator: "\n") + "\n").write(toFile: data, atomically: true, encoding: .utf8)
        let general = root + "/general.jsonl"
        try (["Once upon a time there was a cat.", "The sun was warm and the sky was blue.", "Lily had a red ball.",
              "Tom went to the park with his dog.", "They played all day and were happy."]
            .map { "{\"text\": \"\($0)\"}" }.joined(separator: "\n") + "\n").write(toFile: general, atomically: true, encoding: .utf8)
        return (model, adapter, data, general)
    }

    func inputs(_ p: (model: String, adapter: String, data: String, general: String), weight: Double = 1,
                metrics: [String] = ["numeric", "token_f1", "rouge_l"]) -> EvaluationRun.Inputs {
        var section = EvaluationSection()
        section.data = p.data
        section.metrics = metrics
        section.maxNewTokens = 24
        section.samples = 3
        section.general = p.general
        section.resamples = 500
        var data = DataOptions()
        data.keyMap = ["question": "prompt", "answer": "completion"]
        data.maxLength = 256
        return EvaluationRun.Inputs(model: p.model, candidates: [.adapter(AdapterChoice(path: p.adapter, weight: weight), name: "adapter")],
                                    section: section, data: data)
    }

    @Test func everyReportedNumberRecomputes() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let p = try prepare()
        let report = try EvaluationRun.run(inputs(p))
        #expect(report.models.map(\.name) == ["base", "adapter"] && report.examples.count == 10)
        #expect(report.models[1].adapterScale == 2 && report.models[1].adapterSHA256?.count == 64)

        // Loss per example = the training loss path (chunked cross-entropy of TrainableModel) on the same tokens.
        let base = try LoadedModel(folder: p.model)
        let withAdapter = try base.with(adapters: [AdapterChoice(path: p.adapter)])
        var data = DataOptions()
        data.keyMap = ["question": "prompt", "answer": "completion"]
        let renderer = try ExampleRenderer(tokenizer: base.tokenizer, chat: base.chat, options: data.renderOptions)
        let examples = try RecordConverter.readExamples(path: p.data, options: try data.recordOptions())
        var preparation = PreparationSummary()
        for (i, e) in examples.enumerated() {
            // Cut as training cuts (max_length 256 from `inputs`, keeping the end).
            let r = try #require(try SequencePreparation.prepareOne(try renderer.render(e), maxLength: 256, truncation: data.truncation,
                                                                    unusable: .error, summary: &preparation))
            let t = r.tokens.count
            let batch = SequenceBatch(batch: 1, length: t, inputs: r.tokens,
                                      targets: (0..<t).map { $0 + 1 < t && r.trained[$0 + 1] ? r.tokens[$0 + 1] : -1 },
                                      positions: (0..<t).map(Int32.init), segmentStarts: Array(repeating: 0, count: t))
            for (mi, m) in [base, withAdapter].enumerated() {
                let trainable = try #require(m.model as? any TrainableModel)
                let (sum, count) = try trainable.loss(batch)
                let s = report.examples[i].scores[mi]
                #expect(count == s.tokens, "example \(i) model \(mi): \(count) vs \(s.tokens) tokens")
                #expect(abs(sum - s.lossSum) <= 1e-5 * max(1, sum), "example \(i) model \(mi): loss \(s.lossSum) vs training path \(sum)")
            }
            #expect(report.examples[i].id == "\(p.data):\(i + 1)")
            if case .promptCompletion(let prompt, let completion) = e.example {
                #expect(report.examples[i].reference == completion)
                // The prompt shown is what the model saw before the completion (after any cut from the start).
                var start = r.trained.lastIndex(of: true)!
                while start > 0 && r.trained[start - 1] { start -= 1 }
                #expect(report.examples[i].prompt == base.tokenizer.decode(r.tokens[..<max(start, 1)].map(Int.init), skipSpecialTokens: false))
                if r.tokens.count < 256 { #expect(report.examples[i].prompt.contains(prompt.suffix(30)), "prompt shown: \(report.examples[i].prompt)") }
            }
        }

        // Summaries are the token-weighted means and metric means of the per-example values.
        for mi in 0..<2 {
            let lossSum = report.examples.reduce(0.0) { $0 + $1.scores[mi].lossSum }
            let tokens = report.examples.reduce(0) { $0 + $1.scores[mi].tokens }
            #expect(report.summary[mi].supervisedTokens == tokens)
            #expect(abs(report.summary[mi].loss - lossSum / Double(tokens)) <= 1e-12 * report.summary[mi].loss)
            for n in report.metricNames {
                let spec = try MetricSpec(parsing: n)
                var mean = 0.0
                for e in report.examples {
                    let output = try #require(e.scores[mi].output)
                    let v = try spec.score(prediction: output, reference: e.reference)
                    #expect(e.scores[mi].metrics[n] == v)
                    mean += v / Double(report.examples.count)
                }
                #expect(abs((report.summary[mi].metrics[n] ?? -1) - mean) <= 1e-12, "\(n) mean")
            }
        }
        // Greedy outputs are what `whittle generate` gives for the same prompt tokens.
        let first = report.examples[0]
        let ids = withAdapter.tokenizer.encode(first.prompt, addSpecialTokens: false)
        let direct = try TextGeneration.run(withAdapter, prompt: first.prompt, options: GenerationOptions(maxNewTokens: 24))
        if direct.promptIDs == ids { #expect(direct.text == first.scores[1].output) }

        // One comparison per metric plus loss, with the difference of the summaries inside its interval.
        #expect(report.comparisons.map(\.metric) == ["loss", "numeric", "token_f1", "rouge_l"])
        let loss = report.comparisons[0]
        #expect(abs(loss.difference - (report.summary[1].loss - report.summary[0].loss)) <= 1e-12)
        #expect(loss.ciLow <= loss.difference && loss.difference <= loss.ciHigh && !loss.sentence.isEmpty)
        #expect(report.samples == [0, 3, 6] && report.best.count == 5 && report.worst.count == 5)

        // Forgetting: the base's loss on the general texts is Scoring's.
        let texts = try RecordTexts.read(p.general)
        #expect(report.forgetting?.loss[0] == (try Scoring.score(base, texts: texts)).meanLoss)
        #expect(report.forgetting?.loss[1] == (try Scoring.score(withAdapter, texts: texts)).meanLoss)
        #expect(report.forgetting?.sentences.count == 1)

        // Written and read back unchanged.
        let paths = try ReportWriter.write(report, to: root + "/report")
        #expect(paths.count == 3)
        #expect(try ReportWriter.read(path: root + "/report/report.json") == report)
    }

    /// An adapter at weight 0 is the base: identical losses and outputs, zero differences, nothing significant.
    @Test func zeroWeightAdapterIsTheBase() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let report = try EvaluationRun.run(inputs(try prepare(), weight: 0, metrics: ["exact_match"]))
        for e in report.examples { #expect(e.scores[0] == e.scores[1]) }
        for c in report.comparisons { #expect(c.difference == 0 && c.ciLow == 0 && c.ciHigh == 0 && !c.significant, "\(c)") }
    }

    /// Multiple choice picks the option with the highest log-likelihood after the prompt, recomputed here from
    /// whole-sequence losses: loglik(choice) = loss(prompt) − loss(prompt + choice).
    @Test func multipleChoiceByLogLikelihood() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let p = try prepare()
        let records = [("Lily had a", ["red ball", "big dog", "sunny day"], "red ball"),
                       ("The cat sat on the", ["mat", "moon", "car"], "moon"),
                       ("Tom went to the", ["park", "sky"], "park")]
        let file = root + "/mc.jsonl"
        try records.map { r in
            "{\"prompt\": \"\(r.0)\", \"completion\": \" \(r.2)\", \"choices\": [\(r.1.map { "\" \($0)\"" }.joined(separator: ", "))]}"
        }.joined(separator: "\n").write(toFile: file, atomically: true, encoding: .utf8)
        var i = inputs(p, metrics: ["multiple_choice"])
        i.section.data = file
        i.data = DataOptions()
        i.section.general = ""
        let report = try EvaluationRun.run(i)
        let base = try LoadedModel(folder: p.model)
        for (k, r) in records.enumerated() {
            let prompt = base.tokenizer.encode(r.0, addSpecialTokens: true)
            let promptLoss = try Scoring.sequenceLoss(model: base.model, ids: prompt)
            let scores = try r.1.map { c in
                promptLoss - (try Scoring.sequenceLoss(model: base.model, ids: prompt + base.tokenizer.encode(" " + c, addSpecialTokens: false)))
            }
            let picked = scores.indices.max { scores[$0] < scores[$1] }!
            #expect(report.examples[k].scores[0].metrics["multiple_choice"] == (r.1[picked] == r.2 ? 1 : 0), "record \(k): \(scores)")
        }
    }

    @Test func badInputNamesTheRecord() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let p = try prepare()
        func failure(_ lines: [String], metrics: [String], format: String = "auto") -> String {
            let file = root + "/bad.jsonl"
            try? (lines.joined(separator: "\n") + "\n").write(toFile: file, atomically: true, encoding: .utf8)
            var i = inputs(p, metrics: metrics)
            i.section.data = file
            i.section.general = ""
            i.data = DataOptions()
            do { _ = try EvaluationRun.run(i); return "no error" } catch { return "\(error)" }
        }
        let chat = failure(["{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}"], metrics: ["exact_match"])
        #expect(chat.contains("bad.jsonl:1") && chat.contains("assistant"), "\(chat)")
        let text = failure(["{\"text\": \"hello\"}"], metrics: ["exact_match"])
        #expect(text.contains("reference answers"), "\(text)")
        let numeric = failure(["{\"prompt\": \"a\", \"completion\": \"b\"}"], metrics: ["numeric"])
        #expect(numeric.contains("bad.jsonl:1") && numeric.contains("numeric"), "\(numeric)")
        let noChoices = failure(["{\"prompt\": \"a\", \"completion\": \"b\"}"], metrics: ["multiple_choice"])
        #expect(noChoices.contains("choices"), "\(noChoices)")
        let mixed = failure(["{\"prompt\": \"a\", \"completion\": \"b\"}", "{\"text\": \"c\"}"], metrics: [])
        #expect(mixed.contains("bad.jsonl:2") && mixed.contains("mixes"), "\(mixed)")
        let unknown = failure(["{\"prompt\": \"a\", \"completion\": \"b\"}"], metrics: ["exact_mach"])
        #expect(unknown.contains("exact_match"), "\(unknown)")
    }
}
