import Foundation
import Testing
import TestSupport
import Tokenization
import TrainingData

@Suite struct PipelineTests {
    func gpt2Renderer(_ options: DataOptions) throws -> ExampleRenderer {
        try ExampleRenderer(tokenizer: try Tokenizer.load(path: try sharedAsset("tokenizers/gpt2")), options: options.renderOptions)
    }

    @Test func gsm8kPreparedInspectedAndCached() throws {
        var options = DataOptions()
        options.keyMap = ["question": "prompt", "answer": "completion"]
        options.maxLength = 160
        let file = try sharedAsset("datasets/gsm8k/test.jsonl")
        let renderer = try gpt2Renderer(options)
        let prepared = try DataPipeline.prepare(files: [file], renderer: renderer, options: options)
        let lines = try nonBlankLines(file).count
        #expect(prepared.records == lines)
        #expect(prepared.examples.count == prepared.records)
        #expect(prepared.summary.truncated > 0 && prepared.examples.allSatisfy { $0.tokens.count <= 160 && $0.supervisedCount > 0 })
        // keep_end keeps each answer's end: the "#### n" line and EOS survive truncation.
        let eos = Int32(renderer.tokenizer.specialTokens.eosID!)
        #expect(prepared.examples.allSatisfy { $0.tokens.last == eos && $0.trained.last == true })

        let inspection = DataInspection(files: [file], records: prepared.records, summary: prepared.summary,
                                        examples: prepared.examples, maxLength: 160, show: 2)
        #expect(inspection.percentile(50) <= inspection.percentile(90) && inspection.percentile(100) == 160)
        let text = inspection.render(tokenizer: renderer.tokenizer, color: false)
        #expect(text.contains("records \(prepared.records)") && text.contains("⟦") && text.contains("#### "))

        // The cache is written once and reused while nothing changes; other settings make another cache.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pipe-\(UUID())").path
        let tokenizerFiles = [try sharedAsset("tokenizers/gpt2/tokenizer.json")]
        let first = try DataPipeline.cached(files: [file], tokenizerFiles: tokenizerFiles, renderer: renderer, options: options, cacheDirectory: dir)
        let second = try DataPipeline.cached(files: [file], tokenizerFiles: tokenizerFiles, renderer: renderer, options: options, cacheDirectory: dir)
        #expect(!first.reused && second.reused && second.cache.examples == prepared.examples)
        options.maxLength = 200
        let third = try DataPipeline.cached(files: [file], tokenizerFiles: tokenizerFiles, renderer: try gpt2Renderer(options),
                                            options: options, cacheDirectory: dir)
        #expect(!third.reused && third.cache.path != first.cache.path)
    }

    @Test func recipeFormatNamesAreChecked() throws {
        var options = DataOptions()
        options.format = "sharegtp"
        #expect { try options.recordOptions() } throws: { ($0 as? DataError)?.message.contains("sharegpt") ?? false }
    }
}
