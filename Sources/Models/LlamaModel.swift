import Layers
import Tensors

/// Llama-family decoder (llama, mistral, qwen2): `x = emb[ids]`; per layer
/// `x += o_proj(Attn(RoPE(q), RoPE(k), v))` over `input_layernorm(x)`, `x += MLP(post_attention_layernorm(x))`;
/// logits = lm_head(norm(x)) (lm_head = embed_tokens when tied). Matches transformers' modeling_llama /
/// modeling_qwen2 in float32.
public struct LlamaModel: LanguageModel {
    public let config: ModelConfig
    public let floatParameters: [String: Tensor]
    public let halfParameters: [String: HalfMatrix]
    /// The adapters applied (unmerged) on top of the base weights, if any.
    public let lora: LoRASpec?

    /// Every parameter as Float32 (16-bit matrices widened into new tensors on each access).
    public var parameters: [String: Tensor] { LayerBuilder.widened(floatParameters, halfParameters) }

    struct Block: Sendable {
        var inputNorm: RMSNorm, q: Linear, k: Linear, v: Linear, o: Linear, postNorm: RMSNorm, mlp: SwiGLU
    }
    let embed: Embedding
    let blocks: [Block]
    let norm: RMSNorm
    let lmHead: Linear
    let rope: RoPE

    /// `halfParameters`: matrices kept in 16 bits (inference only; see `LanguageModel`).
    public init(config: ModelConfig, parameters: [String: Tensor], halfParameters: [String: HalfMatrix] = [:],
                lora: LoRASpec? = nil) throws(ModelError) {
        guard config.family == .llama else { throw ModelError("LlamaModel cannot hold a \(config.family) model") }
        try checkParameters(parameters, half: halfParameters, config: config, lora: lora)
        self.config = config
        self.floatParameters = parameters
        self.halfParameters = halfParameters
        self.lora = lora
        let p = parameters, eps = config.normEps
        let build = LayerBuilder(parameters: p, half: halfParameters, lora: lora)
        func linear(_ n: String, bias: Bool) -> Linear { build.linear(n, bias: bias) }
        embed = build.embedding("model.embed_tokens.weight")
        blocks = (0..<config.numLayers).map { i in
            let a = "model.layers.\(i)."
            return Block(
                inputNorm: RMSNorm(weight: p[a + "input_layernorm.weight"]!, eps: eps),
                q: linear(a + "self_attn.q_proj", bias: config.qkvBias),
                k: linear(a + "self_attn.k_proj", bias: config.qkvBias),
                v: linear(a + "self_attn.v_proj", bias: config.qkvBias),
                o: linear(a + "self_attn.o_proj", bias: config.outputProjBias),
                postNorm: RMSNorm(weight: p[a + "post_attention_layernorm.weight"]!, eps: eps),
                mlp: SwiGLU(gate: linear(a + "mlp.gate_proj", bias: config.mlpBias),
                            up: linear(a + "mlp.up_proj", bias: config.mlpBias),
                            down: linear(a + "mlp.down_proj", bias: config.mlpBias)))
        }
        norm = RMSNorm(weight: p["model.norm.weight"]!, eps: eps)
        lmHead = build.linear("lm_head", weightName: config.tieWordEmbeddings ? "model.embed_tokens.weight" : "lm_head.weight",
                              bias: false)
        rope = RoPE(headDim: config.headDim, theta: config.ropeTheta, scaling: config.ropeScaling)
    }

    public func forward(tokens: [Int], batch: Int, cache: inout ModelCache) throws(ModelError) -> Tensor {
        let t = try checkInput(tokens: tokens, batch: batch, cache: cache)
        let n = tokens.count, h = config.numHeads, kh = config.numKVHeads, d = config.headDim
        let past = cache.length
        let positions = (0..<n).map { past + $0 % t }
        let scale = 1 / Float(d).squareRoot()
        var (x, _) = embed.forward(tokens)
        for (i, block) in blocks.enumerated() {
            let (hn, _) = block.inputNorm.forward(x)
            let (q, _) = block.q.forward(hn)
            let (k, _) = block.k.forward(hn)
            let (v, _) = block.v.forward(hn)
            let (qr, _) = rope.forward(q.reshaped([n, h, d]), positions: positions)
            let (kr, _) = rope.forward(k.reshaped([n, kh, d]), positions: positions)
            let a = CausalAttention.forward(queries: qr.reshaped([batch, t, h, d]), keys: kr.reshaped([batch, t, kh, d]),
                                                 values: v.reshaped([batch, t, kh, d]), scale: scale, cache: &cache.layers[i])
            let (o, _) = block.o.forward(a.reshaped([n, h * d]))
            x.addScaled(o)
            let (hm, _) = block.postNorm.forward(x)
            let (m, _) = block.mlp.forward(hm)
            x.addScaled(m)
        }
        let (xn, _) = norm.forward(x)
        let (logits, _) = lmHead.forward(xn)
        return logits.reshaped([batch, t, config.vocabSize])
    }
}
