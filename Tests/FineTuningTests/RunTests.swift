import Evaluation
import FineTuning
import Foundation
import ModelFormats
import Models
import Tensors
import TestSupport
import Testing

/// `whittle train` end to end on the real stories260K model (imported from ../shared/assets) and 64 GSM8K records:
/// the run folder's files, a resume from the files of a checkpoint that equals the uninterrupted run bit for bit,
/// and the adapter written in PEFT layout. The recipe also trains the (tied) embedding matrix in full
/// (`modules_to_save`), so the saved module goes through the same state, resume, adapter and report paths.
@Suite(.serialized) struct RunTests {
    let root: String

    init() throws {
        root = NSTemporaryDirectory() + "whittle-run-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    }

    func prepare() throws -> String {
        _ = try Llama2C.importFolder(model: try sharedAsset("models/stories260K/stories260K.bin"),
                                     tokenizer: try sharedAsset("models/stories260K/tok512.bin"), out: root + "/model")
        let lines = try String(contentsOfFile: try sharedAsset("datasets/gsm8k/test.jsonl"), encoding: .utf8)
            .split(separator: "\n").prefix(64)
        try (lines.joined(separator: "\n") + "\n").write(toFile: root + "/data.jsonl", atomically: true, encoding: .utf8)
        let recipe = """
        # test recipe
        model: {path: \(root)/model}
        data:
          train: [\(root)/data.jsonl]
          valid_ratio: 0.125
          key_map: {question: prompt, answer: completion}
          max_length: 128
        tuning: {method: lora, r: 4, alpha: 8, dropout: 0.1, modules_to_save: [embed_tokens]}
        training: {max_steps: 6, batch_size: 4, learning_rate: 0.003, eval_every: 3, save_every: 3, keep_checkpoints: 5, seed: 3}
        output: {dir: \(root)/runs, name: a}
        """
        try recipe.write(toFile: root + "/recipe.yaml", atomically: true, encoding: .utf8)
        return root + "/recipe.yaml"
    }

    func options(recipe: String = "", resume: String? = nil) -> FineTuneRun.Options {
        FineTuneRun.Options(recipePath: recipe, resume: resume, commandLine: "whittle train (test)", version: "test",
                            live: false, cacheDirectory: root + "/cache")
    }

    func file(_ path: String) -> Data { FileManager.default.contents(atPath: path) ?? Data() }

    func losses(_ metricsPath: String) throws -> [String] {
        try String(contentsOfFile: metricsPath, encoding: .utf8).split(separator: "\n").map { line in
            // Everything but the timing fields, which differ between runs.
            String(line).replacingOccurrences(of: #","tokens_per_s":[^,}]*|,"elapsed_s":[^,}]*"#, with: "", options: .regularExpression)
        }
    }

    @Test func runFolderResumeAndAdapter() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let recipe = try prepare()
        var printed = ""
        let a = try FineTuneRun.run(options(recipe: recipe)) { printed += $0 }
        let runA = root + "/runs/a"
        #expect(a.ending == .finished && a.steps == 6 && a.runFolder == runA)
        for name in ["recipe.resolved.yaml", "command.txt", "run.json", "metrics.jsonl", "state/step-000003/progress.json",
                     "state/step-000006/trainable.safetensors", "adapter/adapter_config.json", "best/adapter_model.safetensors",
                     "last/adapter_model.safetensors"] {
            #expect(FileManager.default.fileExists(atPath: runA + "/" + name), "missing \(name)")
        }
        #expect(printed.contains("pre-flight:") && printed.contains("validation before training"), "\(printed)")
        let metricLines = try losses(runA + "/metrics.jsonl")
        #expect(metricLines.count == 1 + 6 + 2, "step-0 validation, 6 updates, 2 validations: \(metricLines)")
        #expect(a.firstValidationLoss != nil && a.bestValidationLoss != nil)

        // The adapter in last/ is the trained state, in PEFT layout.
        let config = try HFConfig.read(path: root + "/model/config.json")
        let adapter = try PEFTAdapter.read(from: runA + "/last", config: config)
        let state = try SafetensorsFile(path: runA + "/state/step-000006/trainable.safetensors")
        #expect(config.tieWordEmbeddings && adapter.modulesToSave == ["embed_tokens"])
        #expect(Set(adapter.savedModules.keys) == ["model.embed_tokens.weight"])
        #expect(Set(adapter.tensors.keys).union(adapter.savedModules.keys) == Set(state.names))
        for name in state.names {
            let written = adapter.tensors[name] ?? adapter.savedModules[name]!
            #expect(written.withUnsafeBufferPointer { Array($0) } == (try state.tensor(name)).withUnsafeBufferPointer { Array($0) })
        }
        let base = try HFFolder.readParameters(folder: root + "/model", config: config)
        #expect(adapter.savedModules["model.embed_tokens.weight"]!.scalars != base["model.embed_tokens.weight"]!.scalars,
                "the embedding matrix was trained")

        // Stop at update 3 (as Ctrl-C would leave it): resuming from the files gives the same bits as the run above.
        let runB = root + "/runs/b"
        try FileManager.default.copyItem(atPath: runA, toPath: runB)
        for gone in ["state/step-000006", "adapter", "best", "last"] { try FileManager.default.removeItem(atPath: runB + "/" + gone) }
        var printedB = ""
        let b = try FineTuneRun.run(options(resume: runB)) { printedB += $0 }
        #expect(b.ending == .finished && b.steps == 6)
        #expect(printedB.contains("resumed from") && !printedB.contains("note: this run started"), "\(printedB)")
        #expect(file(runB + "/state/step-000006/trainable.safetensors") == file(runA + "/state/step-000006/trainable.safetensors"))
        #expect(file(runB + "/state/step-000006/optimizer.safetensors") == file(runA + "/state/step-000006/optimizer.safetensors"))
        #expect(try losses(runB + "/metrics.jsonl") == metricLines)

        // A second run into the same folder is refused (nothing is overwritten).
        do {
            _ = try FineTuneRun.run(options(recipe: recipe)) { _ in }
            Issue.record("an existing run folder must not be reused")
        } catch let e as RunError {
            #expect(e.message.contains("--resume"), "\(e.message)")
        }
    }

