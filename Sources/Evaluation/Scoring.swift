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
        guard ids.count >= 2 else { return 0 }
        let logits = try model.forward(tokens: ids, batch: 1)
        let v = model.config.vocabSize
        let t = ids.count
        var logProbs = Tensor(zeros: [t, v])
        logits.withUnsafeBufferPointer { l in
            logProbs.withUnsafeMutableBufferPointer { o in
                Kernels.logSoftmaxRows(l.baseAddress!, into: o.baseAddress!, rows: t, cols: v)
            }
        }
        var total = 0.0
        logProbs.withUnsafeBufferPointer { lp in
            for p in 0..<(t - 1) { total -= Double(lp[p * v + ids[p + 1]]) }
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
