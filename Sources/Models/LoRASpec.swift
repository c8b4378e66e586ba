import Layers
import Tensors

/// Which linear layers carry LoRA adapters and how they are scaled, in PEFT's terms (`LoraConfig`).
///
/// Adapter parameters join the model's parameters under PEFT's names without the `base_model.model.` prefix:
/// `<module>.lora_A.weight` [R, I] and `<module>.lora_B.weight` [O, R], where `<module>` is the Hugging Face path of
/// the adapted linear layer (e.g. `model.layers.0.self_attn.q_proj`, `transformer.h.0.attn.c_attn`). Shapes are in
/// Whittle's layout `[out, in]` for every family: PEFT keeps lora_A/lora_B as `nn.Linear` even on GPT-2's Conv1D
/// (`fan_in_fan_out` only transposes the base weight).
public struct LoRASpec: Sendable, Equatable {
    /// r.
    public var rank: Int
    /// lora_alpha.
    public var alpha: Double
    /// use_rslora: scale alpha/√r instead of alpha/r.
    public var useRSLoRA: Bool
    /// lora_dropout, applied to the adapter's input during training only.
    public var dropout: Double
    /// PEFT target_modules: a linear layer is adapted when its path equals a target or ends with "." + target
    /// (q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj; c_attn, c_proj, c_fc; lm_head).
    public var targetModules: [String]
    /// PEFT layers_to_transform: decoder layers that get adapters; empty means every layer. lm_head is not a layer
    /// and is adapted whenever targeted.
    public var layers: [Int]

    public init(rank: Int, alpha: Double, useRSLoRA: Bool = false, dropout: Double = 0, targetModules: [String],
                layers: [Int] = []) {
        self.rank = rank
        self.alpha = alpha
        self.useRSLoRA = useRSLoRA
        self.dropout = dropout
        self.targetModules = targetModules
        self.layers = layers
    }

    /// PEFT's scaling: `alpha / r`, or `alpha / √r` with rsLoRA (computed in Double, as Python does).
    public var scale: Double { useRSLoRA ? alpha / Double(rank).squareRoot() : alpha / Double(rank) }

    /// Whether the linear layer at `module` (a Hugging Face path) is adapted.
    public func adapts(module: String) -> Bool {
        guard targetModules.contains(where: { module == $0 || module.hasSuffix("." + $0) }) else { return false }
        if layers.isEmpty { return true }
        guard let i = ModelConfig.layerIndex(of: module) else { return true }
        return layers.contains(i)
    }

    /// The adapted linear layers of a model, in parameter order, with their [out, in].
    public func targets(in config: ModelConfig) -> [(module: String, outFeatures: Int, inFeatures: Int)] {
        config.parameterShapes().compactMap { p in
            guard p.name.hasSuffix(".weight"), p.shape.count == 2 else { return nil }
            let module = String(p.name.dropLast(".weight".count))
            guard ModelConfig.isLinear(module: module), adapts(module: module) else { return nil }
            return (module, p.shape[0], p.shape[1])
        } + (config.tieWordEmbeddings && adapts(module: "lm_head") ? [("lm_head", config.vocabSize, config.hiddenSize)] : [])
    }

    /// Adapter parameter names and shapes: `<module>.lora_A.weight` [R, I], `<module>.lora_B.weight` [O, R].
    public func parameterShapes(config: ModelConfig) -> [(name: String, shape: [Int])] {
        targets(in: config).flatMap { t in
            [(t.module + ".lora_A.weight", [rank, t.inFeatures]), (t.module + ".lora_B.weight", [t.outFeatures, rank])]
        }
    }

    /// Checks the numbers and that every target names a linear layer of the model; the message names the key.
    public func validate(for config: ModelConfig) throws(ModelError) {
        if rank <= 0 { throw ModelError("lora rank (r) must be positive, got \(rank)") }
        if !(dropout >= 0 && dropout < 1) { throw ModelError("lora dropout must be in [0, 1), got \(dropout)") }
        if targetModules.isEmpty { throw ModelError("lora target_modules is empty: name at least one linear layer") }
        let linear = Set(config.parameterShapes().compactMap { p -> String? in
            let m = String(p.name.dropLast(".weight".count))
            return p.name.hasSuffix(".weight") && ModelConfig.isLinear(module: m) ? m.split(separator: ".").last.map(String.init) : nil
        } + ["lm_head"])
        let unknown = targetModules.filter { !linear.contains($0.split(separator: ".").last.map(String.init) ?? $0) }
        if !unknown.isEmpty {
            throw ModelError("lora target_modules \(unknown) are not linear layers of this \(config.modelType) model "
                             + "(it has \(linear.sorted().joined(separator: ", ")))")
        }
        if let bad = layers.first(where: { $0 < 0 || $0 >= config.numLayers }) {
            throw ModelError("lora layers: \(bad) is not a layer index 0..<\(config.numLayers)")
        }
        if targets(in: config).isEmpty { throw ModelError("lora target_modules \(targetModules) with layers \(layers) select no layer") }
    }
}

extension ModelConfig {
    /// The decoder-layer index in a Hugging Face path (`model.layers.3.…`, `transformer.h.3.…`), if any.
    public static func layerIndex(of path: String) -> Int? {
        let parts = path.split(separator: ".")
        for (i, p) in parts.enumerated() where (p == "layers" || p == "h") && i + 1 < parts.count {
            if let n = Int(parts[i + 1]) { return n }
        }
        return nil
    }

    /// Whether a module path names a linear projection (not an embedding or a norm).
    public static func isLinear(module: String) -> Bool {
        let last = module.split(separator: ".").last.map(String.init) ?? module
        return ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj",
                "c_attn", "c_proj", "c_fc", "lm_head"].contains(last)
    }
}

/// The adapter of the linear layer at `module`, when `spec` adapts it (parameters already checked).
func adapter(_ module: String, parameters: [String: Tensor], spec: LoRASpec?) -> LoRA? {
    guard let spec, spec.adapts(module: module), let a = parameters[module + ".lora_A.weight"],
          let b = parameters[module + ".lora_B.weight"] else { return nil }
    return LoRA(a: a, b: b, scale: Float(spec.scale), dropout: Float(spec.dropout))
}

extension LoRASpec {
    /// Fresh adapter parameters as PEFT initialises them: lora_A Kaiming-uniform (a = √5, bound 1/√in, as
    /// `nn.init.kaiming_uniform_`) drawn from `rng` in parameter order, lora_B zero, so the adapted model starts
    /// equal to the base.
    public func initialParameters(config: ModelConfig, rng: inout RandomGenerator) -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for t in targets(in: config) {
            var a = Tensor(zeros: [rank, t.inFeatures])
            rng.fillKaimingUniform(&a, fanIn: t.inFeatures)
            out[t.module + ".lora_A.weight"] = a
            out[t.module + ".lora_B.weight"] = Tensor(zeros: [t.outFeatures, rank])
        }
        return out
    }
}
