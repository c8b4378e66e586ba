import Foundation
import Models
import Tensors
import Training

/// The line printed before step 1: parameter counts, predicted peak memory and predicted time per update and per
/// epoch, and the refusal to start when the memory prediction exceeds what the machine has. `whittle train --dry-run`
/// (`TrainingPlan`) prints the same estimate from config.json alone.
public struct Preflight: Sendable {
    /// The machine's measured speeds the time prediction divides by.
    public struct Rates: Sendable, Equatable {
        /// Matrix-product speed from a short GEMM probe at the model's width, GFLOP/s.
        public var gemmGFLOPS: Double
        /// Element-wise speed from a row-softmax probe, billions of elements per second.
        public var elementwiseGelemPerSecond: Double

        public init(gemmGFLOPS: Double, elementwiseGelemPerSecond: Double) {
            self.gemmGFLOPS = gemmGFLOPS
            self.elementwiseGelemPerSecond = elementwiseGelemPerSecond
        }

        /// Both probes (~0.2 s) at `config`'s width and feed-forward width, on the threads training will use.
        public static func measure(for config: ModelConfig) -> Rates {
            // Sets up the thread pool first (WHITTLE_THREADS or every core) and OpenBLAS on one thread, as training
            // will: a GEMM before that runs at OpenBLAS's own default.
            _ = Threading.threadCount
            return Rates(gemmGFLOPS: probe(width: config.hiddenSize, ff: config.intermediateSize),
                  elementwiseGelemPerSecond: elementwiseProbe())
        }
    }

    public var totalParameters: Int
    public var trainableParameters: Int
    /// Predicted peak resident memory, bytes.
    public var predictedPeakBytes: Int
    /// Memory the machine has available now (MemAvailable), bytes; nil when unknown.
    public var availableBytes: Int?
    public var rates: Rates
    /// Positions one update processes (batch × max_length × accumulation; every row counted full).
    public var tokensPerUpdate: Int
    /// Predicted seconds per optimizer update.
    public var secondsPerUpdate: Double
    /// Updates per epoch, when the data were counted.
    public var updatesPerEpoch: Int?

    /// Matrix-product speed measured by the probe, GFLOP/s.
    public var probeGFLOPS: Double { rates.gemmGFLOPS }
    /// Predicted seconds per epoch (nil when the data were not counted).
    public var secondsPerEpoch: Double? { updatesPerEpoch.map { Double($0) * secondsPerUpdate } }

    /// Estimates from the model shape, the recipe and the measured `rates` (nil: run the ~0.2 s probes now).
    ///
    /// Memory: f32 weights, plus the gradients (every trainable value; with the optimizer in backward — no clipping,
    /// no accumulation — one layer's share plus the embedding when it trains), plus the optimizer's moments (two for
    /// AdamW, one for SGD with momentum), plus the activations one micro-batch keeps for backward (per token per layer:
    /// the residual stream twice and the attention output, rotated q and k and v, the MLP's gate and up outputs; norm
    /// outputs and the MLP hidden are recomputed, attention probabilities too, so only two [T, T] scratch buffers),
    /// plus one LM-head chunk and a fixed 80 MB for the program. SmolLM2-135M full fine-tuning at 512 tokens,
    /// batch 1, without clipping: 2.07 GB predicted, 2.08 GB measured (`whittle bench train`: peak RSS 2132 MB).
    /// Time: 6 FLOPs per weight per token for full fine-tuning (forward 2, backward 4), 4 for LoRA (no weight-gradient
    /// products on frozen weights), plus attention, at the GEMM probe's rate; plus the element-wise work (norms,
    /// rotations, activations, softmaxes over the attended keys and the vocabulary, forward and backward) at a softmax
    /// probe's rate. Without that second term tiny models were predicted ~2.5× too fast (the bundled 2M model: 20 s
    /// per epoch predicted, 50 s measured), as their time is mostly not GEMM. Every row counts as full (max_length
    /// tokens), as packing nearly makes it.
    public static func estimate(config: ModelConfig, trainable: Int, full: Bool, options: TrainingOptions, maxLength: Int,
                                updatesPerEpoch: Int?, rates measured: Rates? = nil) -> Preflight {
        let total = config.parameterShapes().reduce(0) { $0 + $1.shape.reduce(1, *) }
        let c = config.hiddenSize, f = config.intermediateSize, h = config.numHeads, k = config.numKVHeads, d = config.headDim
        let t = maxLength, tokens = options.batchSize * maxLength
        let perTokenLayer = 3 * c + (h + 2 * k) * d + 2 * f
        let activations = 4 * tokens * config.numLayers * perTokenLayer + 2 * 4 * t * t
        let moments = options.optimizer == .adamw ? 2 : (options.momentum > 0 ? 1 : 0)
        let inBackward = options.maxGradNorm == 0 && options.gradientAccumulation == 1
        let gradients = inBackward ? min(trainable, trainable / max(config.numLayers, 1) + (full ? config.vocabSize * c : 0))
                                   : trainable
        let head = 4 * 3 * 64 * config.vocabSize
        let peak = 4 * (total + gradients + moments * trainable) + activations + head + 80 << 20
        let rates = measured ?? Rates.measure(for: config)
        let matmulParams = Double(total - config.vocabSize * c * (config.tieWordEmbeddings ? 0 : 1))
        let perToken = (full ? 6 : 4) * matmulParams + Double(3 * 4 * config.numLayers * t * c)
        let elementwisePerToken = Double(config.numLayers * (24 * c + 12 * f + 4 * h * max(t / 2, 1)) + 4 * config.vocabSize)
        let perTokenSeconds = perToken / (rates.gemmGFLOPS * 1e9) + elementwisePerToken / (rates.elementwiseGelemPerSecond * 1e9)
        let tokensPerUpdate = options.gradientAccumulation * tokens
        return Preflight(totalParameters: total, trainableParameters: trainable, predictedPeakBytes: peak,
                         availableBytes: availableMemory(), rates: rates, tokensPerUpdate: tokensPerUpdate,
                         secondsPerUpdate: Double(tokensPerUpdate) * perTokenSeconds, updatesPerEpoch: updatesPerEpoch)
    }

