import ArgumentParser
import Benchmarking
import TrainingData
import Foundation

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure Whittle's speed (build with -c release).",
        subcommands: [BenchGEMM.self, BenchKernels.self, BenchTokenize.self, BenchInfer.self, BenchTrain.self, BenchData.self]
    )
}

/// Options every benchmark shares.
struct BenchOptions: ParsableArguments {
    @Flag(help: "Print one JSON document instead of a table.")
    var json = false

    @Option(help: "Thread counts to measure, comma-separated (the host may squeeze 2 vCPUs onto one core: report both).")
    var threads: String = "1,2"

    func threadCounts() throws -> [Int] {
        let counts = threads.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !counts.isEmpty, counts.allSatisfy({ ($0 ?? 0) >= 1 }) else {
            throw ValidationError("--threads must be positive integers separated by commas, got '\(threads)'")
        }
        return counts.map { $0! }
    }
}

struct BenchGEMM: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gemm",
        abstract: "GFLOP/s of Whittle's GEMM path beside the same cblas_sgemm calls from C, interleaved.",
        discussion: """
        Shapes: square 1024 and the products of a SmolLM2-135M-sized model at 512 tokens, each as A·B, A·Bᵀ
        and Aᵀ·B. GFLOP/s are medians over all timed calls; 'ratio' is Swift ÷ C speed, the median of
        per-round ratios (each round times both back to back), 1.00 = no overhead. At more than one thread the
        C calls use OpenBLAS's own threading and Whittle's path splits the product over its pool.
        """
    )

    @OptionGroup var options: BenchOptions

    @Option(help: "Timed rounds per shape (each round: Swift calls then C calls, order alternating).")
    var rounds = 9

    @Flag(help: "Fewer, shorter rounds (a smoke run, not a measurement).")
    var quick = false

    func run() throws {
        let counts = try options.threadCounts()
        let json = options.json
        let report = GEMMBenchmark.run(
            threadCounts: counts, rounds: quick ? 2 : rounds, secondsPerRound: quick ? 0.05 : 0.12,
            version: WhittleVersion.string,
            progress: { line in if !json { FileHandle.standardError.write(Data((line + "\n").utf8)) } })
        if json {
            print(try JSONOutput.encode(report))
        } else {
            print(GEMMTable.render(report))
        }
    }
}

enum JSONOutput {
    static func encode<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }
}

enum GEMMTable {
    static func render(_ r: GEMMBenchmark.Report) -> String {
        var out: [String] = []
        for m in r.machine {
            out.append(String(format: "machine: %@, %d thread(s): clock %.2f GHz, %.0f FLOP/cycle, peak %.0f GFLOP/s (FMA measured %.0f)",
                              m.cpu, m.threads, m.clockGHz, m.flopsPerCycle, m.theoreticalPeakGFLOPS, m.measuredFMAGFLOPS))
        }
        if let m = r.machine.first { out.append("OpenBLAS: \(m.blasCore) — \(m.blasConfig)") }
        out.append("")
        out.append(pad("product", 34) + pad("form", 7) + lpad("thr", 4) + lpad("Swift GF/s", 12) + lpad("C GF/s", 10)
                   + lpad("ratio", 8) + lpad("% peak", 8))
        for row in r.rows {
            out.append(pad(row.name, 34) + pad(row.form, 7) + lpad("\(row.threads)", 4)
                       + lpad(String(format: "%.1f", row.swiftGFLOPS), 12) + lpad(String(format: "%.1f", row.cGFLOPS), 10)
                       + lpad(String(format: "%.3f", row.ratio), 8) + lpad(String(format: "%.0f%%", row.fractionOfPeak * 100), 8))
        }
        let ratios = r.rows.map(\.ratio).sorted()
        if !ratios.isEmpty {
            out.append("")
            out.append(String(format: "Swift ÷ C: median %.3f, min %.3f, max %.3f over %d rows",
                              ratios[ratios.count / 2], ratios.first!, ratios.last!, ratios.count))
        }
        for m in r.machineAfter {
            out.append(String(format: "after: %d thread(s) clock %.2f GHz", m.threads, m.clockGHz))
        }
        out.append("host mode: \(r.hostMode)" + (r.hostMode == "slow" ? " (vCPUs time-sliced: only 1-thread rows are a fair comparison)" : ""))
        return out.joined(separator: "\n")
    }

