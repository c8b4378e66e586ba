import Foundation
import Models
import Tensors

/// An adapter to run on top of a base model, with a weight that multiplies its own PEFT scale: what
/// `--adapter DIR` or `--adapter DIR:WEIGHT` names on the command line (llama.cpp's `--lora` / `--lora-scaled`).
public struct AdapterChoice: Sendable, Equatable {
    /// A PEFT adapter folder (adapter_config.json + adapter_model.safetensors).
    public var path: String
    /// 1 applies the adapter as trained; 0.5 half of its change; 0 none.
    public var weight: Double

    public init(path: String, weight: Double = 1) {
        self.path = path
        self.weight = weight
    }

    /// `DIR` or `DIR:WEIGHT`. A path that exists as given is taken whole, so folders with a colon in their name work.
    public init(parsing text: String) throws(ModelFormatError) {
        if FileManager.default.fileExists(atPath: text) {
            self.init(path: text)
            return
        }
        if let colon = text.lastIndex(of: ":"), let w = Double(text[text.index(after: colon)...]) {
            guard w.isFinite else { throw ModelFormatError(file: text, "the adapter weight must be a finite number") }
            let path = String(text[..<colon])
            guard FileManager.default.fileExists(atPath: path) else {
                throw ModelFormatError(file: path, "no such adapter folder (from --adapter '\(text)')")
            }
            self.init(path: path, weight: w)
            return
        }
        throw ModelFormatError(file: text, "no such adapter folder (write DIR or DIR:WEIGHT, e.g. \(text):0.5)")
    }
}

extension PEFTAdapter {
    /// Several adapters, each with a weight, as one LoRA that the model runs unmerged:
    /// Σᵢ wᵢ·sᵢ·Bᵢ·Aᵢ·x = [w₁s₁B₁ | w₂s₂B₂ | …] · [A₁; A₂; …] · x, so the stack has rank Σ rᵢ, scale 1, the Aᵢ
    /// stacked as rows and the scaled Bᵢ side by side; a module that an adapter does not target gets zero blocks.
    /// One adapter keeps its own rank and alpha (alpha × weight), so weight 1 runs exactly as PEFT does. Dropout is
    /// off (inference). Every adapter must fit `config`; problems name the adapter folder.
    public static func stacked(_ adapters: [(adapter: PEFTAdapter, weight: Double)], config: ModelConfig) throws(ModelError)
        -> (spec: LoRASpec, tensors: [String: Tensor])
    {
        precondition(!adapters.isEmpty, "stacked needs at least one adapter")
        for (a, _) in adapters {
            let problems = a.problems(config: config)
            if !problems.isEmpty { throw ModelError("adapter does not fit the model:\n  " + problems.joined(separator: "\n  ")) }
        }
        if adapters.count == 1 {
            var spec = adapters[0].adapter.spec
            spec.alpha *= adapters[0].weight
            spec.dropout = 0
            return (spec, adapters[0].adapter.tensors)
        }
        // The union of adapted modules, in the model's parameter order.
        var modules: [(module: String, outFeatures: Int, inFeatures: Int)] = []
        var seen = Set<String>()
        for t in adapters.flatMap({ $0.adapter.spec.targets(in: config) }) where seen.insert(t.module).inserted { modules.append(t) }
        let order = Dictionary(uniqueKeysWithValues: config.parameterShapes().enumerated().map { ($0.element.name, $0.offset) })
        modules.sort { (order[$0.module + ".weight"] ?? Int.max) < (order[$1.module + ".weight"] ?? Int.max) }

        let rank = adapters.reduce(0) { $0 + $1.adapter.spec.rank }
        var tensors: [String: Tensor] = [:]
        for m in modules {
            var a = Tensor(zeros: [rank, m.inFeatures])
            var b = Tensor(zeros: [m.outFeatures, rank])
            var offset = 0
            for (adapter, weight) in adapters {
                let r = adapter.spec.rank
                defer { offset += r }
                guard adapter.spec.adapts(module: m.module),
                      let ai = adapter.tensors[m.module + ".lora_A.weight"], let bi = adapter.tensors[m.module + ".lora_B.weight"] else { continue }
                let s = Float(adapter.spec.scale * weight)
                a.withUnsafeMutableBufferPointer { dst in
                    ai.withUnsafeBufferPointer { src in
                        for j in 0..<(r * m.inFeatures) { dst[offset * m.inFeatures + j] = src[j] }
                    }
                }
                b.withUnsafeMutableBufferPointer { dst in
                    bi.withUnsafeBufferPointer { src in
                        for row in 0..<m.outFeatures {
                            for k in 0..<r { dst[row * rank + offset + k] = s * src[row * r + k] }
                        }
                    }
                }
            }
            tensors[m.module + ".lora_A.weight"] = a
            tensors[m.module + ".lora_B.weight"] = b
        }
        let spec = LoRASpec(rank: rank, alpha: Double(rank), targetModules: modules.map(\.module))
        return (spec, tensors)
    }

