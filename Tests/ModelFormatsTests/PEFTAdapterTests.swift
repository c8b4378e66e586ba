import Foundation
import ModelFormats
import Models
import Tensors
import TestSupport
import Testing
import Tokenization

@Suite struct PEFTAdapterReadTests {
    /// The adapter peft wrote reads back as peft's own LoraConfig and LoRA layers describe it: rank, alpha, rsLoRA,
    /// dropout, the scale of every adapted module (LoraLayer.scaling), which modules are adapted
    /// (targeted_module_names) and the tensors, bit for bit.
    @Test(arguments: peftCases)
    func readsWhatPEFTWrote(_ name: String) throws {
        let c = try PEFTCase(name)
        let adapter = try PEFTAdapter.read(from: c.adapterFolder, config: c.config)
        #expect(adapter.spec.rank == c.expected["r"].int)
        #expect(adapter.spec.alpha == c.expected["lora_alpha"].double)
        #expect(adapter.spec.useRSLoRA == isTrue(c.expected["use_rslora"]))
        #expect(adapter.spec.dropout == c.expected["lora_dropout"].double)
        #expect(adapter.baseModelNameOrPath == "Tests/Reference/fixtures/models/\(c.expected["base"].string)")
        let targets = adapter.spec.targets(in: c.config).map(\.module)
        #expect(targets.sorted() == c.expected["targeted_modules"].array.map(\.string), "\(name): adapted modules")
        guard case .object(let scaling) = c.expected["scaling"] else { Issue.record("no scaling in expected.json"); return }
        #expect(scaling.count == targets.count)
        for (module, s) in scaling { #expect(adapter.spec.scale == s.double, "\(name): scale of \(module) is \(adapter.spec.scale), peft's \(s.double)") }

        let file = try SafetensorsFile(path: c.adapterFolder + "/adapter_model.safetensors")
        let loraNames = file.names.filter { $0.contains(".lora_") }
        #expect(adapter.tensors.count == loraNames.count)
        for fileName in loraNames {
            let whittle = String(fileName.dropFirst(PEFTAdapter.namePrefix.count))
            #expect(adapter.tensors[whittle]?.scalars == (try file.tensor(fileName)).scalars, "\(name): \(fileName)")
        }
        // Every name in the file is accounted for: LoRA pairs, peft's embedding copy when lm_head is targeted, and the
        // modules_to_save copies (a tied LM head's twice, as peft's ensure_weight_tying writes it), bit for bit.
        var accounted = Set((Array(adapter.embeddingCopies.keys) + Array(adapter.savedModules.keys)).map { PEFTAdapter.namePrefix + $0 })
        if c.config.tieWordEmbeddings && adapter.savedModules[c.config.embeddingParameterName] != nil {
            accounted.insert(PEFTAdapter.namePrefix + "lm_head.weight")
        }
        #expect(accounted == Set(file.names).subtracting(loraNames))
        for (k, t) in adapter.savedModules {
            #expect(t.scalars == (try file.tensor(PEFTAdapter.namePrefix + k)).scalars, "\(name): saved \(k)")
        }
        if case .array(let saved) = c.expected["saved_tensors"] {
            #expect(Set(saved.map(\.string)) == Set(file.names).subtracting(loraNames), "\(name): saved tensors")
            #expect(!adapter.savedModules.isEmpty && adapter.modulesToSave == c.expected["modules_to_save"].array.map(\.string))
        } else {
            #expect(adapter.savedModules.isEmpty && adapter.modulesToSave.isEmpty)
        }
        #expect(adapter.problems(config: c.config).isEmpty)
    }

    /// read → write → read gives the same adapter, tensors bit for bit.
    @Test(arguments: peftCases)
    func writeReadRoundTrip(_ name: String) throws {
        let c = try PEFTCase(name)
        let scratch = try Scratch()
        let adapter = try PEFTAdapter.read(from: c.adapterFolder, config: c.config)
        // With WHITTLE_PEFT_EXPORT set, the written adapters stay there for Tests/Reference/check_peft.py.
        let exportRoot = ProcessInfo.processInfo.environment["WHITTLE_PEFT_EXPORT"]
        let out = (exportRoot ?? scratch.path) + "/\(name)/adapter"
        try adapter.write(to: out, config: c.config)
        let back = try PEFTAdapter.read(from: out, config: c.config)
        #expect(back.spec == adapter.spec)
        #expect(back.baseModelNameOrPath == adapter.baseModelNameOrPath)
        #expect(Set(back.tensors.keys) == Set(adapter.tensors.keys))
        for (k, t) in adapter.tensors { #expect(back.tensors[k]?.shape == t.shape && back.tensors[k]?.scalars == t.scalars, "\(k)") }
        #expect(Set(back.embeddingCopies.keys) == Set(adapter.embeddingCopies.keys))
        for (k, t) in adapter.embeddingCopies { #expect(back.embeddingCopies[k]?.scalars == t.scalars, "\(k)") }
        #expect(back.modulesToSave == adapter.modulesToSave)
        #expect(Set(back.savedModules.keys) == Set(adapter.savedModules.keys))
        for (k, t) in adapter.savedModules { #expect(back.savedModules[k]?.scalars == t.scalars, "\(k)") }
        // The file itself: F32, PEFT names, peft's metadata.
        let file = try SafetensorsFile(path: out + "/adapter_model.safetensors")
        #expect(file.metadata == ["format": "pt"])
        #expect(file.entries.values.allSatisfy { $0.dtype == .F32 })
        #expect(Set(file.names) == Set(try SafetensorsFile(path: c.adapterFolder + "/adapter_model.safetensors").names))
    }

    /// Whittle's adapter_config.json has exactly the keys and values peft wrote for the same adapter, the same JSON
    /// types (8 stays an integer, 0.0 a float) and peft's layout. target_modules is compared as a set (peft writes a
    /// Python set in arbitrary order; Whittle sorts); peft's regex form is written as the module paths it selects.
    @Test(arguments: peftCases)
    func configMatchesPEFTs(_ name: String) throws {
        let c = try PEFTCase(name)
        let adapter = try PEFTAdapter.read(from: c.adapterFolder, config: c.config)
        let ours = try JSONParser.parse(adapter.configJSON(config: c.config))
        let peftText = try String(contentsOfFile: c.adapterFolder + "/adapter_config.json", encoding: .utf8)
        let theirs = try JSONParser.parse(peftText)
        #expect(ours.keys == theirs.keys, "\(name): keys differ: only ours \(Set(ours.keys).subtracting(theirs.keys)), only peft's \(Set(theirs.keys).subtracting(ours.keys))")
        for key in theirs.keys where key != "target_modules" {
            #expect(ours[key] == theirs[key], "\(name): \(key) is \(ours[key]?.serialized() ?? "absent"), peft wrote \(theirs[key]?.serialized() ?? "absent")")
        }
        let ourTargets = ours["target_modules"]?.arrayValue?.compactMap(\.stringValue) ?? []
        #expect(ourTargets == ourTargets.sorted(), "target_modules is written sorted")
        switch theirs["target_modules"] {
        case .array(let list)?:
            #expect(ourTargets == list.compactMap(\.stringValue).sorted(), "\(name): target_modules")
            // Same text as peft's once peft's set order is made sorted: the layout is peft's json.dumps(indent=2, sort_keys=True).
            var sortedTheirs = theirs
            if case .object(var pairs) = theirs, let i = pairs.firstIndex(where: { $0.key == "target_modules" }) {
                pairs[i].value = .array(list.sorted { ($0.stringValue ?? "") < ($1.stringValue ?? "") })
                sortedTheirs = .object(pairs)
            }
            let reordered = peftText.replacingOccurrences(of: try #require(theirs["target_modules"]).serialized(indent: 2).replacingOccurrences(of: "\n", with: "\n  "),
                                                          with: try #require(sortedTheirs["target_modules"]).serialized(indent: 2).replacingOccurrences(of: "\n", with: "\n  "))
            #expect(adapter.configJSON(config: c.config) == reordered, "\(name): adapter_config.json text differs from peft's")
        case .string?:
            #expect(ourTargets == c.expected["targeted_modules"].array.map(\.string), "\(name): the regex's modules as paths")
        default: Issue.record("\(name): peft's target_modules is neither a list nor a string")
        }
    }
}

@Suite struct PEFTTargetingTests {
    let config: ModelConfig
    init() throws { config = try HFConfig.read(path: repoRoot.appendingPathComponent("Tests/Reference/fixtures/models/llama_untied/config.json").path) }

    func adapterFolder(_ scratch: Scratch, _ edit: (inout [String: Any]) -> Void) throws -> String {
        let c = try PEFTCase("llama_all_linear")
        let dir = try scratch.copy(c.adapterFolder, as: "a\(UUID().uuidString.prefix(6))")
        try editJSON(dir + "/adapter_config.json", edit)
        return dir
    }

    /// The same seven modules named as a list, as peft's regex string, and as "all-linear" read to the same targets.
    @Test func listRegexAndAllLinearAgree() throws {
        let scratch = try Scratch()
        let list = try PEFTAdapter.read(from: try PEFTCase("llama_all_linear").adapterFolder, config: config)
        let regex = try PEFTAdapter.read(from: try adapterFolder(scratch) { $0["target_modules"] = #".*\.(q|k|v|o|gate|up|down)_proj"# }, config: config)
        let all = try PEFTAdapter.read(from: try adapterFolder(scratch) { $0["target_modules"] = "all-linear" }, config: config)
        let wanted = list.spec.targets(in: config).map(\.module)
        #expect(wanted.count == 21)
        #expect(regex.spec.targets(in: config).map(\.module) == wanted)
        #expect(all.spec.targets(in: config).map(\.module) == wanted)
        // all-linear reads back as peft expands it: the layer names, not lm_head.
        #expect(all.spec.targetModules == ["down_proj", "gate_proj", "k_proj", "o_proj", "q_proj", "up_proj", "v_proj"])
    }

    /// A regex must match the whole path (re.fullmatch): "q_proj" alone selects nothing, so the tensors are unexpected.
    @Test func regexIsAFullMatch() throws {
        let scratch = try Scratch()
        let dir = try adapterFolder(scratch) { $0["target_modules"] = "q_proj" }
        let message = formatError { _ = try PEFTAdapter.read(from: dir, config: config) }
        #expect(message.contains("adapter_config.json") && message.contains("target_modules") && message.contains("selects no linear layer"), "\(message)")
    }

    /// With layers_to_transform, peft still adapts a module whose whole path is a target (lm_head, or a full path in
    /// another layer), as the fixture generator's peft showed. The reader resolves that; the writer spells a spec peft
    /// would read differently (a full path Whittle filters by layer) as the module paths it adapts.
    @Test func exactPathsIgnoreLayersAsInPEFT() throws {
        let scratch = try Scratch()
        func targets(_ edit: (inout [String: Any]) -> Void) throws -> [String] {
            try PEFTAdapter.readConfig(path: try adapterFolder(scratch, edit) + "/adapter_config.json", config: config).spec.targets(in: config).map(\.module)
        }
        #expect(try targets { $0["target_modules"] = ["q_proj", "lm_head"]; $0["layers_to_transform"] = [1] }
                == ["model.layers.1.self_attn.q_proj", "lm_head"])
        #expect(try targets { $0["target_modules"] = ["model.layers.0.self_attn.q_proj", "v_proj"]; $0["layers_to_transform"] = [1] }
                == ["model.layers.0.self_attn.q_proj", "model.layers.1.self_attn.v_proj"])

        let spec = LoRASpec(rank: 2, alpha: 4, targetModules: ["model.layers.0.self_attn.q_proj", "v_proj", "lm_head"], layers: [1])
        #expect(spec.targets(in: config).map(\.module) == ["model.layers.1.self_attn.v_proj", "lm_head"])
        var tensors: [String: Tensor] = [:]
        for (n, shape) in spec.parameterShapes(config: config) {
            tensors[n] = Tensor(shape: shape, data: randomArray(shape.reduce(1, *), seed: UInt64(n.count)))
        }
        let out = scratch.path + "/written"
        try PEFTAdapter(spec: spec, tensors: tensors).write(to: out, config: config)
        let peftConfig = try jsonObject(out + "/adapter_config.json")
        #expect(peftConfig["target_modules"] as? [String] == ["lm_head", "model.layers.1.self_attn.v_proj"])
        #expect(peftConfig["layers_to_transform"] is NSNull)
        let back = try PEFTAdapter.read(from: out, config: config)
        #expect(back.spec.targets(in: config).map(\.module) == spec.targets(in: config).map(\.module))
        // A spec peft reads the same way keeps its plain form, lm_head with layers included.
        let plain = LoRASpec(rank: 2, alpha: 4, targetModules: ["v_proj", "q_proj", "lm_head"], layers: [2, 0])
        let text = PEFTAdapter(spec: plain, tensors: [:]).configJSON(config: config)
        #expect(text.contains("\"target_modules\": [\n    \"lm_head\",\n    \"q_proj\",\n    \"v_proj\"\n  ]"), "\(text)")
        #expect(text.contains("\"layers_to_transform\": [\n    0,\n    2\n  ]"), "\(text)")
    }

    /// exclude_modules (list and regex) and layers_pattern follow peft's rules.
    @Test func excludeAndLayersPattern() throws {
        let scratch = try Scratch()
        func targetedModules(configFile: String, config: ModelConfig) throws -> [String] {
            try PEFTAdapter.readConfig(path: configFile, config: config).spec.targets(in: config).map(\.module)
        }
        let excluded = try targetedModules(configFile: try adapterFolder(scratch) {
            $0["exclude_modules"] = ["model.layers.1.self_attn.q_proj"]; $0["target_modules"] = ["q_proj"]
        } + "/adapter_config.json", config: config)
        #expect(excluded == ["model.layers.0.self_attn.q_proj", "model.layers.2.self_attn.q_proj"])
        let viaRegex = try targetedModules(configFile: try adapterFolder(scratch) {
            $0["exclude_modules"] = #"model\.layers\.[02]\..*"#; $0["target_modules"] = ["q_proj", "down_proj"]
        } + "/adapter_config.json", config: config)
        #expect(viaRegex == ["model.layers.1.self_attn.q_proj", "model.layers.1.mlp.down_proj"])
        let patterned = try targetedModules(configFile: try adapterFolder(scratch) {
            $0["layers_pattern"] = "layers"; $0["layers_to_transform"] = 2; $0["target_modules"] = ["o_proj"]
        } + "/adapter_config.json", config: config)
        #expect(patterned == ["model.layers.2.self_attn.o_proj"])
        let wrongPattern = formatError { _ = try targetedModules(configFile: try adapterFolder(scratch) {
            $0["layers_pattern"] = "blocks"; $0["layers_to_transform"] = [0]; $0["target_modules"] = ["o_proj"]
        } + "/adapter_config.json", config: config) }
        #expect(wrongPattern.contains("selects no linear layer"), "\(wrongPattern)")
    }
}