    /// A recipe with an `evaluation` section ends with the report in the run folder: base against the adapter on the
    /// named data, with the run's curves.
    /// run.json records the thread count and OpenBLAS kernels; resuming with others gives a note naming both (and
    /// how to match them), resuming with the same or from a run.json that does not say gives none.
    @Test func resumeNotesADifferentThreadCountOrKernelFamily() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let path = root + "/run.json"
        func note(_ json: String) throws -> String? {
            try json.write(toFile: path, atomically: true, encoding: .utf8)
            return FineTuneRun.resumeDifference(runFolder: root)
        }
        let threads = Threading.threadCount, core = BLASKernels.core
        #expect(try note("{\"threads\": \(threads), \"blas_kernels\": \"\(core)\"}") == nil)
        #expect(try note("{\"whittle_version\": \"0.1\"}") == nil)
        let both = try note("{\"threads\": \(threads + 1), \"blas_kernels\": \"Prescott\"}")
        #expect(both?.contains("\(threads + 1) threads, now \(threads) (WHITTLE_THREADS=\(threads + 1) to match)") == true, "\(both ?? "nil")")
        #expect(both?.contains("OpenBLAS Prescott kernels, now \(core) (OPENBLAS_CORETYPE=Prescott to match)") == true, "\(both ?? "nil")")
    }

    @Test func trainingEndsWithTheEvaluationReport() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        var recipe = try String(contentsOfFile: try prepare(), encoding: .utf8)
        recipe = recipe.replacingOccurrences(of: "output: {dir: \(root)/runs, name: a}", with: """
            output: {dir: \(root)/runs, name: e}
            evaluation: {data: \(root)/data.jsonl, metrics: [numeric, token_f1], limit: 4, max_new_tokens: 8, samples: 2, resamples: 200}
            """)
        try recipe.write(toFile: root + "/eval.yaml", atomically: true, encoding: .utf8)
        var printed: [String] = []
        let summary = try FineTuneRun.run(options(recipe: root + "/eval.yaml")) { printed.append($0) }
        let folder = try #require(summary.reportFolder)
        #expect(folder == root + "/runs/e/report")
        let report = try ReportWriter.read(path: folder + "/report.json")
        #expect(report.models.map(\.name) == ["base", "adapter"] && report.examples.count == 4)
        #expect(report.metricNames == ["numeric", "token_f1"] && report.comparisons.count == 3)
        #expect(report.training?.steps.count == 6 && report.training?.validSteps == [0, 3, 6])
        #expect(report.provenance.runFolder == root + "/runs/e" && report.provenance.recipe?.contains("evaluation:") == true)
        for name in ["report.md", "report.html"] { #expect(FileManager.default.fileExists(atPath: folder + "/" + name)) }
        let text = printed.joined(separator: "\n")
        #expect(report.comparisons.allSatisfy { text.contains($0.sentence) } && text.contains("report.html"), "\(text)")
    }
}
