import ArgumentParser
import Foundation
import Tokenization
import TrainingData

struct DataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data",
        abstract: "Inspect and prepare training data.",
        subcommands: [DataInspect.self, DataPrepare.self]
    )
}

/// Options shared by the data subcommands: where the tokenizer and data are, and the recipe's data settings.
struct DataArguments: ParsableArguments {
    @Option(help: "A folder with tokenizer.json (and tokenizer_config.json for the chat template), or the file itself.")
    var tokenizer: String

    @Option(name: .customLong("data"), help: "A data file (.jsonl, .json, .csv, .tsv); repeat for several.")
    var files: [String]

    @Option(help: "Record format: auto, text, prompt_completion, alpaca, chat, sharegpt.")
    var format = "auto"

    @Option(name: .customLong("map"), help: "Rename a key or column: FILE_KEY=FORMAT_KEY (e.g. question=prompt). Repeatable.")
    var mappings: [String] = []

    @Option(help: "How prompt/completion and alpaca become text: plain, alpaca, chat_template.")
    var promptFormat: PromptFormat = .plain

    @Option(help: "Which tokens train: completions or everything.")
    var trainOn: TrainOn = .completions

    @Option(help: "Maximum tokens per example.")
    var maxLength = 512

    @Option(help: "Over-long examples: keep_start, keep_end or drop.")
    var truncation: TruncationPolicy = .keepEnd

    @Flag(help: "Drop (and count) examples that cannot train instead of stopping with an error.")
    var dropUnusable = false

    func options() throws -> DataOptions {
        var o = DataOptions()
        o.format = format
        for m in mappings {
            let parts = m.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                throw ValidationError("--map expects FILE_KEY=FORMAT_KEY, got '\(m)'")
            }
            o.keyMap[parts[0]] = parts[1]
        }
        o.promptFormat = promptFormat
        o.trainOn = trainOn
        o.maxLength = maxLength
        o.truncation = truncation
        o.unusable = dropUnusable ? .dropAndCount : .error
        return o
    }

    func renderer(_ options: DataOptions) throws -> (ExampleRenderer, [String]) {
        let tok = try Tokenizer.load(path: tokenizer)
        var isDir: ObjCBool = false
        _ = FileManager.default.fileExists(atPath: tokenizer, isDirectory: &isDir)
        let folder = isDir.boolValue ? tokenizer : (tokenizer as NSString).deletingLastPathComponent
        let configPath = (folder as NSString).appendingPathComponent("tokenizer_config.json")
        let chat = try ChatTemplateConfig.loadIfPresent(folder: URL(fileURLWithPath: folder))
        let tokenizerFiles = [isDir.boolValue ? (folder as NSString).appendingPathComponent("tokenizer.json") : tokenizer]
            + (FileManager.default.fileExists(atPath: configPath) ? [configPath] : [])
        return (try ExampleRenderer(tokenizer: tok, chat: chat, options: options.renderOptions), tokenizerFiles)
    }
}

extension PromptFormat: ExpressibleByArgument {}
extension TrainOn: ExpressibleByArgument {}
extension TruncationPolicy: ExpressibleByArgument {}

struct DataInspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Counts, token lengths, truncation, supervised share, and examples with trained tokens marked."
    )

    @OptionGroup var data: DataArguments

    @Option(help: "How many examples to show.")
    var show = 3

    func run() throws {
        let options = try data.options()
        let (renderer, _) = try data.renderer(options)
        let prepared = try DataPipeline.prepare(files: data.files, renderer: renderer, options: options)
        let inspection = DataInspection(files: data.files, records: prepared.records, summary: prepared.summary,
                                        examples: prepared.examples, maxLength: options.maxLength, show: show)
        print(inspection.render(tokenizer: renderer.tokenizer, color: isatty(STDOUT_FILENO) != 0))
    }
}

struct DataPrepare: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prepare",
        abstract: "Tokenize into the content-addressed token cache (reused when nothing changed)."
    )

    @OptionGroup var data: DataArguments

    @Option(help: "Cache folder.")
    var cacheDir = "Checkpoints/cache"

    func run() throws {
        let options = try data.options()
        let (renderer, tokenizerFiles) = try data.renderer(options)
        let result = try DataPipeline.cached(files: data.files, tokenizerFiles: tokenizerFiles, renderer: renderer,
                                             options: options, cacheDirectory: cacheDir)
        print("\(result.reused ? "reused" : "wrote") \(result.cache.path): \(result.cache.count) examples, \(result.cache.tokenCount) tokens")
        if let s = result.summary, s.truncated + s.droppedTooLong + s.droppedUnsupervised > 0 {
            print("truncated \(s.truncated), dropped (too long) \(s.droppedTooLong), dropped (nothing supervised) \(s.droppedUnsupervised)")
        }
    }
}
