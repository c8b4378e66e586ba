import FileSupport
import Foundation
import Models
import Tensors
import Tokenization

/// A LoRA adapter in PEFT's folder layout: `adapter_config.json` + `adapter_model.safetensors`
/// (peft 0.21.2 `save_pretrained` of a `LoraConfig` with `task_type: CAUSAL_LM`).
///
/// In memory the adapter is a `LoRASpec` and its tensors under Whittle names (`<module>.lora_A.weight` [R, I] and
/// `<module>.lora_B.weight` [O, R], `<module>` the Hugging Face module path). On disk the names gain PEFT's
/// `base_model.model.` prefix; nothing else changes (PEFT keeps lora_A/lora_B as `nn.Linear` even on GPT-2's
/// Conv1D, so there is no transpose). The effective scale is `LoRASpec.scale` (alpha/r, or alpha/√r with rsLoRA).
///
/// Reading is lenient about what does not change the adapter's meaning (unknown keys, peft's bookkeeping keys,
/// `fan_in_fan_out`, which peft itself overrides from the layer type) and strict about what does: DoRA, trained
/// base biases (`bias`), per-module ranks, LoRA variants, base-modifying initialisations and
/// LoRA on embeddings are errors naming the key; tensors are checked against the model config with every missing,
/// unexpected or wrongly shaped tensor listed in one error naming the file.
public struct PEFTAdapter: Sendable {
    public var spec: LoRASpec
    /// `<module>.lora_A.weight` [R, I] and `<module>.lora_B.weight` [O, R] for every module `spec` targets.
    public var tensors: [String: Tensor]
    /// `base_model_name_or_path`: the hub id or path of the base model (informational; tools such as llama.cpp's
    /// converter use it to find the base config).
    public var baseModelNameOrPath: String?
    /// Full copies of embedding-layer weights that peft saves beside the adapter when lm_head is targeted (as
    /// `lm_head.base_layer.weight`) or the vocabulary was resized (as `lm_head.weight` / the embedding's name), under
    /// PEFT's names without the prefix. Kept so a read adapter writes back unchanged; merging requires them to equal
    /// the base weights (Whittle does not merge changed embeddings).
    public var embeddingCopies: [String: Tensor]
    /// peft's `modules_to_save` as adapter_config.json lists them (module-name suffixes; empty: none).
    public var modulesToSave: [String]
    /// The trained copies of the base parameters `modulesToSave` chooses (`ModelConfig.savedParameterNames`), under
    /// Whittle names: applying or merging the adapter puts them in place of the base's own. A tied model's LM head is
    /// its embedding matrix, held once here; on disk it is also written as `lm_head.weight`, as peft's
    /// `ensure_weight_tying` saves it.
    public var savedModules: [String: Tensor]
    /// The base model ties its LM head to the embeddings, and the adapter saves copies of them without peft's
    /// `ensure_weight_tying` (axolotl's `lora_modules_to_save: [embed_tokens, lm_head]`): peft then runs two matrices,
    /// and so does Whittle — the model with this adapter is untied, `lm_head.weight` starting from the embeddings
    /// (`savedModules` may hold a copy of either or both).
    public var untiesEmbeddings: Bool

    public init(spec: LoRASpec, tensors: [String: Tensor], baseModelNameOrPath: String? = nil,
                embeddingCopies: [String: Tensor] = [:], modulesToSave: [String] = [], savedModules: [String: Tensor] = [:],
                untiesEmbeddings: Bool = false) {
        self.spec = spec
        self.tensors = tensors
        self.baseModelNameOrPath = baseModelNameOrPath
        self.embeddingCopies = embeddingCopies
        self.modulesToSave = modulesToSave
        self.savedModules = savedModules
        self.untiesEmbeddings = untiesEmbeddings
    }

    /// The configuration the adapter runs on: `config`, untied when `untiesEmbeddings`.
    public func effectiveConfig(_ config: ModelConfig) -> ModelConfig {
        var c = config
        if untiesEmbeddings { c.tieWordEmbeddings = false }
        return c
    }

