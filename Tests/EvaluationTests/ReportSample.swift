import Foundation
import Evaluation

/// A realistic report to render in tests and to look at: a base model and one or two adapters on ~30 support-desk
/// examples, with a 100-step training run. Values come from a seeded generator and are aggregated exactly as the
/// schema defines (token-weighted losses, metric means, paired percentile bootstrap), so every number is
/// consistent with the per-example data; no rendered number is typed by hand.
enum ReportSample {
    /// SplitMix64: a tiny deterministic generator so the sample is the same on every machine.
    struct Rng {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func uniform() -> Double { Double(next() >> 11) / Double(1 << 53) }
        mutating func normal() -> Double {
            let u = max(uniform(), 1e-12), v = uniform()
            return (-2 * Foundation.log(u)).squareRoot() * Foundation.cos(2 * Double.pi * v)
        }
        mutating func int(_ range: ClosedRange<Int>) -> Int { range.lowerBound + Int(next() % UInt64(range.count)) }
    }

    static let questions = [
        "How do I reset my password?",
        "My invoice shows the wrong VAT number. Can you fix it?",
        "Return the order status as JSON: {\"order\": 1182}",
        "Why was my card declined twice?",
        "Can I move my subscription to another account?",
        "The app crashes when I open settings on Android 14.",
    ]