    private static func pad(_ s: String, _ w: Int) -> String { s.count >= w ? s + " " : s + String(repeating: " ", count: w - s.count) }
    private static func lpad(_ s: String, _ w: Int) -> String { s.count >= w ? " " + s : String(repeating: " ", count: w - s.count) + s }
}

struct BenchKernels: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kernels",
        abstract: "Throughput of Whittle's own vectorized kernels (elementwise, softmax, reductions, bf16/f16)."
    )

    @OptionGroup var options: BenchOptions

    @Option(help: "Elements per call (4M floats = 16 MB, beyond the caches).")
    var elements = 1 << 22

    func run() throws {
        let report = KernelBenchmark.run(threadCounts: try options.threadCounts(), elements: elements,
                                         version: WhittleVersion.string)
        if options.json {
            print(try JSONOutput.encode(report))
            return
        }
        print("kernel                        thr   median µs      GB/s   Gelem/s")
        for r in report.rows {
            let name = r.kernel.padding(toLength: 28, withPad: " ", startingAt: 0)
            print(name + String(format: " %4d %11.1f %9.2f %9.3f", r.threads, r.medianMicroseconds,
                                r.gigabytesPerSecond, r.gigaElementsPerSecond))
        }
    }
}

struct BenchInfer: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "infer",
        abstract: "Prefill and decode tokens/s and peak RSS of random-init SmolLM2-135M- and stories15M-shaped models.",
        discussion: "Run the PyTorch anchor (../shared/bench/run_anchor.sh infer) beside it; report 1- and 2-thread figures."
    )

    @OptionGroup var options: BenchOptions

    @Option(help: "Models, comma-separated: smollm2-135m, stories15m.")
    var models = "smollm2-135m,stories15m"

    @Option(help: "How the matrices are held, comma-separated: f32, bf16, f16 (16-bit: norms stay f32; the bound counts 2 bytes per matrix weight).")
    var weights = "f32"

    @Flag(help: .hidden)
    var inProcess = false

    func validate() throws {
        for w in weights.split(separator: ",") where !["f32", "bf16", "f16"].contains(String(w)) {
            throw ValidationError("--weights: '\(w)' is not one of f32, bf16, f16")
        }
    }

    func run() throws {
        let json = options.json
        let modelList = models.split(separator: ",").map(String.init), threadList = try options.threadCounts()
        let weightList = weights.split(separator: ",").map(String.init)
        let progress: (String) -> Void = { line in if !json { print(line) } }
        var report: InferBenchmark.Report
        if inProcess || modelList.count * threadList.count * weightList.count == 1 {
            report = try InferBenchmark.run(threadCounts: threadList, models: modelList, weights: weightList,
                                            version: WhittleVersion.string, progress: progress)
        } else {
            // Each row in a fresh process, so that its peak RSS is its own.
            report = InferBenchmark.Report(whittleVersion: WhittleVersion.string, readBandwidthGBps: [:], rows: [])
            for m in modelList { for w in weightList { for t in threadList {
                let one: InferBenchmark.Report = try runBenchRow(
                    ["bench", "infer", "--json", "--in-process", "--models", m, "--weights", w, "--threads", "\(t)"])
                for row in one.rows { progress(row.summary) }
                report.rows += one.rows
                report.readBandwidthGBps.merge(one.readBandwidthGBps) { a, _ in a }
            } } }
        }
        if json { print(try JSONOutput.encode(report)) }
    }
}

