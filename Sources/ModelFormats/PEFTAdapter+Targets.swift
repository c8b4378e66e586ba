import Foundation
import Models

/// PEFT's rules for which modules of a model get LoRA (peft 0.21.2 `tuners_utils.check_target_module_exists`),
/// applied to the modules of a Whittle `ModelConfig`, and the translation between them and a `LoRASpec`.
///
/// The rules, as peft applies them to a module path `key`:
/// 1. `exclude_modules` first: a string is a full-match regex; a list matches `key` equal to an entry or ending in
///    `"." + entry`.
/// 2. `target_modules` as a string: a full-match regex on `key` (and `layers_to_transform` is then not applied);
///    `"all-linear"` means every linear layer except the output layer.
/// 3. `target_modules` as a list: `key` equal to an entry matches outright (so `lm_head`, and a full module path,
///    ignore `layers_to_transform`); `key` ending in `"." + entry` matches only if, when `layers_to_transform` is set,
///    the first numbered path segment (`model.layers.N.`, or the one after `layers_pattern`) is one of those layers.
///
/// `LoRASpec.adapts` reads a list and layers the same way except for full module paths, which it also filters by
/// layer; the translations below fall back to full paths without layers whenever the two readings would differ.
struct PEFTTargeting {
    enum Modules: Equatable {
        case list([String])
        /// A regex that must match the whole module path.
        case regex(String)
        /// peft's `"all-linear"` shorthand.
        case allLinear
    }

    var targets: Modules
    var exclude: Modules? = nil
    /// nil: every layer.
    var layers: [Int]? = nil
    /// nil: the first numbered path segment is the layer index.
    var layersPattern: [String]? = nil

    /// The regex forms compiled once; an invalid pattern is an error naming the key.
    private var compiled: [String: NSRegularExpression] = [:]
    /// How a module path yields its layer index, in order (peft's default pattern when `layers_pattern` is empty).
    private var layerRegexes: [NSRegularExpression] = []

    init(targets: Modules, exclude: Modules? = nil, layers: [Int]? = nil, layersPattern: [String]? = nil) throws(PEFTTargetError) {
        self.targets = targets
        self.exclude = exclude
        self.layers = layers
        self.layersPattern = layersPattern
        for (key, m) in [("target_modules", targets), ("exclude_modules", exclude)] {
            guard case .regex(let pattern)? = m else { continue }
            do { compiled[pattern] = try NSRegularExpression(pattern: "\\A(?:" + pattern + ")\\z") } catch {
                throw PEFTTargetError(key: key, "is not a valid regular expression: \(pattern)")
            }
        }
        for p in layersPattern ?? [] {
            do { layerRegexes.append(try NSRegularExpression(pattern: "\\A(?:.*?\\.)?" + p + "\\.(\\d+)\\.")) } catch {
                throw PEFTTargetError(key: "layers_pattern", "is not a valid regular expression: \(p)")
            }
        }
        if layerRegexes.isEmpty {
            do { layerRegexes = [try NSRegularExpression(pattern: "\\A.*?\\.[^.]*\\.(\\d+)\\.")] } catch {
                throw PEFTTargetError(key: "layers_to_transform", "internal: the layer-index pattern does not compile")
            }
        }
    }

    /// Whether peft puts LoRA on the module at `key` (a Hugging Face module path).
    func adapts(_ key: String) -> Bool {
        if let exclude, matches(exclude, key) { return false }
        switch targets {
        case .regex, .allLinear: return matches(targets, key)
        case .list(let list):
            if list.contains(key) { return true }
            guard list.contains(where: { key.hasSuffix("." + $0) }) else { return false }
            guard let layers else { return true }
            guard let index = layerIndex(key) else { return false }
            return layers.contains(index)
        }
    }

    private func matches(_ m: Modules, _ key: String) -> Bool {
        switch m {
        case .list(let list): return list.contains(key) || list.contains { key.hasSuffix("." + $0) }
        case .regex(let pattern): return Self.firstMatch(compiled[pattern], key) != nil
        case .allLinear:
            return key != "lm_head" && ModelConfig.isLinear(module: key)
        }
    }

    /// peft: with no `layers_pattern`, `re.match(r".*?\.[^.]*\.(?P<idx>\d+)\.", key)`; otherwise the first pattern
    /// that matches `(?:^|.*?\.)<pattern>\.(?P<idx>\d+)\.`.
    private func layerIndex(_ key: String) -> Int? {
        for regex in layerRegexes {
            if let m = Self.firstMatch(regex, key), let r = Range(m.range(at: 1), in: key) { return Int(key[r]) }
        }
        return nil
    }