    static func make(adapters: Int = 1, examples count: Int = 30, training: Bool = true, forgetting: Bool = true,
                     seed: UInt64 = 7, nastyText: Bool = true, metricNames: [String] = ["exact_match", "json_valid"]) -> EvaluationReport {
        var rng = Rng(state: seed)
        let modelCount = 1 + adapters
        var models = [EvaluationReport.ModelEntry(name: "base", kind: "base", path: "Checkpoints/SmolLM2-135M-Instruct")]
        let adapterNames = ["adapter", "adapter-r16", "adapter-r32"]
        for a in 0..<adapters {
            models.append(.init(name: adapterNames[a], kind: "adapter", path: "Checkpoints/runs/support-\(a)/adapter",
                                adapterSHA256: String(repeating: "ab\(a)9f", count: 13).prefix(64).description,
                                adapterScale: 2.0 / Double(a + 1)))
        }
        var results: [EvaluationReport.ExampleResult] = []
        for i in 0..<count {
            let q = questions[i % questions.count]
            var prompt = "<|im_start|>system\nYou are a helpful support agent.<|im_end|>\n<|im_start|>user\n\(q)<|im_end|>\n<|im_start|>assistant\n"
            var reference = "Thanks for asking. Here is what to do for case #\(1000 + i):\n1. Open Settings.\n2. Choose Account."
            if i == 4 {
                // Long text: the page must show its head and keep the whole under <details>.
                prompt += String(repeating: "This customer wrote a very long message with many details about the issue. ", count: 14)
                reference += "\n" + (1...20).map { "   step \($0):\tindented line with  two spaces" }.joined(separator: "\n")
            }
            if i == 1 && nastyText {
                prompt += "</script><script>alert('x')</script> <b>bold?</b> Tom & Jerry's \"quote\" | pipe"
                reference = "Use `a | b` & <i>not</i> *markdown* _here_\n\twith a tab"
            }
            var scores: [EvaluationReport.ExampleScore] = []
            let tokens = rng.int(8...64)
            let difficulty = rng.normal() * 0.35
            for m in 0..<modelCount {
                let perToken = m == 0 ? 2.35 + difficulty + rng.normal() * 0.25
                                      : 1.55 + 0.12 * Double(m - 1) + difficulty + rng.normal() * 0.3
                let exact: Double = rng.uniform() < (m == 0 ? 0.15 : 0.6 - 0.1 * Double(m - 1)) ? 1 : 0
                let json: Double = rng.uniform() < (m == 0 ? 0.55 : 0.9) ? 1 : 0
                var metrics: [String: Double] = [:]
                if metricNames.contains("exact_match") { metrics["exact_match"] = exact }
                if metricNames.contains("json_valid") { metrics["json_valid"] = json }
                var output = exact == 1 ? reference : "I am sorry to hear that. Please contact support (ticket \(i), model \(m))."
                if i == 1 && nastyText && m == 1 { output = "<script>alert(1)</script> | && </pre>" }
                scores.append(.init(lossSum: max(0.05, perToken) * Double(tokens), tokens: tokens,
                                    output: metricNames.isEmpty ? nil : output, metrics: metrics))
            }
            results.append(.init(id: "Datasets/support/test.jsonl:\(i + 1)", prompt: prompt, reference: reference, scores: scores))
        }
        let summary = (0..<modelCount).map { m -> EvaluationReport.ModelSummary in
            let lossSum = results.reduce(0) { $0 + $1.scores[m].lossSum }
            let tokens = results.reduce(0) { $0 + $1.scores[m].tokens }
            var means: [String: Double] = [:]
            for name in metricNames { means[name] = results.reduce(0) { $0 + $1.scores[m].metrics[name]! } / Double(results.count) }
            return .init(loss: lossSum / Double(tokens), perplexity: Foundation.exp(lossSum / Double(tokens)),
                         supervisedTokens: tokens, metrics: means)
        }
        var comparisons: [EvaluationReport.Comparison] = []
        for m in 1..<modelCount {
            for metric in ["loss"] + metricNames {
                comparisons.append(compare(results, model: m, metric: metric, name: models[m].name, rng: &rng))
            }
        }
        var best: [Int] = [], worst: [Int] = []
        if modelCount > 1 {
            let order = results.indices.sorted { results[$0].scores[1].meanLoss - results[$0].scores[0].meanLoss
                < results[$1].scores[1].meanLoss - results[$1].scores[0].meanLoss }
            best = Array(order.prefix(3))
            worst = Array(order.suffix(3).reversed())
        }
        var forget: EvaluationReport.Forgetting?
        if forgetting {
            let losses = (0..<modelCount).map { 2.51 + 0.03 * Double($0) + 0.01 * rng.normal() }
            forget = .init(path: "Datasets/general/valid.jsonl", sha256: String(repeating: "0123456789abcdef", count: 4),
                           texts: 200, tokens: 48_213, loss: losses,
                           sentences: (1..<modelCount).map { m in
                               "On general text the \(models[m].name)'s loss rose by \(String(format: "%.2f", losses[m] - losses[0])) nats/token "
                                   + "(\(String(format: "%.2f", losses[0])) → \(String(format: "%.2f", losses[m]))): little forgetting."
                           })
        }
        let speed = (0..<modelCount).map { m in
            EvaluationReport.SpeedEntry(promptTokens: 41_230, promptSeconds: 9.8 + Double(m) * 1.7,
                                        generatedTokens: 3_872, generationSeconds: 31.4 + Double(m) * 4.2)
        }
        return EvaluationReport(
            createdAt: "2026-11-25T16:00:00Z",
            provenance: .init(whittleVersion: "0.9.0-dev", machine: "Intel Xeon Platinum 8375C · 2 cores · Linux 6.1",
                              command: "whittle eval --model Checkpoints/SmolLM2-135M-Instruct --adapter Checkpoints/runs/support-0/adapter --data Datasets/support/test.jsonl --report Checkpoints/runs/support-0/report",
                              runFolder: training ? "Checkpoints/runs/support-0" : nil,
                              recipe: training ? "# support desk LoRA\nmodel: Checkpoints/SmolLM2-135M-Instruct\nlora:\n  rank: 8\n  alpha: 16\ntraining:\n  steps: 100\n  learning_rate: 2.0e-4\n" : nil,
                              baseModelSHA256: "9f2c4e1d7a6b5c3e8f0a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5a6",
                              tokenizerSHA256: "5e8d1c0b9a7f6e5d4c3b2a1908f7e6d5c4b3a29180f7e6d5c4b3a2918f7e6d5c",
                              templateSHA256: "c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00"),
            models: models,
            data: .init(path: "Datasets/support/test.jsonl", sha256: "d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f809",
                        format: "chat", examples: results.count),
            metricNames: metricNames, summary: summary, comparisons: comparisons, examples: results,
            samples: Array([0, 1, 4, 7].filter { $0 < results.count }), best: best, worst: worst,
            forgetting: forget, speed: speed, training: training ? curves(steps: 100, rng: &rng) : nil)
    }