    public static let configFileName = "adapter_config.json"
    public static let weightsFileName = "adapter_model.safetensors"
    /// What PeftModel(LoraModel(model)) puts in front of every module path.
    public static let namePrefix = "base_model.model."
    /// The peft release whose `adapter_config.json` key set and defaults `write` reproduces (its `peft_version`).
    public static let peftVersion = "0.21.2"
}

// MARK: - Validation

extension PEFTAdapter {
    /// Every problem with the tensors against `spec` and `config` (missing, unexpected, wrong shape, embedding copies
    /// of the wrong shape), one line each naming the tensor; empty when the adapter fits.
    public func problems(config: ModelConfig) -> [String] {
        var problems: [String] = []
        let expected = spec.parameterShapes(config: config)
        for (name, shape) in expected {
            guard let t = tensors[name] else { problems.append("missing tensor \(name) \(shape)"); continue }
            if t.shape != shape { problems.append("tensor \(name) has shape \(t.shape), expected \(shape)") }
        }
        let known = Set(expected.map(\.name))
        for name in tensors.keys.sorted() where !known.contains(name) {
            problems.append("unexpected tensor \(name): not an adapter of a module the config targets")
        }
        problems += savedModuleProblems(config: config)
        for (name, t) in embeddingCopies.sorted(by: { $0.key < $1.key }) {
            guard let base = Self.embeddingCopyBase(name, config: config) else {
                problems.append("unexpected tensor \(name): not an embedding layer of this model"); continue
            }
            if t.shape != base.shape { problems.append("tensor \(name) has shape \(t.shape), expected \(base.shape)") }
        }
        return problems
    }

    /// Saved module copies against `modulesToSave`: each chosen parameter present with its shape, nothing else.
    func savedModuleProblems(config base: ModelConfig) -> [String] {
        let config = effectiveConfig(base)
        let names: [String]
        do { names = try config.savedParameterNames(modules: modulesToSave, lora: spec) } catch { return [error.message] }
        let shapes = Dictionary(uniqueKeysWithValues: config.parameterShapes().map { ($0.name, $0.shape) })
        var problems: [String] = []
        for name in names {
            guard let t = savedModules[name] else { problems.append("missing tensor \(name) \(shapes[name]!) (modules_to_save)"); continue }
            if t.shape != shapes[name]! { problems.append("tensor \(name) has shape \(t.shape), expected \(shapes[name]!)") }
        }
        for name in savedModules.keys.sorted() where !names.contains(name) {
            problems.append("unexpected tensor \(name): not in a module that modules_to_save \(modulesToSave) chooses")
        }
        return problems
    }

    /// A tied model whose embedding matrix is saved: peft's `ensure_weight_tying` writes it twice, the second time as
    /// `lm_head.weight`.
    func savesTiedEmbedding(config: ModelConfig) -> Bool {
        config.tieWordEmbeddings && !untiesEmbeddings && savedModules[config.embeddingParameterName] != nil
    }

    /// The base parameter an embedding copy duplicates: `lm_head(.base_layer).weight` is lm_head's weight (the
    /// embedding matrix when tied), the embedding's own name is the embedding.
    static func embeddingCopyBase(_ name: String, config: ModelConfig) -> (name: String, shape: [Int])? {
        let shape = [config.vocabSize, config.hiddenSize]
        switch name {
        case "lm_head.base_layer.weight", "lm_head.weight":
            return (config.tieWordEmbeddings ? config.embeddingParameterName : "lm_head.weight", shape)
        case config.embeddingParameterName: return (name, shape)
        default: return nil
        }
    }
}

// MARK: - Writing

