import Foundation
import Models
import Tensors
import Tokenization

/// Next-token cross-entropy of a model on texts: each text tokenized alone with the tokenizer's special-token
/// policy, run as one sequence (no packing), every predicted position scored. The mean is token-weighted
/// (Σ losses ÷ Σ predicted tokens), accumulated in Double; perplexity is e^mean.
public enum Scoring {
    public struct Result: Codable, Sendable, Equatable {
        public var meanLoss: Double
        public var perplexity: Double
        /// Predicted positions (Σ over texts of tokens − 1).
        public var tokens: Int
        public var texts: Int
        /// Per text: Σ loss and predicted tokens (for per-example deltas).
        public var perText: [PerText]
    }

    public struct PerText: Codable, Sendable, Equatable {
        public var loss: Double
        public var tokens: Int
    }

    /// Cross-entropy sum of one token sequence: Σₜ −log softmax(logits[t])[ids[t+1]].
    public static func sequenceLoss(model: some LanguageModel, ids: [Int]) throws(ModelError) -> Double {
        try maskedLoss(model: model, ids: ids, trained: Array(repeating: true, count: ids.count))
    }

    /// Cross-entropy sum over the supervised tokens of one sequence, the sequence run once:
    /// Σ over p ≥ 1 with `trained[p]` of −log softmax(logits[p − 1])[ids[p]].
    public static func maskedLoss(model: some LanguageModel, ids: [Int], trained: [Bool]) throws(ModelError) -> Double {
        precondition(ids.count == trained.count, "ids and mask differ in length")
        guard ids.count >= 2 else { return 0 }
        let logits = try model.forward(tokens: ids, batch: 1)
        let v = model.config.vocabSize
        var total = 0.0
        var row = [Float](repeating: 0, count: v)
        logits.withUnsafeBufferPointer { l in
            row.withUnsafeMutableBufferPointer { r in
                for p in 1..<ids.count where trained[p] {
                    Kernels.logSoftmaxRows(l.baseAddress! + (p - 1) * v, into: r.baseAddress!, rows: 1, cols: v)
                    total -= Double(r[ids[p]])
                }
            }
        }
        return total
    }

    public static func score(_ m: LoadedModel, texts: [(text: String, place: String)]) throws -> Result {
        var perText: [PerText] = []
        var sum = 0.0, count = 0
        for (text, place) in texts {
            let ids = m.tokenizer.encode(text, addSpecialTokens: true)
            guard ids.count <= m.model.config.contextLength else {
                throw ModelError("\(place): \(ids.count) tokens exceed the model's context length \(m.model.config.contextLength)")
            }
            let loss = try sequenceLoss(model: m.model, ids: ids)
            perText.append(PerText(loss: loss, tokens: max(0, ids.count - 1)))
            sum += loss
            count += max(0, ids.count - 1)
        }
        let mean = count == 0 ? 0 : sum / Double(count)
        return Result(meanLoss: mean, perplexity: Foundation.exp(mean), tokens: count, texts: texts.count, perText: perText)
    }
}