    private static func firstMatch(_ regex: NSRegularExpression?, _ s: String) -> NSTextCheckingResult? {
        regex?.firstMatch(in: s, range: NSRange(s.startIndex..., in: s))
    }
}

/// A problem with one key of adapter_config.json's targeting.
struct PEFTTargetError: Error {
    let key: String
    let message: String
    init(key: String, _ message: String) { self.key = key; self.message = message }
}

// MARK: - Modules of a model

extension ModelConfig {
    /// Paths of every linear layer a LoRA may sit on, in parameter order, with their [out, in]; lm_head last
    /// (present also when tied: its weight is the embedding matrix).
    var peftLinearModules: [(module: String, outFeatures: Int, inFeatures: Int)] {
        var out: [(String, Int, Int)] = parameterShapes().compactMap { p in
            guard p.name.hasSuffix(".weight"), p.shape.count == 2 else { return nil }
            let module = String(p.name.dropLast(".weight".count))
            guard ModelConfig.isLinear(module: module), module != "lm_head" else { return nil }
            return (module, p.shape[0], p.shape[1])
        }
        out.append(("lm_head", vocabSize, hiddenSize))
        return out
    }

    /// Embedding modules (LoRA on them is not supported).
    var peftEmbeddingModules: [String] {
        family == .gpt2 ? ["transformer.wte", "transformer.wpe"] : ["model.embed_tokens"]
    }

    /// peft's default `target_modules` when a config has none (`TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING`).
    var peftDefaultTargets: [String] { family == .gpt2 ? ["c_attn"] : ["q_proj", "v_proj"] }
}

// MARK: - LoRASpec ⇄ PEFT targeting

extension PEFTTargeting {
    /// The linear modules of `config` peft adapts, in parameter order. Errors if the rules select an embedding or
    /// nothing at all.
    func resolve(in config: ModelConfig) throws(PEFTTargetError) -> [String] {
        if let hit = config.peftEmbeddingModules.first(where: adapts) {
            throw PEFTTargetError(key: "target_modules", "selects the embedding \(hit): LoRA on embeddings is not supported")
        }
        let selected = config.peftLinearModules.map(\.module).filter(adapts)
        if selected.isEmpty {
            throw PEFTTargetError(key: "target_modules", "selects no linear layer of this \(config.modelType) model")
        }
        return selected
    }

    /// The simplest `LoRASpec` targeting that adapts exactly `selected`: peft's own list and layers when
    /// `LoRASpec.adapts` reads them the same way, otherwise the full module paths (which both read alike). Lists
    /// come out sorted (peft writes a Python set, in no particular order), so equal configs give equal specs.
    func lora(rank: Int, alpha: Double, useRSLoRA: Bool, dropout: Double, selected: [String],
              config: ModelConfig) -> LoRASpec {
        var candidates: [LoRASpec] = []
        if exclude == nil {
            switch targets {
            case .list(let list):
                candidates.append(LoRASpec(rank: rank, alpha: alpha, useRSLoRA: useRSLoRA, dropout: dropout,
                                           targetModules: Set(list).sorted(), layers: Set(layers ?? []).sorted()))
            case .allLinear:
                let names = Set(selected.map { $0.split(separator: ".").last.map(String.init) ?? $0 })
                candidates.append(LoRASpec(rank: rank, alpha: alpha, useRSLoRA: useRSLoRA, dropout: dropout,
                                           targetModules: names.sorted(), layers: []))
            case .regex: break
            }
        }
        for c in candidates where Set(c.targets(in: config).map(\.module)) == Set(selected) && (try? c.validate(for: config)) != nil {
            return c
        }
        return LoRASpec(rank: rank, alpha: alpha, useRSLoRA: useRSLoRA, dropout: dropout, targetModules: selected.sorted(), layers: [])
    }

    /// peft's `target_modules` / `layers_to_transform` for `spec`: its own list and layers when peft reads them as
    /// Whittle does (always, except full module paths together with layers), else the full paths.
    static func peft(for spec: LoRASpec, config: ModelConfig) -> (targets: [String], layers: [Int]?) {
        let wanted = Set(spec.targets(in: config).map(\.module))
        let layers: [Int]? = spec.layers.isEmpty ? nil : spec.layers.sorted()
        let plain = spec.targetModules.sorted()
        if let t = try? PEFTTargeting(targets: .list(plain), layers: layers),
           Set(config.peftLinearModules.map(\.module).filter(t.adapts)) == wanted,
           !config.peftEmbeddingModules.contains(where: t.adapts) {
            return (plain, layers)
        }
        return (spec.targets(in: config).map(\.module).sorted(), nil)
    }
}