extension PEFTAdapter {
    /// Writes `adapter_config.json` and `adapter_model.safetensors` (F32, names with `base_model.model.`) into `folder`
    /// (created if missing), each atomically. The config has every key peft 0.21.2 writes for a LoRA CAUSAL_LM
    /// adapter, in peft's format (`json.dumps(indent=2, sort_keys=True)`, no trailing newline). The spec and tensors
    /// are checked against `config` first, so an adapter peft could not load is never written.
    public func write(to folder: String, config: ModelConfig) throws {
        let configPath = folder + "/" + Self.configFileName
        do { try spec.validate(for: config) } catch { throw ModelFormatError(file: configPath, error.message) }
        let problems = problems(config: config)
        if !problems.isEmpty {
            throw ModelFormatError(file: folder + "/" + Self.weightsFileName,
                                   "adapter does not fit the model (\(problems.count) problem(s)):\n  " + problems.joined(separator: "\n  "))
        }
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        var named: [String: Tensor] = [:]
        for (name, t) in tensors { named[Self.namePrefix + name] = t }
        for (name, t) in embeddingCopies { named[Self.namePrefix + name] = t }
        for (name, t) in savedModules { named[Self.namePrefix + name] = t }
        if savesTiedEmbedding(config: config) { named[Self.namePrefix + "lm_head.weight"] = savedModules[config.embeddingParameterName]! }
        try SafetensorsWriter.write(named, to: folder + "/" + Self.weightsFileName)
        try AtomicFile.write(configJSON(config: config), to: configPath)
    }

    /// adapter_config.json text as peft 0.21.2 writes it for this adapter on `config`'s model.
    public func configJSON(config: ModelConfig) -> String {
        let (targets, layers) = PEFTTargeting.peft(for: spec, config: config)
        let alpha: JSONValue = spec.alpha == spec.alpha.rounded() && abs(spec.alpha) < 1e15 ? .integer(Int(spec.alpha)) : .double(spec.alpha)
        let fields: [String: JSONValue] = [
            "alora_invocation_tokens": .null, "alpha_pattern": .object([]), "arrow_config": .null, "auto_mapping": .null,
            "base_model_name_or_path": baseModelNameOrPath.map(JSONValue.string) ?? .null,
            "bias": .string("none"), "corda_config": .null, "ensure_weight_tying": .bool(savesTiedEmbedding(config: config)),
            "eva_config": .null,
            "exclude_modules": .null, "fan_in_fan_out": .bool(config.family == .gpt2), "inference_mode": .bool(true),
            "init_lora_weights": .bool(true), "kasa_config": .null, "layer_replication": .null, "layers_pattern": .null,
            "layers_to_transform": layers.map { .array($0.map(JSONValue.integer)) } ?? .null,
            "loftq_config": .object([]), "lora_alpha": alpha, "lora_bias": .bool(false), "lora_dropout": .double(spec.dropout),
            "lora_ga_config": .null, "megatron_config": .null, "megatron_core": .string("megatron.core"),
            "modules_to_save": modulesToSave.isEmpty ? .null : .array(modulesToSave.map(JSONValue.string)), "monteclora_config": .null, "peft_type": .string("LORA"),
            "peft_version": .string(Self.peftVersion), "qalora_group_size": .integer(16), "r": .integer(spec.rank),
            "rank_pattern": .object([]), "revision": .null, "target_modules": .array(targets.map(JSONValue.string)),
            "target_parameters": .null, "task_type": .string("CAUSAL_LM"), "trainable_token_indices": .null,
            "use_bdlora": .null, "use_dora": .bool(false), "use_qalora": .bool(false), "use_rslora": .bool(spec.useRSLoRA),
            "velora_config": .null,
        ]
        return JSONValue.object(fields.keys.sorted().map { ($0, fields[$0]!) }).serialized(indent: 2)
    }
}

// MARK: - Reading

