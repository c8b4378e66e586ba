import Foundation
import Models
import Tensors
import Tokenization

/// The merge receipt's behavioural check: the merged model, as written (weights rounded to the output dtype), against
/// base + adapter run unmerged, on a few probe sequences. Per position, KL(unmerged ‖ merged) of the next-token
/// distributions (nats, accumulated in Double); and the perplexity of each model on the sequences' own next tokens.
/// A correct f32 merge gives KL ≈ 0 (float rounding of a different summation order); bf16/f16 output shows what the
/// rounding costs.
public enum MergeProbe {
    /// Everyday sentences, tokenized with the base folder's tokenizer when it has one.
    public static let texts = [
        "The quick brown fox jumps over the lazy dog while the farmer watches from the gate.",
        "Question: What is the capital of France? Answer: The capital of France is Paris.",
        "def add(a, b):\n    return a + b\n\nprint(add(2, 3))",
        "Once upon a time there was a little girl who lived in a village near the forest.",
    ]

    /// Probe token sequences: `texts` through the tokenizer of `tokenizerFolder` (cut to 64 tokens), or, without a
    /// usable tokenizer, four seeded pseudo-random sequences of 32 ids.
    public static func sequences(config: ModelConfig, tokenizerFolder: String?) -> [[Int]] {
        let limit = min(64, config.contextLength)
        if let folder = tokenizerFolder, let tokenizer = try? Tokenizer.load(path: folder) {
            let seqs = texts.map { Array(tokenizer.encode($0, addSpecialTokens: true).prefix(limit)) }
                .filter { $0.count >= 2 && $0.allSatisfy { $0 < config.vocabSize } }
            if seqs.count == texts.count { return seqs }
        }
        var rng = RandomGenerator(seed: 0x5eed)
        return (0..<4).map { _ in (0..<min(32, limit)).map { _ in Int(rng.next() % UInt64(config.vocabSize)) } }
    }

    /// Runs both models on the sequences and compares them.
    public static func compare(unmerged: any LanguageModel, merged: any LanguageModel, sequences: [[Int]]) throws -> MergeReceipt.ProbeComparison {
        var klSum = 0.0, klMax = 0.0, positions = 0
        var nllUnmerged = 0.0, nllMerged = 0.0, predicted = 0
        let v = unmerged.config.vocabSize
        for ids in sequences {
            let t = ids.count
            let lu = logSoftmax(try unmerged.forward(tokens: ids, batch: 1), rows: t, cols: v)
            let lm = logSoftmax(try merged.forward(tokens: ids, batch: 1), rows: t, cols: v)
            for p in 0..<t {
                var kl = 0.0
                for j in 0..<v {
                    let a = Double(lu[p * v + j])
                    kl += Foundation.exp(a) * (a - Double(lm[p * v + j]))
                }
                kl = max(kl, 0)
                klSum += kl
                klMax = max(klMax, kl)
                positions += 1
                if p + 1 < t {
                    nllUnmerged -= Double(lu[p * v + ids[p + 1]])
                    nllMerged -= Double(lm[p * v + ids[p + 1]])
                    predicted += 1
                }
            }
        }
        let n = Double(max(predicted, 1))
        return MergeReceipt.ProbeComparison(sequences: sequences.count, tokens: positions, meanKL: klSum / Double(max(positions, 1)),
                                            maxKL: klMax, perplexityMerged: Foundation.exp(nllMerged / n),
                                            perplexityUnmerged: Foundation.exp(nllUnmerged / n))
    }

    static func logSoftmax(_ logits: Tensor, rows: Int, cols: Int) -> [Float] {
        var out = [Float](repeating: 0, count: rows * cols)
        logits.withUnsafeBufferPointer { l in
            out.withUnsafeMutableBufferPointer { o in Kernels.logSoftmaxRows(l.baseAddress!, into: o.baseAddress!, rows: rows, cols: cols) }
        }
        return out
    }
}
