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
///
/// Its weights are Float32, or — for inference — partly 16-bit: `halfParameters` holds the matrices kept in bf16/f16
/// (Linear weights and embeddings, never norms, biases or adapters) and `floatParameters` the rest. `parameters` is
/// always the whole set in Float32 (for a 16-bit model an exact widened copy, made on each access: exports and merges
/// get correct values; inference never calls it).
public protocol LanguageModel: Sendable {
    var config: ModelConfig { get }
    /// Every parameter under its Hugging Face name, in Whittle's layout (see `ModelConfig.parameterShapes`), as Float32.
    /// For a model with `halfParameters` this widens those matrices into new Float32 tensors on every access.
    var parameters: [String: Tensor] { get }
    /// The parameters held as Float32 (all of them when `halfParameters` is empty).
    var floatParameters: [String: Tensor] { get }
    /// The matrices held in 16 bits for inference (empty: a Float32 model). Training such a model throws.
    var halfParameters: [String: HalfMatrix] { get }
    /// tokens [B·T] (row-major [B, T]) at positions cache.length..<cache.length+T → logits [B, T, V].
    /// The new keys and values are appended to `cache`.
    func forward(tokens: [Int], batch: Int, cache: inout ModelCache) throws(ModelError) -> Tensor
}

extension LanguageModel {
    /// Bytes the weights occupy in memory: 4 per Float32 element, 2 per 16-bit element.
    public var weightBytes: Int {
        floatParameters.values.reduce(0) { $0 + $1.count * 4 } + halfParameters.values.reduce(0) { $0 + $1.byteCount }
    }

    /// The 16-bit format of the model's matrices, nil for a Float32 model (a mixed model names the first it finds).
    public var halfKind: HalfKind? { halfParameters.values.first?.kind }

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

/// A model's weights as loaded: Float32 tensors plus, for 16-bit inference, matrices kept in bf16/f16, all under
/// Hugging Face names. A name is in exactly one of the two.
public struct ModelWeights: Sendable {
    public var parameters: [String: Tensor]
    public var half: [String: HalfMatrix]

    public init(parameters: [String: Tensor], half: [String: HalfMatrix] = [:]) {
        self.parameters = parameters
        self.half = half
    }

    /// Float32 `parameters` with every 2-D one (Linear weights, embeddings) rounded to `kind`, to nearest even;
    /// norms and biases stay Float32. Each narrowed tensor's Float32 storage is released as it goes.
    public static func narrowing(_ parameters: [String: Tensor], to kind: HalfKind) -> ModelWeights {
        var floats = parameters
        var half: [String: HalfMatrix] = [:]
        for name in parameters.keys.sorted() where parameters[name]!.rank == 2 {
            half[name] = HalfMatrix(narrowing: floats.removeValue(forKey: name)!, kind: kind)
        }
        return ModelWeights(parameters: floats, half: half)
    }
}

/// Builds the model for `config.family` from parameters named as `config.parameterShapes()` lists them, plus the
/// adapter parameters `lora.parameterShapes(config:)` lists when `lora` is given (applied unmerged).
public func makeLanguageModel(config: ModelConfig, parameters: [String: Tensor],
                              lora: LoRASpec? = nil) throws(ModelError) -> any TrainableModel {
    try makeLanguageModel(config: config, weights: ModelWeights(parameters: parameters), lora: lora)
}

/// Builds the model from `weights`: 16-bit matrices stay 16-bit (inference only), adapters are Float32 in
/// `weights.parameters`.
public func makeLanguageModel(config: ModelConfig, weights: ModelWeights,
                              lora: LoRASpec? = nil) throws(ModelError) -> any TrainableModel {
    switch config.family {
    case .llama: try LlamaModel(config: config, parameters: weights.parameters, halfParameters: weights.half, lora: lora)
    case .gpt2: try GPT2Model(config: config, parameters: weights.parameters, halfParameters: weights.half, lora: lora)
    }
}

/// Checks that the parameters hold exactly the expected names with the expected shapes; 16-bit ones only where a
/// matrix is expected (not adapters); one error lists every problem.
func checkParameters(_ parameters: [String: Tensor], half: [String: HalfMatrix], config: ModelConfig,
                     lora: LoRASpec?) throws(ModelError) {
    try config.validate()
    try lora?.validate(for: config)
    var problems: [String] = []
    let adapterNames = Set((lora?.parameterShapes(config: config) ?? []).map(\.name))
    let expected = config.parameterShapes() + (lora?.parameterShapes(config: config) ?? [])
    for (name, shape) in expected {
        if let h = half[name] {
            if parameters[name] != nil { problems.append("\(name) given both as Float32 and as 16-bit") }
            if h.shape != shape { problems.append("\(name) has shape \(h.shape), expected \(shape)") }
            if shape.count != 2 || adapterNames.contains(name) { problems.append("\(name) cannot be held in 16 bits (only base matrices can)") }
            continue
        }
        guard let t = parameters[name] else { problems.append("missing \(name) \(shape)"); continue }
        if t.shape != shape { problems.append("\(name) has shape \(t.shape), expected \(shape)") }
    }
    let known = Set(expected.map(\.name))
    for name in Set(parameters.keys).union(half.keys).sorted() where !known.contains(name) { problems.append("unexpected \(name)") }
    if !problems.isEmpty { throw ModelError("parameters do not match the configuration:\n  " + problems.joined(separator: "\n  ")) }
}

/// Builds layers from Float32 parameters and 16-bit matrices (parameters already checked).
struct LayerBuilder {
    let parameters: [String: Tensor]
    let half: [String: HalfMatrix]
    let lora: LoRASpec?

    /// The Linear at `module` (adapter looked up under `loraModule`, default `module`) with weight `weightName`.
    func linear(_ module: String, weightName: String? = nil, bias: Bool, loraModule: String? = nil) -> Linear {
        let w = weightName ?? module + ".weight"
        let b = bias ? parameters[module + ".bias"]! : nil
        let adapter = adapter(loraModule ?? module, parameters: parameters, spec: lora)
        if let h = half[w] { return Linear(halfWeight: h, bias: b, lora: adapter) }
        return Linear(weight: parameters[w]!, bias: b, lora: adapter)
    }

    func embedding(_ name: String) -> Embedding {
        if let h = half[name] { return Embedding(halfWeight: h) }
        return Embedding(weight: parameters[name]!)
    }

    /// The Float32 parameters plus widened copies of the 16-bit ones.
    static func widened(_ parameters: [String: Tensor], _ half: [String: HalfMatrix]) -> [String: Tensor] {
        if half.isEmpty { return parameters }
        var all = parameters
        for (name, h) in half { all[name] = h.widened() }
        return all
    }
}

/// The error training a model with 16-bit weights raises.
func halfTrainingError() -> ModelError {
    ModelError("this model holds 16-bit weights, which are for inference only; load it with Float32 weights "
               + "(--weights f32) to train or take gradients")
}
