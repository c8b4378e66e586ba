import Layers
import Tensors

/// GPT-2: `x = wte[ids] + wpe[pos]`; per layer `x += c_proj(Attn(split(c_attn(ln_1(x)))))`,
/// `x += mlp(ln_2(x))`; logits = ln_f(x)·wteᵀ (tied) or lm_head. Conv1D weights are held as `[out, in]`.
public struct GPT2Model: LanguageModel {
    public let config: ModelConfig
    public let floatParameters: [String: Tensor]
    public let halfParameters: [String: HalfMatrix]
    /// The adapters applied (unmerged) on top of the base weights, if any.
    public let lora: LoRASpec?

    /// Every parameter as Float32 (16-bit matrices widened into new tensors on each access).
    public var parameters: [String: Tensor] { LayerBuilder.widened(floatParameters, halfParameters) }

    struct Block: Sendable { var ln1: LayerNorm, attn: Linear, proj: Linear, ln2: LayerNorm, mlp: GELUMLP }
    let wte: Embedding, wpe: Embedding
    let blocks: [Block]
    let lnF: LayerNorm
    let lmHead: Linear

    /// `halfParameters`: matrices kept in 16 bits (inference only; see `LanguageModel`).
    public init(config: ModelConfig, parameters: [String: Tensor], halfParameters: [String: HalfMatrix] = [:],
                lora: LoRASpec? = nil) throws(ModelError) {
        guard config.family == .gpt2 else { throw ModelError("GPT2Model cannot hold a \(config.family) model") }
        try checkParameters(parameters, half: halfParameters, config: config, lora: lora)
        self.config = config
        self.floatParameters = parameters
        self.halfParameters = halfParameters
        self.lora = lora
        let p = parameters, eps = config.normEps, t = "transformer."
        let build = LayerBuilder(parameters: p, half: halfParameters, lora: lora)
        func linear(_ n: String) -> Linear { build.linear(n, bias: true) }
        func ln(_ n: String) -> LayerNorm { LayerNorm(weight: p[n + ".weight"]!, bias: p[n + ".bias"]!, eps: eps) }
        wte = build.embedding(t + "wte.weight")
        wpe = build.embedding(t + "wpe.weight")
        blocks = (0..<config.numLayers).map { i in
            let a = t + "h.\(i)."
            return Block(ln1: ln(a + "ln_1"), attn: linear(a + "attn.c_attn"), proj: linear(a + "attn.c_proj"),
                         ln2: ln(a + "ln_2"), mlp: GELUMLP(fc: linear(a + "mlp.c_fc"), proj: linear(a + "mlp.c_proj")))
        }
        lnF = ln(t + "ln_f")
        lmHead = build.linear("lm_head", weightName: config.tieWordEmbeddings ? t + "wte.weight" : "lm_head.weight", bias: false)
    }

    public func forward(tokens: [Int], batch: Int, cache: inout ModelCache) throws(ModelError) -> Tensor {
        let t = try checkInput(tokens: tokens, batch: batch, cache: cache)
        let n = tokens.count, h = config.numHeads, d = config.headDim, c = config.hiddenSize
        let past = cache.length
        var (x, _) = wte.forward(tokens)
        let (pos, _) = wpe.forward((0..<n).map { past + $0 % t })
        x.addScaled(pos)
        let scale = 1 / Float(d).squareRoot()
        for (i, block) in blocks.enumerated() {
            let (hn, _) = block.ln1.forward(x)
            let (qkv, _) = block.attn.forward(hn)
            // c_attn's output columns are q | k | v, each C wide and head-major.
            let q = Self.columns(qkv, from: 0, width: c).reshaped([batch, t, h, d])
            let k = Self.columns(qkv, from: c, width: c).reshaped([batch, t, h, d])
            let v = Self.columns(qkv, from: 2 * c, width: c).reshaped([batch, t, h, d])
            let a = CausalAttention.forward(queries: q, keys: k, values: v, scale: scale, cache: &cache.layers[i])
            let (o, _) = block.proj.forward(a.reshaped([n, c]))
            x.addScaled(o)
            let (hm, _) = block.ln2.forward(x)
            let (m, _) = block.mlp.forward(hm)
            x.addScaled(m)
        }
        let (xn, _) = lnF.forward(x)
        let (logits, _) = lmHead.forward(xn)
        return logits.reshaped([batch, t, config.vocabSize])
    }

    /// Columns `from..<from+width` of a [N, W] matrix as a new [N, width] matrix.
    static func columns(_ m: Tensor, from: Int, width: Int) -> Tensor {
        let (n, w) = m.matrixShape
        var out = Tensor(zeros: [n, width])
        out.withUnsafeMutableBufferPointer { o in
            m.withUnsafeBufferPointer { src in
                for r in 0..<n { (o.baseAddress! + r * width).update(from: src.baseAddress! + r * w + from, count: width) }
            }
        }
        return out
    }
}
