import Foundation
import Models
import Tensors

/// `whittle bench infer`: prefill tokens/s at 512 tokens, decode tokens/s (batch 1, 128 new tokens after a
/// 32-token prompt, KV cache) and peak RSS, for random-init models of the SmolLM2-135M and stories15M shapes, with
/// the machine's measured memory read bandwidth and the decode bound it implies (weight bytes per token ÷ bandwidth).
/// Weights are Float32, or bf16/f16 matrices (`weights`: norms stay Float32), as `--weights` holds them.
public enum InferBenchmark {
    public struct Row: Codable, Sendable {
        public var model: String
        /// How the matrices were held: f32, bf16 or f16.
        public var weights: String
        public var threads: Int
        public var parameters: Int
        /// Bytes of all weights in memory (4 per Float32 element, 2 per 16-bit one): what one decoded token reads.
        public var weightBytes: Int
        public var prefillTokensPerSecond: Double
        public var decodeTokensPerSecond: Double
        /// Decode speed if every token only streamed the weights (`weightBytes`) at the measured bandwidth.
        public var decodeBoundTokensPerSecond: Double
        public var fractionOfDecodeBound: Double
        public var peakRSSMegabytes: Double

        /// The row as the table line `whittle bench infer` prints.
        public var summary: String {
            String(format: "%@ %@ t=%d prefill %.0f tok/s, decode %.1f tok/s (bound %.1f), RSS %.0f MB", model, weights, threads,
                   prefillTokensPerSecond, decodeTokensPerSecond, decodeBoundTokensPerSecond, peakRSSMegabytes)
        }
    }

    public struct Report: Codable, Sendable {
        public var benchmark = "infer"
        public var whittleVersion: String
        public var readBandwidthGBps: [String: Double]
        public var rows: [Row]

        public init(whittleVersion: String, readBandwidthGBps: [String: Double], rows: [Row]) {
            self.whittleVersion = whittleVersion
            self.readBandwidthGBps = readBandwidthGBps
            self.rows = rows
        }
    }

    public static func smolLM2_135M() -> ModelConfig {
        ModelConfig(family: .llama, modelType: "llama", vocabSize: 49152, hiddenSize: 576, intermediateSize: 1536, numLayers: 30,
                    numHeads: 9, numKVHeads: 3, headDim: 64, maxPositionEmbeddings: 2048, normEps: 1e-5, ropeTheta: 100000,
                    tieWordEmbeddings: true)
    }

    public static func stories15M() -> ModelConfig {
        ModelConfig(family: .llama, modelType: "llama", vocabSize: 32000, hiddenSize: 288, intermediateSize: 768, numLayers: 6,
                    numHeads: 6, numKVHeads: 6, headDim: 48, maxPositionEmbeddings: 1024, normEps: 1e-5,
                    tieWordEmbeddings: true)
    }

    /// Random weights (normal(0, 0.02), unit norms). With `half`, every matrix is rounded to it as it is drawn, so no
    /// Float32 copy of the model ever exists (the peak RSS is the 16-bit model's); the draws are the same either way.
    public static func randomModel(_ config: ModelConfig, seed: UInt64, half: HalfKind? = nil) throws -> any TrainableModel {
        var rng = RandomGenerator(seed: seed)
        var params: [String: Tensor] = [:]
        var halves: [String: HalfMatrix] = [:]
        for (name, shape) in config.parameterShapes() {
            var t = Tensor(zeros: shape)
            if name.hasSuffix("norm.weight") || name.hasSuffix("layernorm.weight") {
                t = Tensor(repeating: 1, shape: shape)
            } else {
                rng.fillNormal(&t, mean: 0, std: 0.02)
            }
            if let half, shape.count == 2 {
                halves[name] = HalfMatrix(narrowing: t, kind: half)
            } else {
                params[name] = t
            }
        }
        return try makeLanguageModel(config: config, weights: ModelWeights(parameters: params, half: halves))
    }