struct BenchTrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Training tokens/s and peak RSS: full fine-tuning and LoRA r 8 at sequence 512, batch 1 and 4.",
        discussion: """
        Random-init SmolLM2-135M- and stories15M-shaped models, whole updates (forward, backward, AdamW). Run the \
        PyTorch anchor (../shared/bench/run_anchor.sh train) beside it, interleaved; report 1- and 2-thread figures.
        """
    )

    @OptionGroup var options: BenchOptions

    @Option(help: "Models, comma-separated: smollm2-135m, stories15m.")
    var models = "smollm2-135m,stories15m"

    @Option(help: "Modes, comma-separated: full, lora.")
    var modes = "full,lora"

    @Option(help: "Batch sizes, comma-separated.")
    var batches = "1,4"

    @Option(help: "Timed updates per row (after one warm-up update).")
    var steps = 3

    @Flag(help: .hidden)
    var inProcess = false

    func run() throws {
        let json = options.json
        let modelList = models.split(separator: ",").map(String.init), modeList = modes.split(separator: ",").map(String.init)
        let batchList = batches.split(separator: ",").compactMap { Int($0) }, threadList = try options.threadCounts()
        let progress: (String) -> Void = { line in if !json { print(line) } }
        var report: TrainBenchmark.Report
        if inProcess || modelList.count * modeList.count * batchList.count * threadList.count == 1 {
            report = try TrainBenchmark.run(models: modelList, modes: modeList, batches: batchList, threadCounts: threadList,
                                            steps: steps, version: WhittleVersion.string, progress: progress)
        } else {
            // Each row in a fresh process: peak RSS is then the row's own, not what earlier rows left in the heap.
            report = TrainBenchmark.Report(whittleVersion: WhittleVersion.string, sequence: 512, rows: [])
            for m in modelList { for mode in modeList { for b in batchList { for t in threadList {
                let one: TrainBenchmark.Report = try runBenchRow(
                    ["bench", "train", "--json", "--in-process", "--models", m, "--modes", mode, "--batches", "\(b)",
                     "--threads", "\(t)", "--steps", "\(steps)"])
                for row in one.rows { progress(row.summary) }
                report.rows += one.rows
            } } } }
        }
        if json { print(try JSONOutput.encode(report)) }
    }
}

/// Runs this executable with `arguments` and decodes the JSON document it prints.
func runBenchRow<T: Decodable>(_ arguments: [String]) throws -> T {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/proc/self/exe")
    process.arguments = arguments
    let out = Pipe()
    process.standardOutput = out
    try process.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw ValidationError("benchmark row `whittle \(arguments.joined(separator: " "))` exited with status \(process.terminationStatus)")
    }
    return try JSONDecoder().decode(T.self, from: data)
}

struct BenchData: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data",
        abstract: "Records/s and tokens/s of the data pipeline on a file, beside the tokenizer alone (one thread).",
        discussion: "Example: whittle bench data --tokenizer ../shared/assets/tokenizers/gpt2 --file ../shared/assets/datasets/gsm8k/train.jsonl --map question=prompt --map answer=completion"
    )

    @Option(help: "Tokenizer folder or file.") var tokenizer: String
    @Option(help: "Data file.") var file: String
    @Option(name: .customLong("map"), help: "FILE_KEY=FORMAT_KEY (repeatable).") var mappings: [String] = []
    @Option(help: "Record format (auto, text, prompt_completion, alpaca, chat, sharegpt).") var format = "auto"
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        var options = DataOptions()
        options.format = format
        options.maxLength = 1 << 20
        for m in mappings {
            let parts = m.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { throw ValidationError("--map expects FILE_KEY=FORMAT_KEY, got '\(m)'") }
            options.keyMap[parts[0]] = parts[1]
        }
        let r = try DataBenchmark.run(file: file, tokenizer: tokenizer, options: options, version: WhittleVersion.string)
        if json { print(try JSONOutput.encode(r)); return }
        print(String(format: "%@: %d records, %d tokens in %.3f s: %.0f records/s, %.2f M tokens/s; tokenizer alone %.3f s (pipeline ÷ tokenizer %.2f)",
                     r.file, r.records, r.tokens, r.pipelineSeconds, r.recordsPerSecond, r.tokensPerSecond / 1e6, r.tokenizerOnlySeconds, r.overhead))
    }
}