    /// The base parameters the adapters' saved modules (`modules_to_save`) replace, with their new values: an adapter
    /// at weight w moves a parameter from its base value by w·(saved − base), so weight 1 puts the trained copy in
    /// place, 0 leaves the base, and several adapters add their moves (as their LoRA deltas add). `base` gives a
    /// parameter's base value in Float32 (needed only when a weight is not 1 or two adapters save the same one).
    public static func savedReplacements(_ adapters: [(adapter: PEFTAdapter, weight: Double)],
                                         base: (String) -> Tensor?) throws(ModelError) -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        let names = Set(adapters.flatMap { $0.adapter.savedModules.keys }).sorted()
        for name in names {
            let users = adapters.filter { $0.adapter.savedModules[name] != nil }
            if users.count == 1 && users[0].weight == 1 {
                out[name] = users[0].adapter.savedModules[name]!
                continue
            }
            guard let b = base(name) else { throw ModelError("the base model has no parameter \(name) for the adapters' saved module") }
            var r = b
            r.withUnsafeMutableBufferPointer { rp in
                b.withUnsafeBufferPointer { bp in
                    for (adapter, weight) in users {
                        let w = Float(weight)
                        adapter.savedModules[name]!.withUnsafeBufferPointer { sp in
                            for i in 0..<rp.count { rp[i] += w * (sp[i] - bp[i]) }
                        }
                    }
                }
            }
            out[name] = r
        }
        return out
    }

    /// The base as the adapters run it, before their LoRA deltas: untied first when one unties the LM head
    /// (`lm_head.weight` starts as the embeddings), then every saved module in place (`savedReplacements`).
    public static func withSavedModules(_ adapters: [(adapter: PEFTAdapter, weight: Double)], config: ModelConfig,
                                        weights: ModelWeights) throws(ModelError) -> (config: ModelConfig, weights: ModelWeights) {
        var runConfig = config, out = weights
        if config.tieWordEmbeddings && adapters.contains(where: \.adapter.untiesEmbeddings) {
            runConfig.tieWordEmbeddings = false
            let embedding = config.embeddingParameterName
            if let h = weights.half[embedding] { out.half["lm_head.weight"] = h } else { out.parameters["lm_head.weight"] = weights.parameters[embedding] }
        }
        let replaced = try savedReplacements(adapters) { name in out.parameters[name] ?? out.half[name]?.widened() }
        for (name, t) in replaced {
            out.parameters[name] = t
            out.half[name] = nil
        }
        return (runConfig, out)
    }

    /// Base parameters plus the adapters named by `choices`, read from their folders, as one unmerged model.
    public static func applying(_ choices: [AdapterChoice], config: ModelConfig, parameters: [String: Tensor],
                                modelPath: String) throws -> any TrainableModel {
        try applying(choices, config: config, weights: ModelWeights(parameters: parameters), modelPath: modelPath)
    }

    /// Base weights (16-bit matrices stay 16-bit) plus the adapters named by `choices` (Float32), as one unmerged model.
    public static func applying(_ choices: [AdapterChoice], config: ModelConfig, weights: ModelWeights,
                                modelPath: String) throws -> any TrainableModel {
        guard !choices.isEmpty else {
            do { return try makeLanguageModel(config: config, weights: weights) } catch {
                throw ModelFormatError(file: modelPath, error.message)
            }
        }
        let stack = try readStacked(choices, config: config)
        do {
            var (runConfig, withAdapters) = try withSavedModules(stack.adapters, config: config, weights: weights)
            withAdapters.parameters.merge(stack.tensors) { a, _ in a }
            return try makeLanguageModel(config: runConfig, weights: withAdapters, lora: stack.spec)
        } catch {
            throw ModelFormatError(file: choices.map(\.path).joined(separator: ", "), error.message)
        }
    }

    /// Reads the adapter folders `choices` names and stacks them (`stacked`); problems name the folders.
    public static func readStacked(_ choices: [AdapterChoice], config: ModelConfig) throws
        -> (adapters: [(adapter: PEFTAdapter, weight: Double)], spec: LoRASpec, tensors: [String: Tensor])
    {
        var read: [(adapter: PEFTAdapter, weight: Double)] = []
        for c in choices { read.append((try PEFTAdapter.read(from: c.path, config: config), c.weight)) }
        do {
            let (spec, tensors) = try stacked(read, config: config)
            return (read, spec, tensors)
        } catch {
            throw ModelFormatError(file: choices.map(\.path).joined(separator: ", "), error.message)
        }
    }
}
