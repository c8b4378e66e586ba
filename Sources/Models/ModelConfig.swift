import Layers

/// The shape and numerics of a decoder-only model, in Whittle's own terms (ModelFormats maps HF `config.json`
/// onto it). Hyperparameters that PyTorch keeps as Python floats are Double here.
public struct ModelConfig: Sendable, Equatable {
    /// Which block structure the model has.
    public enum Family: String, Sendable {
        /// Pre-RMSNorm, RoPE, GQA, SwiGLU (llama, mistral, qwen2).
        case llama
        /// Pre-LayerNorm, learned positions, MHA, GELU-tanh MLP, Conv1D weights (gpt2).
        case gpt2
    }

    public var family: Family
    /// HF `model_type` ("llama", "mistral", "qwen2", "gpt2"), kept for writing config.json back.
    public var modelType: String
    public var vocabSize: Int
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var numLayers: Int
    public var numHeads: Int
    public var numKVHeads: Int
    public var headDim: Int
    public var maxPositionEmbeddings: Int
    public var normEps: Double
    public var ropeTheta: Double
    public var ropeScaling: RoPEScaling
    /// q, k, v projections have biases (qwen2; llama `attention_bias`).
    public var qkvBias: Bool
    /// o_proj has a bias (llama `attention_bias`).
    public var outputProjBias: Bool
    public var mlpBias: Bool
    public var tieWordEmbeddings: Bool
    /// Mistral/Qwen2 sliding-window attention width; sequences longer than it are refused (not implemented).
    public var slidingWindow: Int?
    public var bosTokenID: Int?
    public var eosTokenIDs: [Int]

    public init(family: Family, modelType: String, vocabSize: Int, hiddenSize: Int, intermediateSize: Int,
                numLayers: Int, numHeads: Int, numKVHeads: Int, headDim: Int, maxPositionEmbeddings: Int,
                normEps: Double, ropeTheta: Double = 10000, ropeScaling: RoPEScaling = .none,
                qkvBias: Bool = false, outputProjBias: Bool = false, mlpBias: Bool = false,
                tieWordEmbeddings: Bool, slidingWindow: Int? = nil, bosTokenID: Int? = nil, eosTokenIDs: [Int] = []) {
        self.family = family
        self.modelType = modelType
        self.vocabSize = vocabSize
        self.hiddenSize = hiddenSize
        self.intermediateSize = intermediateSize
        self.numLayers = numLayers
        self.numHeads = numHeads
        self.numKVHeads = numKVHeads
        self.headDim = headDim
        self.maxPositionEmbeddings = maxPositionEmbeddings
        self.normEps = normEps
        self.ropeTheta = ropeTheta
        self.ropeScaling = ropeScaling
        self.qkvBias = qkvBias
        self.outputProjBias = outputProjBias
        self.mlpBias = mlpBias
        self.tieWordEmbeddings = tieWordEmbeddings
        self.slidingWindow = slidingWindow
        self.bosTokenID = bosTokenID
        self.eosTokenIDs = eosTokenIDs
    }

    /// The longest sequence (prompt + generated) the model accepts: `max_position_embeddings`, or the sliding
    /// window when it is smaller (beyond it the window would change the result and is not implemented).
    public var contextLength: Int {
        if let w = slidingWindow, w > 0 { return min(maxPositionEmbeddings, w) }
        return maxPositionEmbeddings
    }

    /// Checks the numbers that the layers rely on; the message names the offending key.
    public func validate() throws(ModelError) {
        func need(_ ok: Bool, _ m: String) throws(ModelError) { if !ok { throw ModelError(m) } }
        try need(vocabSize > 0, "vocab_size must be positive, got \(vocabSize)")
        try need(hiddenSize > 0, "hidden_size must be positive, got \(hiddenSize)")
        try need(intermediateSize > 0, "intermediate_size must be positive, got \(intermediateSize)")
        try need(numLayers > 0, "num_hidden_layers must be positive, got \(numLayers)")
        try need(numHeads > 0 && numKVHeads > 0, "num_attention_heads (\(numHeads)) and num_key_value_heads (\(numKVHeads)) must be positive")
        try need(numHeads % numKVHeads == 0, "num_attention_heads \(numHeads) is not a multiple of num_key_value_heads \(numKVHeads)")
        try need(headDim > 0, "head_dim must be positive, got \(headDim)")
        try need(maxPositionEmbeddings > 0, "max_position_embeddings must be positive, got \(maxPositionEmbeddings)")
        if family == .llama { try need(headDim % 2 == 0, "head_dim \(headDim) must be even for RoPE") }
        if family == .gpt2 { try need(numHeads * headDim == hiddenSize, "n_embd \(hiddenSize) is not divisible by n_head \(numHeads)") }
    }
}

/// A model-level error (bad configuration, token ids out of range, sequence too long).
public struct ModelError: Error, CustomStringConvertible, Sendable, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
