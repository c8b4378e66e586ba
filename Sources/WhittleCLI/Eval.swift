import ArgumentParser
import Evaluation
import Foundation
import ModelFormats
import TrainingData

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Evaluate a base model and its adapters on the same examples: loss, task metrics, samples, a report.",
        discussion: """
        Every example is rendered as training renders it (completions / assistant turns supervised). Loss and \
        perplexity are token-weighted over supervised tokens; generative metrics score the greedy output from the \
        prompt (everything before the last supervised span) against the record's answer. Each --adapter (and each \
        --merged model) is compared with the base: mean paired differences with bootstrap confidence intervals and \
        one sentence per metric. --report DIR writes report.json, report.md and report.html. \
        With {"text": …} records, no adapters and no --report, prints the plain loss of each text tokenized alone \
        (every predicted position scored).
        """
    )

    @Option(help: "The base model: a Hugging Face folder or a .gguf file.") var model: String
    @Option(help: "How the weights are held in memory: auto (a BF16/F16 file's matrices stay 16-bit, halving weight memory and bytes read per decoded token; F32 files and .gguf stay f32), f32, bf16, f16 (matrices rounded to nearest even when stored otherwise).") var weights: WeightFormat = .auto
    @Option(name: .customLong("adapter"), help: "A PEFT adapter to compare with the base, DIR or DIR:WEIGHT (repeatable: each is its own model).")
    var adapters: [String] = []
    @Option(name: .customLong("merged"), help: "A merged model (folder or .gguf) to compare with the base (repeatable).")
    var merged: [String] = []
    @Option(help: "Evaluation data (JSONL, JSON, CSV or TSV in any record format Whittle reads).") var data: String
    @Option(help: "Record format: auto, text, prompt_completion, alpaca, chat, sharegpt.") var format = "auto"
    @Option(name: .customLong("key-map"), help: "Rename a key: FILE_KEY=FORMAT_KEY (repeatable), e.g. question=prompt.") var keyMap: [String] = []
    @Option(help: "Prompt format for prompt/completion and alpaca records: plain, alpaca, chat_template.") var promptFormat = "plain"
    @Option(help: "Task metrics, comma-separated: exact_match, numeric, regex=PATTERN, contains, multiple_choice, json_valid, json_fields, token_f1, rouge_l.")
    var metrics: String = ""
    @Option(help: "Write report.json, report.md and report.html into this folder.") var report: String?
    @Flag(help: "Print the report's summary as JSON.") var json = false
    @Option(help: "Examples shown side by side in the report.") var samples = 6
    @Option(help: "Evaluate only the first N examples (0 = all).") var limit = 0
    @Option(help: "New tokens at most per generated answer.") var maxNewTokens = 128
    @Option(name: .customLong("stop"), help: "Stop generating at this text (repeatable).") var stops: [String] = []
    @Option(help: "General {\"text\": …} records for the forgetting check.") var general: String?
    @Option(name: .customLong("run"), help: "A run folder whose metrics.jsonl curves go into the report.") var runFolder: String?
    @Option(help: "Longest example in tokens (longer ones are cut from the start, as in training).") var maxLength = 2048

    func run() throws {
        var options = DataOptions()
        options.format = format
        options.promptFormat = try PromptFormat(rawValue: promptFormat).orThrow("--prompt-format must be plain, alpaca or chat_template")
        options.maxLength = maxLength
        for pair in keyMap {
            let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { throw ValidationError("--key-map takes FILE_KEY=FORMAT_KEY, got '\(pair)'") }
            options.keyMap[parts[0]] = parts[1]
        }
        var section = EvaluationSection()
        section.data = data
        section.metrics = metrics.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        section.samples = samples
        section.limit = limit
        section.maxNewTokens = maxNewTokens
        section.stop = stops
        section.general = general ?? ""

        // The plain scoring of issue 4: text records, base only, no report.
        let choices = try adapters.map { try AdapterChoice(parsing: $0) }
        if choices.isEmpty && merged.isEmpty && report == nil && section.metrics.isEmpty && section.general.isEmpty,
           (try? RecordConverter.readExamples(path: data, options: RecordOptions(format: .text)).first) != nil, format == "auto" || format == "text" {
            let m = try LoadedModel(folder: model, weights: weights)
            let records = Array(try RecordTexts.read(data).prefix(limit > 0 ? limit : Int.max))
            let result = try Scoring.score(m, texts: records)
            if json {
                struct Out: Encodable { var model: String; var data: String; var meanLoss: Double; var perplexity: Double; var tokens: Int; var texts: Int }
                print(try JSONOutput.encode(Out(model: model, data: data, meanLoss: result.meanLoss, perplexity: result.perplexity,
                                                tokens: result.tokens, texts: result.texts)))
            } else {
                print(String(format: "%@: loss %.6f · perplexity %.4f · %d tokens in %d texts", data, result.meanLoss, result.perplexity,
                             result.tokens, result.texts))
            }
            return
        }

        var inputs = EvaluationRun.Inputs(model: model, candidates: choices.map { .adapter($0) } + merged.map { .merged($0) },
                                          section: section, data: options)
        inputs.command = CommandLine.arguments.joined(separator: " ")
        inputs.whittleVersion = WhittleVersion.string
        inputs.runFolder = runFolder
        inputs.weights = weights
        let quiet = json
        let result = try EvaluationRun.run(inputs) { line in if !quiet { FileHandle.standardError.write(Data((line + "\n").utf8)) } }
        if json {
            struct ModelOut: Encodable { var name: String; var kind: String; var loss: Double; var perplexity: Double; var supervisedTokens: Int; var metrics: [String: Double] }
            struct Out: Encodable { var data: String; var examples: Int; var models: [ModelOut]; var sentences: [String]; var report: String? }
            let models = zip(result.models, result.summary).map {
                ModelOut(name: $0.name, kind: $0.kind, loss: $1.loss, perplexity: $1.perplexity, supervisedTokens: $1.supervisedTokens, metrics: $1.metrics)
            }
            if let report { _ = try ReportWriter.write(result, to: report) }
            print(try JSONOutput.encode(Out(data: data, examples: result.examples.count, models: models,
                                            sentences: result.comparisons.map(\.sentence) + (result.forgetting?.sentences ?? []), report: report)))
            return
        }
        for (entry, s) in zip(result.models, result.summary) {
            var line = String(format: "%@ (%@): loss %.4f · perplexity %.3f · %d supervised tokens", entry.name, entry.kind, s.loss, s.perplexity, s.supervisedTokens)
            for n in result.metricNames { line += String(format: " · %@ %.1f", n, 100 * (s.metrics[n] ?? 0)) }
            print(line)
        }
        for c in result.comparisons { print(c.sentence) }
        for line in result.forgetting?.sentences ?? [] { print(line) }
        if let report {
            let paths = try ReportWriter.write(result, to: report)
            print("report: \(paths.first { $0.hasSuffix(".html") } ?? report)")
        }
    }
}

extension Optional {
    func orThrow(_ message: String) throws -> Wrapped {
        guard let v = self else { throw ValidationError(message) }
        return v
    }
}
