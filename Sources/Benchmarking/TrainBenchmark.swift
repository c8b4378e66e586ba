import Foundation
import Models
import Tensors
import Training
import TrainingData

/// `whittle bench train`: tokens/s of whole training updates (forward, backward, AdamW) and peak RSS, for full
/// fine-tuning and LoRA (r 8, alpha 16, all seven projections, as the PyTorch anchor's PEFT config) at sequence
/// 512, batch 1 and 4, on random-init models of the SmolLM2-135M and stories15M shapes — the rows of
/// `../shared/bench/torch_anchor.py` (`--mode train|lora`), which supervises every position of random tokens too.
public enum TrainBenchmark {
    public struct Row: Codable, Sendable {
        public var model: String
        public var mode: String
        public var batch: Int
        public var threads: Int
        public var trainableParameters: Int
        /// Median over the timed updates of batch × 512 / seconds per update.
        public var tokensPerSecond: Double
        public var updateSecondsMedian: Double
        public var peakRSSMegabytes: Double

        /// The row as the table line `whittle bench train` prints.
        public var summary: String {
            String(format: "%@ %@ b%d t=%d: %.1f tokens/s (%.2f s/update), peak RSS %.0f MB", model, mode, batch, threads,
                   tokensPerSecond, updateSecondsMedian, peakRSSMegabytes)
        }
    }

    public struct Report: Codable, Sendable {
        public var benchmark = "train"
        public var whittleVersion: String
        public var sequence: Int
        public var rows: [Row]

        public init(whittleVersion: String, sequence: Int, rows: [Row]) {
            self.whittleVersion = whittleVersion
            self.sequence = sequence
            self.rows = rows
        }
    }

    public static func run(models: [String], modes: [String], batches: [Int], threadCounts: [Int], steps: Int,
                           sequence: Int = 512, version: String, progress: (String) -> Void = { _ in }) throws -> Report {
        var rows: [Row] = []
        for name in models {
            let config = name == "stories15m" ? InferBenchmark.stories15M() : InferBenchmark.smolLM2_135M()
            for mode in modes {
                for batch in batches {
                    for t in threadCounts {
                        Threading.configure(threads: t)
                        InferBenchmark.resetPeakRSS()
                        let row = try measure(config: config, name: name, mode: mode, batch: batch, threads: t,
                                              steps: steps, sequence: sequence)
                        progress(row.summary)
                        rows.append(row)
                    }
                }
            }
        }
        return Report(whittleVersion: version, sequence: sequence, rows: rows)
    }

    static func measure(config: ModelConfig, name: String, mode: String, batch: Int, threads: Int, steps: Int,
                        sequence: Int) throws -> Row {
        var params = try InferBenchmark.randomModel(config, seed: 1).parameters
        var rng = RandomGenerator(seed: 3)
        let examples = (0..<(batch * (steps + 1))).map { i in
            TokenizedExample(tokens: (0..<sequence).map { _ in Int32(3 + rng.next() % UInt64(config.vocabSize - 3)) },
                             trained: [false] + [Bool](repeating: true, count: sequence - 1), file: "random", line: i + 1)
        }
        var options = TrainingOptions()
        options.maxSteps = steps + 1
        options.batchSize = batch
        options.layout = .pad
        options.shuffle = false
        options.learningRate = 1e-4
        options.maxGradNorm = 0
        options.schedule = .constant
        var trainable: [String: Tensor]
        var lora: LoRASpec?
        if mode == "lora" {
            let spec = LoRASpec(rank: 8, alpha: 16, targetModules: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])
            trainable = spec.initialParameters(config: config, rng: &rng)
            lora = spec
        } else {
            trainable = params
            params = [:]
        }
        let count = trainable.values.reduce(0) { $0 + $1.count }
        let spec = lora
        var trainer = try Trainer(options: options, frozen: params, trainable: trainable, train: examples, validation: [],
                                  maxLength: sequence, padID: 0) { p in
            try makeLanguageModel(config: config, parameters: p, lora: spec)
        }
        params = [:]
        trainable = [:]
        _ = try trainer.step()   // warm-up: allocates the optimizer moments
        var times: [Double] = []
        while !trainer.isFinished {
            let t0 = now()
            _ = try trainer.step()
            times.append(now() - t0)
        }
        let med = median(times)
        return Row(model: name, mode: mode == "lora" ? "lora" : "full", batch: batch, threads: threads, trainableParameters: count,
                   tokensPerSecond: Double(batch * sequence) / med, updateSecondsMedian: med,
                   peakRSSMegabytes: InferBenchmark.peakRSSMegabytes())
    }
}