    /// Paired percentile bootstrap of model − base, as the evaluation defines it.
    static func compare(_ results: [EvaluationReport.ExampleResult], model m: Int, metric: String, name: String,
                        rng: inout Rng) -> EvaluationReport.Comparison {
        func difference(_ idx: [Int]) -> Double {
            if metric == "loss" {
                let a = idx.reduce(0.0) { $0 + results[$1].scores[m].lossSum } / Double(idx.reduce(0) { $0 + results[$1].scores[m].tokens })
                let b = idx.reduce(0.0) { $0 + results[$1].scores[0].lossSum } / Double(idx.reduce(0) { $0 + results[$1].scores[0].tokens })
                return a - b
            }
            return idx.reduce(0.0) { $0 + results[$1].scores[m].metrics[metric]! - results[$1].scores[0].metrics[metric]! } / Double(idx.count)
        }
        let resamples = 1000
        var diffs = (0..<resamples).map { _ in difference((0..<results.count).map { _ in rng.int(0...(results.count - 1)) }) }
        diffs.sort()
        let d = difference(Array(results.indices))
        let lo = diffs[Int(0.025 * Double(resamples))], hi = diffs[Int(0.975 * Double(resamples)) - 1]
        let significant = lo > 0 || hi < 0
        let sentence: String
        if metric == "loss" {
            sentence = "The \(name) \(d < 0 ? "lowers" : "raises") the loss by \(String(format: "%.2f", abs(d))) nats/token "
                + "(95% CI \(String(format: "%.2f", lo)) to \(String(format: "%.2f", hi)))."
        } else {
            let words = metric.replacingOccurrences(of: "_", with: " ")
            sentence = "The \(name) \(d >= 0 ? "beats" : "trails") the base on \(words) by \(String(format: "%.0f", abs(d) * 100)) points "
                + "(95% CI \(String(format: "%.0f", lo * 100)) to \(String(format: "%.0f", hi * 100)))."
        }
        return .init(model: m, metric: metric, difference: d, ciLow: lo, ciHigh: hi, confidence: 0.95, resamples: resamples,
                     higherIsBetter: metric != "loss", significant: significant, sentence: sentence)
    }

    /// A warm-up-then-cosine schedule and a decaying noisy loss, validated every 10 steps (and at step 0).
    static func curves(steps: Int, rng: inout Rng) -> EvaluationReport.TrainingCurves {
        var t = EvaluationReport.TrainingCurves(runFolder: "Checkpoints/runs/support-0", steps: [], loss: [], learningRate: [],
                                                validSteps: [], validLoss: [])
        let peak = 2e-4, warmup = 10
        for s in 1...steps {
            let lr = s <= warmup ? peak * Double(s) / Double(warmup)
                : peak * 0.5 * (1 + Foundation.cos(Double.pi * Double(s - warmup) / Double(steps - warmup)))
            t.steps.append(s)
            t.learningRate.append(lr)
            t.loss.append(1.45 + 1.0 * Foundation.exp(-Double(s) / 25) + 0.08 * rng.normal())
        }
        for s in stride(from: 0, through: steps, by: 10) {
            t.validSteps.append(s)
            t.validLoss.append(1.62 + 0.8 * Foundation.exp(-Double(s) / 30) + 0.015 * rng.normal())
        }
        return t
    }
}
