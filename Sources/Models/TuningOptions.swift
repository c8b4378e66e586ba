/// The `tuning` section of a recipe: what is trained. Codable and strict (FineTuning's StrictConfig); documented
/// in Recipes/README.md.
///
/// - `method: lora` trains PEFT-style adapters (`r`, `alpha`, `dropout`, `rslora`, `target_modules`, `layers`) on a
///   frozen base, plus any `modules_to_save` in full.
/// - `method: full` trains the base weights themselves: all of them, or those whose name contains one of the
///   `trainable` patterns (e.g. `[layers.10., layers.11., model.norm]`).
public struct TuningOptions: Codable, Sendable, Equatable {
    public enum Method: String, Codable, Sendable { case lora, full }

    public var method: Method = .lora
    public var r: Int = 8
    public var alpha: Double = 16
    public var dropout: Double = 0.05
    public var rslora: Bool = false
    /// Module names (PEFT target_modules); `all-linear` means every linear projection except the LM head, as in PEFT.
    public var targetModules: [String] = ["all-linear"]
    /// Decoder layers that get adapters; empty = all.
    public var layers: [Int] = []
    /// Full fine-tuning only: parameter-name substrings to train; empty = every parameter.
    public var trainable: [String] = []
    /// LoRA only: base modules trained in full beside the adapter and saved with it (PEFT's `modules_to_save`, e.g.
    /// `[embed_tokens]`); see `ModelConfig.savedParameterNames(modules:)`.
    public var modulesToSave: [String] = []

    public init() {}

    /// The adapter specification for `config` (`all-linear` expanded for the model's family).
    public func loraSpec(for config: ModelConfig) throws(ModelError) -> LoRASpec {
        var targets: [String] = []
        for t in targetModules {
            if t == "all-linear" {
                targets += config.family == .gpt2 ? ["c_attn", "c_proj", "c_fc"]
                    : ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
            } else if !targets.contains(t) {
                targets.append(t)
            }
        }
        let spec = LoRASpec(rank: r, alpha: alpha, useRSLoRA: rslora, dropout: dropout, targetModules: targets, layers: layers)
        try spec.validate(for: config)
        return spec
    }

    /// LoRA: the base parameters `modules_to_save` trains beside the adapter (none when it is empty). Errors name the
    /// key: `modules_to_save` with full fine-tuning, a pattern that matches nothing, a module also adapted.
    public func savedNames(for config: ModelConfig) throws(ModelError) -> [String] {
        guard !modulesToSave.isEmpty else { return [] }
        guard method == .lora else {
            throw ModelError("tuning.modules_to_save applies to LoRA; full fine-tuning chooses its parameters with tuning.trainable")
        }
        do { return try config.savedParameterNames(modules: modulesToSave, lora: try loraSpec(for: config)) } catch {
            throw ModelError("tuning." + error.message)
        }
    }

    /// Full fine-tuning: the names of the base parameters to train (every one when `trainable` is empty). A pattern
    /// that matches nothing is an error naming it.
    public func trainableNames(for config: ModelConfig) throws(ModelError) -> [String] {
        let all = config.parameterShapes().map(\.name)
        if trainable.isEmpty { return all }
        for p in trainable where !all.contains(where: { $0.contains(p) }) {
            throw ModelError("tuning.trainable: \"\(p)\" matches no parameter of this \(config.modelType) model "
                             + "(names look like \(all.prefix(3).joined(separator: ", ")))")
        }
        return all.filter { n in trainable.contains { n.contains($0) } }
    }
}
