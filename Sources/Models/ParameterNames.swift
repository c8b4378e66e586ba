/// Parameter names and shapes, exactly as Hugging Face checkpoints name them, in Whittle's layout (Linear
/// `[out, in]`). For GPT-2 the names carry the `transformer.` prefix and the Conv1D weights are listed
/// transposed (`[out, in]`); ModelFormats transposes on import/export.
extension ModelConfig {
    public func parameterShapes() -> [(name: String, shape: [Int])] {
        var out: [(String, [Int])] = []
        let c = hiddenSize, f = intermediateSize, v = vocabSize
        switch family {
        case .llama:
            let q = numHeads * headDim, kv = numKVHeads * headDim
            out.append(("model.embed_tokens.weight", [v, c]))
            for i in 0..<numLayers {
                let p = "model.layers.\(i)."
                out.append((p + "input_layernorm.weight", [c]))
                out.append((p + "self_attn.q_proj.weight", [q, c]))
                out.append((p + "self_attn.k_proj.weight", [kv, c]))
                out.append((p + "self_attn.v_proj.weight", [kv, c]))
                if qkvBias {
                    out.append((p + "self_attn.q_proj.bias", [q]))
                    out.append((p + "self_attn.k_proj.bias", [kv]))
                    out.append((p + "self_attn.v_proj.bias", [kv]))
                }
                out.append((p + "self_attn.o_proj.weight", [c, q]))
                if outputProjBias { out.append((p + "self_attn.o_proj.bias", [c])) }
                out.append((p + "post_attention_layernorm.weight", [c]))
                out.append((p + "mlp.gate_proj.weight", [f, c]))
                out.append((p + "mlp.up_proj.weight", [f, c]))
                out.append((p + "mlp.down_proj.weight", [c, f]))
                if mlpBias {
                    out.append((p + "mlp.gate_proj.bias", [f]))
                    out.append((p + "mlp.up_proj.bias", [f]))
                    out.append((p + "mlp.down_proj.bias", [c]))
                }
            }
            out.append(("model.norm.weight", [c]))
            if !tieWordEmbeddings { out.append(("lm_head.weight", [v, c])) }
        case .gpt2:
            let t = "transformer."
            out.append((t + "wte.weight", [v, c]))
            out.append((t + "wpe.weight", [maxPositionEmbeddings, c]))
            for i in 0..<numLayers {
                let p = t + "h.\(i)."
                out.append((p + "ln_1.weight", [c])); out.append((p + "ln_1.bias", [c]))
                out.append((p + "attn.c_attn.weight", [3 * c, c])); out.append((p + "attn.c_attn.bias", [3 * c]))
                out.append((p + "attn.c_proj.weight", [c, c])); out.append((p + "attn.c_proj.bias", [c]))
                out.append((p + "ln_2.weight", [c])); out.append((p + "ln_2.bias", [c]))
                out.append((p + "mlp.c_fc.weight", [f, c])); out.append((p + "mlp.c_fc.bias", [f]))
                out.append((p + "mlp.c_proj.weight", [c, f])); out.append((p + "mlp.c_proj.bias", [c]))
            }
            out.append((t + "ln_f.weight", [c])); out.append((t + "ln_f.bias", [c]))
            if !tieWordEmbeddings { out.append(("lm_head.weight", [v, c])) }
        }
        return out
    }

    /// GPT-2 parameters stored by HF as Conv1D `[in, out]` (transposed on import into `[out, in]`).
    public static func isGPT2Conv1DWeight(_ name: String) -> Bool {
        name.hasSuffix("attn.c_attn.weight") || name.hasSuffix("attn.c_proj.weight")
            || name.hasSuffix("mlp.c_fc.weight") || name.hasSuffix("mlp.c_proj.weight")
    }
}