extension PEFTAdapter {
    /// Reads a PEFT LoRA adapter folder made by peft (or by `write`) for a model with `config`.
    ///
    /// Errors name the file and the key or tensor. `target_modules` may be a list, a full-match regex string or
    /// `"all-linear"`; `exclude_modules`, `layers_to_transform` and `layers_pattern` follow peft's rules (see
    /// `PEFTTargeting`). F16/BF16 adapter tensors are widened to F32.
    public static func read(from folder: String, config: ModelConfig) throws -> PEFTAdapter {
        let configPath = folder + "/" + configFileName
        let weightsPath = folder + "/" + weightsFileName
        guard FileManager.default.fileExists(atPath: configPath) else {
            throw ModelFormatError(file: configPath, "not found: a PEFT adapter folder holds \(configFileName) and \(weightsFileName)")
        }
        let parsed = try parseConfig(path: configPath, config: config)
        if !FileManager.default.fileExists(atPath: weightsPath) {
            let legacy = folder + "/adapter_model.bin"
            if FileManager.default.fileExists(atPath: legacy) {
                throw ModelFormatError(file: legacy, "pickled PyTorch adapters are not read; convert it to \(weightsFileName) with peft (save_pretrained(safe_serialization=True))")
            }
            throw ModelFormatError(file: weightsPath, "not found")
        }
        let file = try SafetensorsFile(path: weightsPath)
        var tensors: [String: Tensor] = [:]
        var copies: [String: Tensor] = [:]
        var problems: [String] = []
        var seen = Set<String>()
        let expected = parsed.spec.parameterShapes(config: config)
        let wanted = Dictionary(uniqueKeysWithValues: expected.map { ($0.name, $0.shape) })
        var effective = config
        if parsed.untiesEmbeddings { effective.tieWordEmbeddings = false }
        let shapes = Dictionary(uniqueKeysWithValues: effective.parameterShapes().map { ($0.name, $0.shape) })
        let savedNames = parsed.savedNames
        let untied = parsed.untiesEmbeddings
        var saved: [String: Tensor] = [:]
        var tiedHeadCopy: Tensor?
        let embedding = config.embeddingParameterName
        let tiedSaved = config.tieWordEmbeddings && !untied && savedNames.contains(embedding)
        for fileName in file.names {
            guard fileName.hasPrefix(namePrefix) else {
                problems.append("unexpected tensor \(fileName): PEFT adapter tensors are named \(namePrefix)<module>.lora_A.weight / .lora_B.weight")
                continue
            }
            let name = String(fileName.dropFirst(namePrefix.count))
            let shape = file.entries[fileName]!.shape
            if let want = wanted[name] {
                seen.insert(name)
                if shape != want { problems.append("tensor \(fileName) has shape \(shape), expected \(want)"); continue }
                tensors[name] = try file.tensor(fileName)
            } else if savedNames.contains(name) {
                let want = shapes[name]!
                if shape != want { problems.append("tensor \(fileName) has shape \(shape), expected \(want)"); continue }
                saved[name] = try file.tensor(fileName)
            } else if tiedSaved && name == "lm_head.weight" {
                if shape != shapes[embedding]! { problems.append("tensor \(fileName) has shape \(shape), expected \(shapes[embedding]!)"); continue }
                tiedHeadCopy = try file.tensor(fileName)
            } else if let base = embeddingCopyBase(name, config: config) {
                if shape != base.shape { problems.append("tensor \(fileName) has shape \(shape), expected \(base.shape)"); continue }
                copies[name] = try file.tensor(fileName)
            } else {
                problems.append("unexpected tensor \(fileName): " + unexpectedReason(name))
            }
        }
        for (name, shape) in expected where !seen.contains(name) {
            problems.append("missing tensor \(namePrefix + name) \(shape)")
        }
        // A tied LM head saved under its own name: the embedding copy itself when only that name was written, and
        // otherwise the same values (peft writes one shared tensor twice).
        if let head = tiedHeadCopy {
            if let e = saved[embedding] {
                if e.scalars != head.scalars {
                    problems.append("tensor \(namePrefix)lm_head.weight differs from \(namePrefix + embedding): with tied embeddings they are one matrix")
                }
            } else {
                saved[embedding] = head
            }
        }
        for name in savedNames where saved[name] == nil {
            problems.append("missing tensor \(namePrefix + name) \(shapes[name]!) (modules_to_save \(parsed.modulesToSave))")
        }
        if !problems.isEmpty {
            throw ModelFormatError(file: weightsPath, "adapter tensors do not match \(configFileName) and the \(config.modelType) model "
                                   + "(\(problems.count) problem(s)):\n  " + problems.joined(separator: "\n  "))
        }
        return PEFTAdapter(spec: parsed.spec, tensors: tensors, baseModelNameOrPath: parsed.base, embeddingCopies: copies,
                           modulesToSave: parsed.modulesToSave, savedModules: saved, untiesEmbeddings: untied)
    }

