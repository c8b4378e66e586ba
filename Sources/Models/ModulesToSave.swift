/// PEFT's `modules_to_save`: base modules trained in full beside a LoRA adapter and saved with it (axolotl's
/// `lora_modules_to_save`), typically the token embeddings and LM head.
///
/// A pattern names modules the way peft matches them: a module is chosen when its Hugging Face path ends with the
/// pattern (`embed_tokens`, `lm_head`, `model.norm`; `norm` also picks every layer norm, `layers.3` a whole layer), and
/// every parameter inside a chosen module is trained. With tied embeddings lm_head *is* the embedding matrix, so
/// `lm_head` and `embed_tokens` (GPT-2: `wte`) both choose that one matrix: it stays tied, as peft's
/// `ensure_weight_tying` keeps it.
extension ModelConfig {
    /// The token embedding matrix (also the LM head when tied).
    public var embeddingParameterName: String { family == .gpt2 ? "transformer.wte.weight" : "model.embed_tokens.weight" }

    /// The parameters (Whittle names, in `parameterShapes()` order) that `patterns` choose. A pattern that matches
    /// no module is an error naming it.
    public func savedParameterNames(modules patterns: [String]) throws(ModelError) -> [String] {
        let names = parameterShapes().map(\.name)
        var chosen = Set<String>()
        for pattern in patterns {
            guard !pattern.isEmpty else { throw ModelError("modules_to_save: an empty module name") }
            var hit = false
            for name in names where Self.modulePaths(of: name, config: self).contains(where: { $0.hasSuffix(pattern) }) {
                chosen.insert(name)
                hit = true
            }
            if !hit {
                throw ModelError("modules_to_save: \"\(pattern)\" matches no module of this \(modelType) model (module names end like "
                                 + (family == .gpt2 ? "wte, wpe, ln_f, lm_head" : "embed_tokens, norm, lm_head") + ")")
            }
        }
        return names.filter(chosen.contains)
    }

    /// The modules a parameter lives in: every dotted prefix of its name (`model`, `model.layers`, `model.layers.0`,
    /// …), plus `lm_head` for a tied embedding matrix.
    static func modulePaths(of name: String, config: ModelConfig) -> [String] {
        let parts = name.split(separator: ".")
        var paths = (1..<parts.count).map { parts[0..<$0].joined(separator: ".") }
        if config.tieWordEmbeddings && name == config.embeddingParameterName { paths.append("lm_head") }
        return paths
    }

    /// The saved parameters of `patterns` for a LoRA `spec`: an error when one of them is a weight the adapter also
    /// adapts (peft would wrap the module twice; train it in full or with LoRA, not both).
    public func savedParameterNames(modules patterns: [String], lora spec: LoRASpec) throws(ModelError) -> [String] {
        let saved = try savedParameterNames(modules: patterns)
        let adapted = Set(spec.targets(in: self).map { t in
            t.module == "lm_head" && tieWordEmbeddings ? embeddingParameterName : t.module + ".weight"
        })
        if let both = saved.first(where: adapted.contains) {
            throw ModelError("modules_to_save: \(both) is also adapted by LoRA (target_modules); a module is either trained in "
                             + "full or adapted, not both")
        }
        return saved
    }
}