    public var summary: String {
        let share = Double(trainableParameters) / Double(max(1, totalParameters)) * 100
        var s = "pre-flight: \(Self.count(totalParameters)) parameters, \(Self.count(trainableParameters)) trainable "
            + "(\(String(format: share < 1 ? "%.2f" : "%.1f", share))%); predicted peak memory \(Self.bytes(predictedPeakBytes))"
        if let a = availableBytes { s += " of \(Self.bytes(a)) available" }
        if let e = secondsPerEpoch {
            s += "; ~\(ProgressPrinter.duration(e)) per epoch"
        } else {
            s += "; ~\(ProgressPrinter.duration(secondsPerUpdate)) per update"
        }
        s += " (GEMM probe \(String(format: "%.0f", probeGFLOPS)) GFLOP/s)"
        return s
    }

    /// What is wrong when the prediction exceeds the available memory, with advice; nil when it fits (or the
    /// available memory is unknown).
    public var memoryProblem: String? {
        guard let a = availableBytes, predictedPeakBytes > a else { return nil }
        return "predicted peak memory \(Self.bytes(predictedPeakBytes)) exceeds the \(Self.bytes(a)) available. "
            + "Lower data.max_length, training.batch_size (raise training.gradient_accumulation to keep the "
            + "effective batch), or train fewer layers (tuning.layers, or tuning.method: lora)"
    }

    /// An error with advice when the prediction exceeds the available memory.
    public func checkMemory() throws {
        if let problem = memoryProblem { throw RunError(problem) }
    }

    static func probe(width c: Int, ff f: Int) -> Double {
        let m = 256, n = max(f, 64), k = max(c, 64)
        var a = Tensor(zeros: [m, k]), b = Tensor(zeros: [n, k])
        var rng = RandomGenerator(seed: 1)
        rng.fillUniform(&a, low: -1, high: 1)
        rng.fillUniform(&b, low: -1, high: 1)
        var best = 0.0
        let start = Date()
        var rounds = 0
        while rounds < 3 || (Date().timeIntervalSince(start) < 0.2 && rounds < 50) {
            let t0 = Date()
            _ = a.matmul(.normal, b, .transposed)
            let dt = Date().timeIntervalSince(t0)
            best = max(best, 2 * Double(m * n * k) / max(dt, 1e-9) / 1e9)
            rounds += 1
        }
        return best
    }

    /// Element-wise speed, Gelem/s: a row softmax (exp-bound, like most of a step's non-GEMM work) over 1 MB.
    static func elementwiseProbe() -> Double {
        let rows = 64, cols = 4096
        var x = Tensor(zeros: [rows, cols])
        var rng = RandomGenerator(seed: 2)
        rng.fillUniform(&x, low: -4, high: 4)
        var y = Tensor(zeros: [rows, cols])
        var best = 0.0
        x.withUnsafeBufferPointer { xp in
            y.withUnsafeMutableBufferPointer { yp in
                for _ in 0..<8 {
                    let t0 = Date()
                    Kernels.softmaxRows(xp.baseAddress!, into: yp.baseAddress!, rows: rows, cols: cols)
                    best = max(best, Double(rows * cols) / max(Date().timeIntervalSince(t0), 1e-9) / 1e9)
                }
            }
        }
        return max(best, 0.01)
    }

    static func availableMemory() -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("MemAvailable:") {
            let parts = line.split(separator: " ")
            if parts.count >= 2, let kb = Int(parts[1]) { return kb * 1024 }
        }
        return nil
    }

    static func count(_ n: Int) -> String {
        n >= 1_000_000 ? String(format: "%.1fM", Double(n) / 1e6) : n >= 1000 ? String(format: "%.1fK", Double(n) / 1e3) : "\(n)"
    }

    static func bytes(_ n: Int) -> String {
        n >= 1 << 30 ? String(format: "%.2f GB", Double(n) / Double(1 << 30)) : String(format: "%.0f MB", Double(n) / Double(1 << 20))
    }
}