    private static func unexpectedReason(_ name: String) -> String {
        if name.contains("lora_embedding_") { return "LoRA on embeddings is not supported" }
        if name.hasSuffix("lora_magnitude_vector") || name.contains("lora_magnitude_vector.") { return "a DoRA magnitude vector (DoRA is not supported)" }
        if name.hasSuffix("lora_B.bias") { return "a lora_B bias (lora_bias is not supported)" }
        if name.hasSuffix(".bias") { return "a trained base bias (bias other than \"none\" is not supported)" }
        if name.contains(".lora_A.") || name.contains(".lora_B.") {
            return "an adapter of a module adapter_config.json does not target (or with an adapter name left in the key)"
        }
        return "not a LoRA tensor, nor in a module that adapter_config.json's modules_to_save chooses"
    }

    // MARK: adapter_config.json

    /// Reads adapter_config.json alone: the `LoRASpec` it means on a model with `config` (peft's targeting rules
    /// resolved) and `base_model_name_or_path`. Every error names the file and the key.
    public static func readConfig(path: String, config: ModelConfig) throws(ModelFormatError) -> (spec: LoRASpec, baseModelNameOrPath: String?) {
        let parsed = try parseConfig(path: path, config: config)
        return (parsed.spec, parsed.base)
    }

    struct ParsedConfig {
        var spec: LoRASpec
        var base: String?
        var modulesToSave: [String] = []
        /// The parameters `modulesToSave` chooses (Whittle names, on the untied configuration when `untiesEmbeddings`).
        var savedNames: [String] = []
        var untiesEmbeddings = false
    }