    /// Read bandwidth (GB/s) of summing 1 GiB of floats on the pool's threads (far beyond the caches).
    public static func readBandwidth() -> Double {
        let n = 1 << 28
        var big = Tensor(repeating: 1, shape: [n])
        big.makeUnique()
        var best = Double.infinity
        big.withUnsafeBufferPointer { p in
            for _ in 0..<4 {
                let t0 = now()
                _ = Kernels.sum(p.baseAddress!, count: n)
                best = min(best, now() - t0)
            }
        }
        return Double(n * 4) / best / 1e9
    }

    /// Resets the kernel's peak-RSS mark (Linux `clear_refs` 5), so each model's peak is its own.
    static func resetPeakRSS() {
        try? "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8)
    }

    static func peakRSSMegabytes() -> Double {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }) else { return .nan }
        let kb = Double(line.split(separator: " ").compactMap { Double($0) }.first ?? .nan)
        return kb / 1024
    }

    /// `weights`: "f32", "bf16" or "f16" per row group (each model is run once per entry).
    public static func run(threadCounts: [Int], models: [String], weights: [String] = ["f32"], version: String,
                           progress: (String) -> Void = { _ in }) throws -> Report {
        let kinds: [(name: String, kind: HalfKind?)] = try weights.map { w in
            if w == "f32" { return (w, nil) }
            guard let k = HalfKind(rawValue: w) else {
                throw ModelError("--weights: '\(w)' is not one of f32, bf16, f16")
            }
            return (w, k)
        }
        var rows: [Row] = []
        var bandwidth: [String: Double] = [:]
        for t in threadCounts {
            Threading.configure(threads: t)
            bandwidth["\(t)"] = readBandwidth()
        }
        for name in models { for (weightName, kind) in kinds {
            let config = name == "stories15m" ? stories15M() : smolLM2_135M()
            let model = try randomModel(config, seed: 1, half: kind)
            // The peak from here on: running the model (a 16-bit model's draws pass through one Float32 matrix at a
            // time, freed before this point).
            resetPeakRSS()
            let paramCount = config.parameterShapes().reduce(0) { $0 + $1.shape.reduce(1, *) }
            let weightBytes = model.weightBytes
            for t in threadCounts {
                Threading.configure(threads: t)
                var rng = RandomGenerator(seed: 2)
                let prompt512 = (0..<512).map { _ in Int(rng.next() % UInt64(config.vocabSize)) }
                _ = try model.forward(tokens: Array(prompt512.prefix(64)), batch: 1)
                var prefill: [Double] = []
                for _ in 0..<3 {
                    let t0 = now()
                    _ = try model.forward(tokens: prompt512, batch: 1)
                    prefill.append(512 / (now() - t0))
                }
                let prompt32 = Array(prompt512.prefix(32))
                var decode: [Double] = []
                for _ in 0..<2 {
                    var cache = model.makeCache(batch: 1, capacity: 32 + 128)
                    _ = try model.forward(tokens: prompt32, batch: 1, cache: &cache)
                    var next = prompt32.last!
                    let t0 = now()
                    for _ in 0..<128 {
                        let logits = try model.forward(tokens: [next], batch: 1, cache: &cache)
                        next = logits.withUnsafeBufferPointer { p in
                            var best = 0
                            for i in 0..<config.vocabSize where p[i] > p[best] { best = i }
                            return best
                        }
                    }
                    decode.append(128 / (now() - t0))
                }
                // Every decoded token reads all weights once (the tied embedding doubles as the head).
                let bound = (bandwidth["\(t)"] ?? .nan) * 1e9 / Double(weightBytes)
                let d = median(decode)
                let row = Row(model: name, weights: weightName, threads: t, parameters: paramCount, weightBytes: weightBytes,
                              prefillTokensPerSecond: median(prefill),
                              decodeTokensPerSecond: d, decodeBoundTokensPerSecond: bound, fractionOfDecodeBound: d / bound,
                              peakRSSMegabytes: peakRSSMegabytes())
                progress(row.summary)
                rows.append(row)
            }
        } }
        return Report(whittleVersion: version, readBandwidthGBps: bandwidth, rows: rows)
    }
}
