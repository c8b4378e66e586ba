import Foundation
import Tokenization
import TrainingData

/// `whittle bench data`: records/s and tokens/s of the whole data pipeline (read, convert, render with masks,
/// length policy) on a file, beside the tokenizer alone on the same texts, so the pipeline's own cost shows.
public enum DataBenchmark {
    public struct Report: Codable, Sendable {
        public var benchmark = "data"
        public var whittleVersion: String
        public var file: String
        public var records: Int
        public var tokens: Int
        public var pipelineSeconds: Double
        public var recordsPerSecond: Double
        public var tokensPerSecond: Double
        /// Encoding the same prompt and completion texts with the tokenizer alone (no reading, rendering or masks).
        public var tokenizerOnlySeconds: Double
        /// pipeline ÷ tokenizer-only time: 1.0 = the pipeline costs nothing beyond tokenization.
        public var overhead: Double
    }

    public static func run(file: String, tokenizer: String, options: DataOptions, passes: Int = 3, version: String) throws -> Report {
        let tok = try Tokenizer.load(path: tokenizer)
        let renderer = try ExampleRenderer(tokenizer: tok, options: options.renderOptions)
        // The texts the pipeline tokenizes, for the tokenizer-only baseline.
        let examples = try RecordConverter.readExamples(path: file, options: try options.recordOptions())
        let texts: [String] = examples.flatMap { e -> [String] in
            switch e.example {
            case .text(let t): [t]
            case .promptCompletion(let p, let c): [p, c]
            case .alpaca(let i, let inp, let o): [i, inp, o]
            case .chat(let turns, _): turns.map(\.content)
            }
        }
        var best = Double.infinity, records = 0, tokens = 0
        for _ in 0..<passes {
            let t0 = now()
            var count = 0
            let (_, r) = try DataPipeline.stream(files: [file], renderer: renderer, options: options) { count += $0.tokens.count }
            best = min(best, now() - t0)
            records = r
            tokens = count
        }
        var bestTok = Double.infinity
        for _ in 0..<passes {
            let t0 = now()
            var n = 0
            for t in texts { n += tok.encode32(t, addSpecialTokens: false).count }
            bestTok = min(bestTok, now() - t0)
            if n < 0 { print(n) }
        }
        return Report(whittleVersion: version, file: file, records: records, tokens: tokens, pipelineSeconds: best,
                      recordsPerSecond: Double(records) / best, tokensPerSecond: Double(tokens) / best,
                      tokenizerOnlySeconds: bestTok, overhead: best / bestTok)
    }
}