    static func parseConfig(path: String, config: ModelConfig) throws(ModelFormatError) -> ParsedConfig {
        func fail(_ key: String, _ m: String) -> ModelFormatError { ModelFormatError(file: path, "key '\(key)': \(m)") }
        guard let data = FileManager.default.contents(atPath: path) else { throw ModelFormatError(file: path, "cannot read the file") }
        let json: JSONValue
        do { json = try JSONParser.parse(String(decoding: data, as: UTF8.self), duplicateKeys: .lastWins) } catch {
            throw ModelFormatError(file: path, "invalid JSON at \(error)")
        }
        guard case .object(let pairs) = json else { throw ModelFormatError(file: path, "not a JSON object") }
        var fields: [String: JSONValue] = [:]
        for (k, v) in pairs { fields[k] = v }
        /// nil when absent or null.
        func value(_ key: String) -> JSONValue? {
            if let v = fields[key], v != .null { return v }
            return nil
        }
        func int(_ key: String, default d: Int) throws(ModelFormatError) -> Int {
            switch value(key) {
            case nil: return d
            case .integer(let i)?: return i
            case .double(let x)? where x == x.rounded() && abs(x) < 1e15: return Int(x)
            case let v?: throw fail(key, "must be an integer, got \(v.serialized())")
            }
        }
        func number(_ key: String, default d: Double) throws(ModelFormatError) -> Double {
            switch value(key) {
            case nil: return d
            case .integer(let i)?: return Double(i)
            case .double(let x)?: return x
            case let v?: throw fail(key, "must be a number, got \(v.serialized())")
            }
        }
        func bool(_ key: String, default d: Bool) throws(ModelFormatError) -> Bool {
            switch value(key) {
            case nil: return d
            case .bool(let b)?: return b
            case let v?: throw fail(key, "must be true or false, got \(v.serialized())")
            }
        }
        /// A string, or a list of strings (nil when absent or null; an empty exclude list is nil too).
        func modules(_ key: String) throws(ModelFormatError) -> PEFTTargeting.Modules? {
            switch value(key) {
            case nil: return nil
            case .string(let s)?: return key == "target_modules" && s.lowercased() == "all-linear" ? .allLinear : .regex(s)
            case .array(let a)?:
                var out: [String] = []
                for v in a {
                    guard case .string(let s) = v else { throw fail(key, "must be a string or a list of strings, got \(v.serialized()) in the list") }
                    out.append(s)
                }
                // peft finds no module for an empty target list; only an empty exclude list means "none".
                return out.isEmpty && key != "target_modules" ? nil : .list(out)
            case let v?: throw fail(key, "must be a string or a list of strings, got \(v.serialized())")
            }
        }
        func unsupported(_ key: String, when bad: (JSONValue) -> Bool, _ why: String) throws(ModelFormatError) {
            if let v = value(key), bad(v) { throw fail(key, "\(v.serialized()) is not supported: \(why)") }
        }
        let isTrue: (JSONValue) -> Bool = { $0 == .bool(true) }
        let nonEmpty: (JSONValue) -> Bool = { v in
            switch v {
            case .object(let o): !o.isEmpty
            case .array(let a): !a.isEmpty
            case .string(let s): !s.isEmpty
            case .bool(let b): b
            default: true
            }
        }

        // What the adapter is.
        guard let peftType = value("peft_type") else { throw fail("peft_type", "missing: PEFT adapter configs name their method (\"LORA\")") }
        guard peftType == .string("LORA") else { throw fail("peft_type", "\(peftType.serialized()) is not supported: Whittle reads LoRA adapters (\"LORA\") only") }
        if let task = value("task_type"), task != .string("CAUSAL_LM") {
            throw fail("task_type", "\(task.serialized()) is not supported: Whittle reads adapters of causal language models (\"CAUSAL_LM\")")
        }
        // Features that change what the adapter computes.
        try unsupported("use_dora", when: isTrue, "DoRA adds a magnitude vector Whittle does not apply")
        try unsupported("bias", when: { $0 != .string("none") }, "trained base biases are not merged (\"none\" only)")
        try unsupported("lora_bias", when: isTrue, "a bias on lora_B is not merged")
        try unsupported("rank_pattern", when: nonEmpty, "per-module ranks are not supported (one r for every module)")
        try unsupported("alpha_pattern", when: nonEmpty, "per-module alphas are not supported (one lora_alpha for every module)")
        try unsupported("layer_replication", when: nonEmpty, "layer replication changes the base model")
        try unsupported("target_parameters", when: nonEmpty, "LoRA on bare parameters is not supported")
        try unsupported("trainable_token_indices", when: nonEmpty, "trainable tokens change the embeddings")
        try unsupported("use_qalora", when: isTrue, "QALoRA pools the adapter input")
        for variant in ["use_bdlora", "velora_config", "alora_invocation_tokens", "monteclora_config", "arrow_config", "kasa_config"] {
            try unsupported(variant, when: nonEmpty, "this LoRA variant computes something other than W + scale·B·A")
        }
        try unsupported("lora_ga_config", when: nonEmpty, "LoRA-GA initialisation changes the base weights; save the adapter with peft's path_initial_model_for_weight_conversion")
        try unsupported("init_lora_weights", when: { v in
            switch v {
            case .bool: false
            case .string(let s): !["gaussian", "orthogonal", "eva"].contains(s)
            default: true
            }
        }, "this initialisation changes the base weights or the LoRA math (PiSSA, OLoRA, CorDA, LoftQ, MiCA); "
            + "save the adapter with peft's path_initial_model_for_weight_conversion to get a plain LoRA")

        // The LoRA itself (peft's LoraConfig defaults when absent).
        let rank = try int("r", default: 8)
        guard rank > 0 else { throw fail("r", "must be positive, got \(rank)") }
        let alpha = try number("lora_alpha", default: 8)
        guard alpha.isFinite else { throw fail("lora_alpha", "must be finite") }
        let dropout = try number("lora_dropout", default: 0)
        guard dropout >= 0 && dropout < 1 else { throw fail("lora_dropout", "must be in [0, 1), got \(dropout)") }
        let rs = try bool("use_rslora", default: false)
        _ = try bool("fan_in_fan_out", default: false)  // peft overrides it from the layer type; the tensors are the same

        var layers: [Int]? = nil
        switch value("layers_to_transform") {
        case nil: break
        case .integer(let i)?: layers = [i]
        case .array(let a)?:
            var out: [Int] = []
            for v in a {
                guard case .integer(let i) = v else { throw fail("layers_to_transform", "must be an integer or a list of integers, got \(v.serialized()) in the list") }
                out.append(i)
            }
            layers = out.isEmpty ? nil : out
        case let v?: throw fail("layers_to_transform", "must be an integer or a list of integers, got \(v.serialized())")
        }
        if let bad = layers?.first(where: { $0 < 0 || $0 >= config.numLayers }) {
            throw fail("layers_to_transform", "\(bad) is not a layer of this model (0..<\(config.numLayers))")
        }
        var layersPattern: [String]? = nil
        switch value("layers_pattern") {
        case nil: break
        case .string(let s)?: layersPattern = s.isEmpty ? nil : [s]
        case .array(let a)?:
            layersPattern = a.compactMap(\.stringValue)
            guard layersPattern!.count == a.count else { throw fail("layers_pattern", "must be a string or a list of strings") }
            if layersPattern!.isEmpty { layersPattern = nil }
        case let v?: throw fail("layers_pattern", "must be a string or a list of strings, got \(v.serialized())")
        }

        let targets = try modules("target_modules") ?? .list(config.peftDefaultTargets)
        let exclude = try modules("exclude_modules")
        let spec: LoRASpec
        do {
            let targeting = try PEFTTargeting(targets: targets, exclude: exclude, layers: layers, layersPattern: layersPattern)
            let selected = try targeting.resolve(in: config)
            spec = targeting.lora(rank: rank, alpha: alpha, useRSLoRA: rs, dropout: dropout, selected: selected, config: config)
        } catch { throw fail(error.key, error.message) }
        do { try spec.validate(for: config) } catch { throw fail("target_modules", error.message) }

        let base: String?
        switch value("base_model_name_or_path") {
        case nil: base = nil
        case .string(let s)?: base = s
        case let v?: throw fail("base_model_name_or_path", "must be a string, got \(v.serialized())")
        }
        // Modules trained in full beside the adapter.
        var modulesToSave: [String] = []
        switch value("modules_to_save") {
        case nil: break
        case .array(let a)?:
            for v in a {
                guard case .string(let s) = v else { throw fail("modules_to_save", "must be a list of module names, got \(v.serialized()) in the list") }
                if !modulesToSave.contains(s) { modulesToSave.append(s) }
            }
        case let v?: throw fail("modules_to_save", "must be a list of module names, got \(v.serialized())")
        }
        // On a tied model, embedding or LM-head copies saved without ensure_weight_tying untie the two (peft wraps each
        // module in its own copy; the LM head not saved keeps the base embeddings).
        var savedNames: [String]
        do { savedNames = try config.savedParameterNames(modules: modulesToSave, lora: spec) } catch {
            throw fail("modules_to_save", String(error.message.dropFirst("modules_to_save: ".count)))
        }
        let tiesSaved = try bool("ensure_weight_tying", default: false)
        let unties = config.tieWordEmbeddings && savedNames.contains(config.embeddingParameterName) && !tiesSaved
        if unties {
            var untied = config
            untied.tieWordEmbeddings = false
            do { savedNames = try untied.savedParameterNames(modules: modulesToSave, lora: spec) } catch {
                throw fail("modules_to_save", String(error.message.dropFirst("modules_to_save: ".count)))
            }
        }
        return ParsedConfig(spec: spec, base: base, modulesToSave: modulesToSave, savedNames: savedNames, untiesEmbeddings: unties)
    }
}
