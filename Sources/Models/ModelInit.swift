import Tensors

/// Fresh parameters for a `ModelConfig`, as transformers' `_init_weights` makes them for a model built from a config.
///
/// - Linear and Embedding weights (including GPT-2's position table and an untied `lm_head`): normal(0, `std`),
///   `std` = `initializer_range` (0.02 in every Llama / Qwen2 / GPT-2 config).
/// - Biases: zero. Norm weights (RMSNorm, LayerNorm): one; LayerNorm biases: zero.
/// - GPT-2 only, as `GPT2PreTrainedModel._init_weights` does: `attn.c_proj.weight` and `mlp.c_proj.weight` use
///   `std / √(2·layers)` (the residual-scaling of the GPT-2 paper). Llama-family models have no such rule.
///
/// One `RandomGenerator(seed:)` draws every tensor in `config.parameterShapes()` order, element by element in
/// row-major order (Box–Muller, one normal per two uniforms), so a seed fixes every bit. The values are not those
/// PyTorch would draw for the same seed (different generator); only their distribution is the same.
public enum ModelInit {
    public static func parameters(config: ModelConfig, seed: UInt64, std: Double = 0.02) -> [String: Tensor] {
        var rng = RandomGenerator(seed: seed)
        var out: [String: Tensor] = [:]
        let residualStd = std / (2 * Double(config.numLayers)).squareRoot()
        for (name, shape) in config.parameterShapes() {
            var t = Tensor(zeros: shape)
            switch kind(of: name, family: config.family) {
            case .zero: break
            case .one: t = Tensor(repeating: 1, shape: shape)
            case .normal: rng.fillNormal(&t, mean: 0, std: std)
            case .residualNormal: rng.fillNormal(&t, mean: 0, std: residualStd)
            }
            out[name] = t
        }
        return out
    }

    /// How `parameters(config:seed:std:)` fills one tensor.
    public enum Kind: Sendable, Equatable { case zero, one, normal, residualNormal }

    public static func kind(of name: String, family: ModelConfig.Family) -> Kind {
        if name.hasSuffix(".bias") { return .zero }
        let isNorm = name.hasSuffix("layernorm.weight") || name.hasSuffix("norm.weight")
            || name.hasSuffix("ln_1.weight") || name.hasSuffix("ln_2.weight") || name.hasSuffix("ln_f.weight")
        if isNorm { return .one }
        if family == .gpt2 && name.hasSuffix("c_proj.weight") { return .residualNormal }
        return .normal
    }
}
