import Layers
import Tensors

/// The key/value caches of every layer of one model, for incremental decoding.
public struct ModelCache: Sendable {
    public var layers: [KVCache]
    public let batch: Int
    /// Positions already processed.
    public var length: Int { layers.first?.length ?? 0 }
    public var capacity: Int { layers.first?.capacity ?? 0 }

    public init(config: ModelConfig, batch: Int, capacity: Int) {
        self.batch = batch
        layers = (0..<config.numLayers).map { _ in
            KVCache(batch: batch, kvHeads: config.numKVHeads, headDim: config.headDim, capacity: capacity)
        }
    }
}

/// A causal language model over token ids.
public protocol LanguageModel: Sendable {
    var config: ModelConfig { get }
    /// Parameters under their Hugging Face names, in Whittle's layout (see `ModelConfig.parameterShapes`).
    var parameters: [String: Tensor] { get }
    /// tokens [B·T] (row-major [B, T]) at positions cache.length..<cache.length+T → logits [B, T, V].
    /// The new keys and values are appended to `cache`.
    func forward(tokens: [Int], batch: Int, cache: inout ModelCache) throws(ModelError) -> Tensor
}

extension LanguageModel {
    /// A fresh cache for `batch` sequences of up to `capacity` positions (default: the context length).
    public func makeCache(batch: Int = 1, capacity: Int? = nil) -> ModelCache {
        ModelCache(config: config, batch: batch, capacity: capacity ?? config.contextLength)
    }

    /// tokens [B·T] (row-major [B, T]) → logits [B, T, V], with no history.
    public func forward(tokens: [Int], batch: Int) throws(ModelError) -> Tensor {
        guard batch > 0, tokens.count % batch == 0 else {
            throw ModelError("\(tokens.count) tokens do not split into \(batch) rows")
        }
        var cache = makeCache(batch: batch, capacity: tokens.count / batch)
        return try forward(tokens: tokens, batch: batch, cache: &cache)
    }

    /// Checks user-supplied ids and lengths before they reach layer preconditions. Returns T.
    func checkInput(tokens: [Int], batch: Int, cache: ModelCache) throws(ModelError) -> Int {
        guard batch > 0, batch == cache.batch, tokens.count % batch == 0, !tokens.isEmpty else {
            throw ModelError("\(tokens.count) tokens in \(batch) rows do not fit a cache for \(cache.batch) rows")
        }
        let t = tokens.count / batch
        if let bad = tokens.firstIndex(where: { $0 < 0 || $0 >= config.vocabSize }) {
            throw ModelError("token id \(tokens[bad]) at index \(bad) is outside the vocabulary 0..<\(config.vocabSize)")
        }
        if cache.length + t > config.contextLength {
            throw ModelError("sequence of \(cache.length + t) positions exceeds the context length \(config.contextLength)"
                + (config.slidingWindow.map { $0 < config.maxPositionEmbeddings ? " (sliding_window \($0) is not supported beyond the window)" : "" } ?? ""))
        }
        if cache.length + t > cache.capacity {
            throw ModelError("sequence of \(cache.length + t) positions exceeds the KV cache capacity \(cache.capacity)")
        }
        return t
    }
}

/// Builds the model for `config.family` from parameters named as `config.parameterShapes()` lists them, plus the
/// adapter parameters `lora.parameterShapes(config:)` lists when `lora` is given (applied unmerged).
public func makeLanguageModel(config: ModelConfig, parameters: [String: Tensor],
                              lora: LoRASpec? = nil) throws(ModelError) -> any TrainableModel {
    switch config.family {
    case .llama: try LlamaModel(config: config, parameters: parameters, lora: lora)
    case .gpt2: try GPT2Model(config: config, parameters: parameters, lora: lora)
    }
}

/// Checks that `parameters` holds exactly the expected names with the expected shapes; one error lists every problem.
func checkParameters(_ parameters: [String: Tensor], config: ModelConfig, lora: LoRASpec?) throws(ModelError) {
    try config.validate()
    try lora?.validate(for: config)
    var problems: [String] = []
    let expected = config.parameterShapes() + (lora?.parameterShapes(config: config) ?? [])
    for (name, shape) in expected {
        guard let t = parameters[name] else { problems.append("missing \(name) \(shape)"); continue }
        if t.shape != shape { problems.append("\(name) has shape \(t.shape), expected \(shape)") }
    }
    let known = Set(expected.map(\.name))
    for name in parameters.keys.sorted() where !known.contains(name) { problems.append("unexpected \(name)") }
    if !problems.isEmpty { throw ModelError("parameters do not match the configuration:\n  " + problems.joined(separator: "\n  ")) }
}
