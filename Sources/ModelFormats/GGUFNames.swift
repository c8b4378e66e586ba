import Models
import Tensors

/// How each Hugging Face parameter is named, laid out and typed in a GGUF file (formats.md §5.8-5.9): the one name
/// table, shared by the exporter and the reader so the two directions cannot drift apart.
public struct GGUFTensorMapping: Sendable, Equatable {
    /// GGUF tensor name (`blk.0.attn_q.weight`).
    public let gguf: String
    /// Whittle / Hugging Face parameter name (`model.layers.0.self_attn.q_proj.weight`).
    public let hf: String
    /// Heads of the RoPE row permutation when the rows move (q/k of the `llama` architecture), else nil.
    public let permutedHeads: Int?
    /// The converter keeps this tensor in F32 whatever the file type: 1-D tensors, `*_norm.weight`, biases,
    /// `position_embd` (conversion/base.py `prepare_tensors`).
    public let alwaysF32: Bool
}

public enum GGUFNames {
    /// llama.cpp's architecture for a model: llama and mistral are `llama` (LlamaModel), qwen2 is `qwen2`, gpt2 `gpt2`.
    public static func architecture(for config: ModelConfig) throws(ModelError) -> String {
        switch (config.family, config.modelType) {
        case (.gpt2, _): return "gpt2"
        case (.llama, "qwen2"): return "qwen2"
        case (.llama, "llama"), (.llama, "mistral"): return "llama"
        default: throw ModelError("model_type '\(config.modelType)' has no GGUF architecture in Whittle (llama, mistral, qwen2, gpt2)")
        }
    }

    /// The GGUF tensors of `config`'s parameters, in Whittle's parameter order (`ModelConfig.parameterShapes`).
    /// Only the `llama` architecture permutes q/k rows: llama.cpp runs it with adjacent-pair RoPE, and qwen2 with
    /// Hugging Face's rotate-half pairs (convert_hf_to_gguf's Qwen2Model does not permute).
    public static func mappings(for config: ModelConfig) throws(ModelError) -> [GGUFTensorMapping] {
        let permute = try architecture(for: config) == "llama"
        return config.parameterShapes().compactMap { p in
            guard let gguf = ggufName(p.name, family: config.family) else { return nil }
            var heads: Int? = nil
            if permute {
                if p.name.hasSuffix("self_attn.q_proj.weight") || p.name.hasSuffix("self_attn.q_proj.bias") { heads = config.numHeads }
                if p.name.hasSuffix("self_attn.k_proj.weight") || p.name.hasSuffix("self_attn.k_proj.bias") { heads = config.numKVHeads }
            }
            let f32 = p.shape.count <= 1 || gguf.hasSuffix("_norm.weight") || !gguf.hasSuffix(".weight") || gguf == "position_embd.weight"
            return GGUFTensorMapping(gguf: gguf, hf: p.name, permutedHeads: heads, alwaysF32: f32)
        }
    }

    /// The GGUF name of an HF parameter (tensor_mapping.py / constants.py TENSOR_NAMES), or nil if it has none.
    public static func ggufName(_ hf: String, family: ModelConfig.Family) -> String? {
        let parts = hf.split(separator: ".").map(String.init)
        let kind = parts.last ?? ""  // weight / bias
        switch family {
        case .llama:
            if hf == "model.embed_tokens.weight" { return "token_embd.weight" }
            if hf == "model.norm.weight" { return "output_norm.weight" }
            if hf == "lm_head.weight" { return "output.weight" }
            guard parts.count == 6 || parts.count == 5, parts[0] == "model", parts[1] == "layers", let i = Int(parts[2]) else { return nil }
            let module = parts[3...(parts.count - 2)].joined(separator: ".")
            let table = ["input_layernorm": "attn_norm", "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k",
                         "self_attn.v_proj": "attn_v", "self_attn.o_proj": "attn_output", "post_attention_layernorm": "ffn_norm",
                         "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down"]
            return table[module].map { "blk.\(i).\($0).\(kind)" }
        case .gpt2:
            let name = hf.hasPrefix("transformer.") ? String(hf.dropFirst("transformer.".count)) : hf
            let top = ["wte.weight": "token_embd.weight", "wpe.weight": "position_embd.weight", "ln_f.weight": "output_norm.weight",
                       "ln_f.bias": "output_norm.bias", "lm_head.weight": "output.weight"]
            if let t = top[name] { return t }
            let p = name.split(separator: ".").map(String.init)
            guard p.count >= 4, p[0] == "h", let i = Int(p[1]) else { return nil }
            let module = p[2..<(p.count - 1)].joined(separator: ".")
            let table = ["ln_1": "attn_norm", "attn.c_attn": "attn_qkv", "attn.c_proj": "attn_output", "ln_2": "ffn_norm",
                         "mlp.c_fc": "ffn_up", "mlp.c_proj": "ffn_down"]
            return table[module].map { "blk.\(i).\($0).\(p.last ?? "")" }
        }
    }

    /// The GGUF base tensor a LoRA target module adapts (`model.layers.0.self_attn.q_proj` → `blk.0.attn_q.weight`).
    public static func ggufName(module: String, family: ModelConfig.Family) -> String? {
        ggufName(module + ".weight", family: family)
    }

    /// An HF parameter in the GGUF layout (rows permuted when the mapping says so).
    public static func toGGUF(_ t: Tensor, _ m: GGUFTensorMapping) -> Tensor {
        guard let heads = m.permutedHeads else { return t }
        return RoPERowOrder.rotateHalfToInterleaved(t, heads: heads)
    }

    /// A GGUF tensor back in the HF layout.
    public static func fromGGUF(_ t: Tensor, _ m: GGUFTensorMapping) -> Tensor {
        guard let heads = m.permutedHeads else { return t }
        return RoPERowOrder.interleavedToRotateHalf(t, heads: heads)
    }
}
