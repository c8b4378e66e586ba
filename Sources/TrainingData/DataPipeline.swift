import FileSupport
import Foundation
import Tokenization

/// The data section of a recipe: how files become training sequences. Codable and strict (see FineTuning's
/// StrictConfig); "unset" values are explicit (`format: auto`).
public struct DataOptions: Codable, Sendable, Equatable {
    /// Training files (JSONL, JSON array, CSV or TSV), read in order.
    public var train: [String] = []
    /// Validation files; when empty, `valid_ratio` of the training examples is held out instead.
    public var valid: [String] = []
    /// Test files (evaluation after training); when empty, `test_ratio` of the training examples is held out.
    public var test: [String] = []
    public var validRatio: Double = 0
    public var testRatio: Double = 0
    /// Seed of the shuffle that makes ratio splits (fixed, so a resumed run gets the same split).
    public var splitSeed: UInt64 = 0
    /// A record format name, or "auto" to detect it from each record's keys.
    public var format: String = "auto"
    /// File key (or CSV column) → format key, e.g. {question: prompt, answer: completion}.
    public var keyMap: [String: String] = [:]
    public var promptFormat: PromptFormat = .plain
    public var trainOn: TrainOn = .completions
    public var appendEos: Bool = true
    public var maxLength: Int = 512
    public var truncation: TruncationPolicy = .keepEnd
    /// What to do with an example that cannot train: "error" (default) or "drop_and_count".
    public var unusable: UnusableExamplePolicy = .error

    public init() {}

    public func recordOptions() throws(DataError) -> RecordOptions {
        if format == "auto" { return RecordOptions(format: nil, keyMap: keyMap) }
        guard let f = RecordFormat(rawValue: format) else {
            throw DataError(.unknownFormat, file: "data.format", "unknown format \"\(format)\"; expected auto, "
                            + RecordFormat.allCases.map(\.rawValue).joined(separator: ", "))
        }
        return RecordOptions(format: f, keyMap: keyMap)
    }

    public var renderOptions: RenderOptions {
        RenderOptions(promptFormat: promptFormat, trainOn: trainOn, appendEOS: appendEos)
    }
}

/// Files → records → examples → tokens and masks → length policy, streaming one record at a time.
public enum DataPipeline {
    /// Streams every record of `files` through conversion, rendering and the length policy, one at a time, handing
    /// each kept example to `each`. Memory stays bounded by one record (a 1 GB JSONL does not need 1 GB).
    public static func stream(files: [String], renderer: ExampleRenderer, options: DataOptions,
                              each: (TokenizedExample) throws -> Void) throws -> (summary: PreparationSummary, records: Int) {
        let recordOptions = try options.recordOptions()
        var summary = PreparationSummary()
        var records = 0
        for file in files {
            var reader = try RecordReader(path: file)
            while let r = reader.next() {
                records += 1
                let rendered = try renderer.render(try RecordConverter.convert(r, options: recordOptions))
                if let kept = try SequencePreparation.prepareOne(rendered, maxLength: options.maxLength, truncation: options.truncation,
                                                                 unusable: options.unusable, summary: &summary) {
                    try each(kept)
                }
            }
            if let e = reader.error { throw e }
        }
        return (summary, records)
    }

    /// All prepared examples in memory (small data, inspection, tests).
    public static func prepare(files: [String], renderer: ExampleRenderer, options: DataOptions) throws
        -> (examples: [TokenizedExample], summary: PreparationSummary, records: Int) {
        var examples: [TokenizedExample] = []
        let (summary, records) = try stream(files: files, renderer: renderer, options: options) { examples.append($0) }
        return (examples, summary, records)
    }

    /// The token cache key: data bytes, tokenizer files, template and every setting that changes the tokens.
    public static func cacheKey(files: [String], tokenizerFiles: [String], template: String, options: DataOptions) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var tokenSettings = options
        tokenSettings.train = []; tokenSettings.valid = []; tokenSettings.test = []   // the files are keyed by content
        tokenSettings.validRatio = 0; tokenSettings.testRatio = 0; tokenSettings.splitSeed = 0
        let settings = String(decoding: try encoder.encode(tokenSettings), as: UTF8.self) + " cache-v1"
        return try TokenCache.key(dataFiles: files, tokenizerFiles: tokenizerFiles, template: template, settings: settings)
    }

    /// Loads the prepared examples from the cache when it matches, or prepares and writes them.
    public static func cached(files: [String], tokenizerFiles: [String], renderer: ExampleRenderer, options: DataOptions,
                              cacheDirectory: String) throws -> (cache: TokenCache, reused: Bool, summary: PreparationSummary?) {
        let template = renderer.chat?.templates.map(\.source).joined(separator: "\u{0}") ?? ""
        let key = try cacheKey(files: files, tokenizerFiles: tokenizerFiles, template: template, options: options)
        try FileManager.default.createDirectory(atPath: cacheDirectory, withIntermediateDirectories: true)
        let path = (cacheDirectory as NSString).appendingPathComponent(SHA256.hex(key).prefix(32) + ".wtc")
        if let existing = TokenCache.open(path: path, key: key) { return (existing, true, nil) }
        let writer = try TokenCache.Writer(path: path, key: key)
        let (summary, _) = try stream(files: files, renderer: renderer, options: options) { try writer.append($0) }
        return (try writer.finish(), false, summary)
    }
}
