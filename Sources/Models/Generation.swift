#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Tensors

/// How `generate` picks tokens. Defaults are greedy decoding; field meanings follow transformers'
/// `GenerationConfig` (processors applied in its order: repetition penalty, temperature, top-k, top-p, min-p).
public struct GenerationOptions: Sendable {
    /// New tokens to produce at most.
    public var maxNewTokens: Int = 128
    /// 0 = greedy (argmax, first index on ties, like `torch.argmax`); otherwise logits are divided by it and sampled.
    public var temperature: Double = 0
    /// Keep only the k most likely tokens (0 = off).
    public var topK: Int = 0
    /// Keep the smallest set of most likely tokens whose probability reaches p (1 = off).
    public var topP: Double = 1
    /// Drop tokens whose probability is below minP × the top probability (0 = off).
    public var minP: Double = 0
    /// > 1 discourages tokens already in the prompt or output (CTRL rule: divide positive logits, multiply negative).
    public var repetitionPenalty: Double = 1
    /// Seed of the sampling generator (one generator per call).
    public var seed: UInt64 = 0
    /// Generation stops after any of these ids (it is included in the output).
    public var eosTokenIDs: [Int] = []

    public init(maxNewTokens: Int = 128, temperature: Double = 0, topK: Int = 0, topP: Double = 1, minP: Double = 0,
                repetitionPenalty: Double = 1, seed: UInt64 = 0, eosTokenIDs: [Int] = []) {
        self.maxNewTokens = maxNewTokens
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.minP = minP
        self.repetitionPenalty = repetitionPenalty
        self.seed = seed
        self.eosTokenIDs = eosTokenIDs
    }

    func validate() throws(ModelError) {
        if maxNewTokens < 0 { throw ModelError("maxNewTokens must be ≥ 0, got \(maxNewTokens)") }
        if !(temperature >= 0) { throw ModelError("temperature must be ≥ 0, got \(temperature)") }
        if topK < 0 { throw ModelError("topK must be ≥ 0, got \(topK)") }
        if !(topP > 0 && topP <= 1) { throw ModelError("topP must be in (0, 1], got \(topP)") }
        if !(minP >= 0 && minP <= 1) { throw ModelError("minP must be in [0, 1], got \(minP)") }
        if !(repetitionPenalty > 0) { throw ModelError("repetitionPenalty must be > 0, got \(repetitionPenalty)") }
    }
}

/// The generated ids (prompt excluded) and why generation stopped.
public struct GenerationResult: Sendable, Equatable {
    public enum StopReason: Sendable, Equatable { case eos(Int), maxNewTokens, contextLength, stoppedByCaller }
    public var tokens: [Int]
    public var stopReason: StopReason
}

/// Generates from `prompt` (ids) one token at a time: one batched prefill of the prompt, then KV-cache decode.
/// Stops at an EOS id, after `maxNewTokens`, or when prompt + output fill the context length. A prompt that is empty or
/// already fills the context is an error. `onToken` sees each new id as it is chosen (for streaming and stop
/// strings) and returns false to stop there.
public func generate(model: some LanguageModel, prompt: [Int], options: GenerationOptions = .init(),
                     onToken: (Int) -> Bool = { _ in true }) throws(ModelError) -> GenerationResult {
    try options.validate()
    let context = model.config.contextLength
    guard !prompt.isEmpty else { throw ModelError("the prompt is empty (start with a BOS id)") }
    guard prompt.count < context else {
        throw ModelError("the prompt has \(prompt.count) tokens; the context length is \(context)")
    }
    var cache = model.makeCache(batch: 1, capacity: min(context, prompt.count + options.maxNewTokens))
    var rng = RandomGenerator(seed: options.seed)
    var seen = prompt
    var out: [Int] = []
    var logits = try model.forward(tokens: prompt, batch: 1, cache: &cache)
    var row = prompt.count - 1
    while out.count < options.maxNewTokens {
        let v = model.config.vocabSize
        var scores = Array(logits.scalars[(row * v)..<((row + 1) * v)])
        let next = Sampler.pick(&scores, previous: seen, options: options, rng: &rng)
        out.append(next)
        seen.append(next)
        if options.eosTokenIDs.contains(next) { _ = onToken(next); return GenerationResult(tokens: out, stopReason: .eos(next)) }
        if !onToken(next) { return GenerationResult(tokens: out, stopReason: .stoppedByCaller) }
        if out.count == options.maxNewTokens { break }
        // The whole sequence (prompt + output) fits the context, as transformers' max_length counts it.
        if prompt.count + out.count >= context { return GenerationResult(tokens: out, stopReason: .contextLength) }
        logits = try model.forward(tokens: [next], batch: 1, cache: &cache)
        row = 0
    }
    return GenerationResult(tokens: out, stopReason: .maxNewTokens)
}

/// The per-step token choice, separate so it can be tested on hand-made logits.
public enum Sampler {
    /// Applies the options to `scores` (one row of logits, modified in place) and returns the chosen id.
    public static func pick(_ scores: inout [Float], previous: [Int], options: GenerationOptions,
                            rng: inout RandomGenerator) -> Int {
        if options.repetitionPenalty != 1 {
            let p = Float(options.repetitionPenalty)
            for id in Set(previous) where id >= 0 && id < scores.count {
                scores[id] = scores[id] < 0 ? scores[id] * p : scores[id] / p
            }
        }
        if options.temperature == 0 { return argmax(scores) }
        let invT = Float(1 / options.temperature)
        for i in scores.indices { scores[i] *= invT }
        // Candidates sorted by score (descending; ties by id), then filtered.
        var order = Array(scores.indices)
        order.sort { scores[$0] != scores[$1] ? scores[$0] > scores[$1] : $0 < $1 }
        if options.topK > 0 && options.topK < order.count { order.removeLast(order.count - options.topK) }
        let top = scores[order[0]]
        var probs = order.map { Double(expf(scores[$0] - top)) }
        var total = probs.reduce(0, +)
        if options.topP < 1 {
            var cum = 0.0, keep = order.count
            for (i, p) in probs.enumerated() {
                cum += p / total
                if cum >= options.topP { keep = i + 1; break }
            }
            order.removeLast(order.count - keep); probs.removeLast(probs.count - keep)
            total = probs.reduce(0, +)
        }
        if options.minP > 0 {
            // probs[0] is the largest: keep p ≥ minP · p_max.
            let keep = max(1, probs.prefix { $0 >= options.minP * probs[0] }.count)
            order.removeLast(order.count - keep); probs.removeLast(probs.count - keep)
            total = probs.reduce(0, +)
        }
        var u = rng.uniform() * total
        for (i, p) in probs.enumerated() {
            u -= p
            if u < 0 { return order[i] }
        }
        return order[order.count - 1]
    }

    /// Index of the largest score, the first one on ties.
    public static func argmax(_ scores: [Float]) -> Int {
        var best = 0
        for i in scores.indices where scores[i] > scores[best] { best = i }
        return best
    }
}
