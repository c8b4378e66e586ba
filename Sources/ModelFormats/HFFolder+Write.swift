import FileSupport
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Models
import Tensors
import Tokenization

/// How `HFFolder.write` lays out a folder.
public struct HFWriteOptions: Sendable {
    /// transformers' `save_pretrained` default is 5 GB; 2 GB keeps every shard under the 2 GiB that 32-bit tools
    /// and some file systems still trip over.
    public static let defaultMaxShardSize = 2_000_000_000

    /// Element type of the weights (config.json's `dtype`, and `torch_dtype` when the base config has it, follow it).
    public var dtype: SafetensorsWriter.DType
    /// Bytes of tensor data per shard; past it the weights go into `model-0000N-of-0000M.safetensors` files with a
    /// `model.safetensors.index.json`, filled in parameter order as huggingface_hub's `split_torch_state_dict_into_shards`
    /// does (a tensor larger than the limit gets a shard of its own).
    public var maxShardSize: Int
    /// A Hugging Face folder to take config.json from (as a template: every key kept, `dtype`/`torch_dtype` and
    /// `tie_word_embeddings` updated; it must describe the same model), and `generation_config.json` and the tokenizer
    /// files (`HFFolder.copiedFileNames`) when present.
    public var baseFolder: String?
    /// More files to write into the folder (name → text), e.g. a merge receipt.
    public var extraFiles: [String: String]

    public init(dtype: SafetensorsWriter.DType = .F32, maxShardSize: Int = HFWriteOptions.defaultMaxShardSize,
                baseFolder: String? = nil, extraFiles: [String: String] = [:]) {
        self.dtype = dtype
        self.maxShardSize = maxShardSize
        self.baseFolder = baseFolder
        self.extraFiles = extraFiles
    }
}

extension SafetensorsWriter.DType {
    /// The PyTorch dtype name config.json uses ("float32", "bfloat16", "float16").
    public var torchName: String {
        switch self {
        case .F32: "float32"
        case .BF16: "bfloat16"
        case .F16: "float16"
        }
    }

    /// Bytes per element.
    public var size: Int { self == .F32 ? 4 : 2 }

    /// `x` rounded to this type and widened back (what a reader of the written file sees).
    public func rounded(_ x: Float) -> Float {
        switch self {
        case .F32: x
        case .BF16: HalfPrecision.bf16ToFloat(HalfPrecision.floatToBF16(x))
        case .F16: HalfPrecision.f16ToFloat(HalfPrecision.floatToF16(x))
        }
    }
}

extension HFFolder {
    /// Files copied from `HFWriteOptions.baseFolder` when present: the tokenizer in its fast and slow forms, the chat
    /// template files newer transformers keep beside it, and generation_config.json.
    public static let copiedFileNames = [
        "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "generation_config.json",
        "chat_template.jinja", "chat_template.json", "tokenizer.model", "vocab.json", "merges.txt", "added_tokens.json",
    ]

    /// Writes `model` into `folder` (see `write(parameters:config:to:options:)`).
    public static func write(_ model: any LanguageModel, to folder: String, options: HFWriteOptions = HFWriteOptions()) throws {
        try write(parameters: model.parameters, config: model.config, to: folder, options: options)
    }

    /// Writes an HF folder into `folder` (created if missing), each file atomically: config.json, generation_config.json,
    /// the weights (`model.safetensors`, or shards + index past `maxShardSize`; weight files of another layout left
    /// from an earlier write are removed), the copied tokenizer files and `extraFiles`. GPT-2 Conv1D weights are
    /// transposed back to `[in, out]`; a tied lm_head is not written (as transformers omits it).
    public static func write(parameters: [String: Tensor], config: ModelConfig, to folder: String,
                             options: HFWriteOptions = HFWriteOptions()) throws {
        try checkParameters(parameters, config: config, folder: folder)
        guard options.maxShardSize > 0 else { throw ModelFormatError(file: folder, "max shard size must be positive, got \(options.maxShardSize)") }
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)

        // Weights.
        let written = try writeWeights(parameters, config: config, order: stateDictOrder(config), to: folder, options: options)
        let existing = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        for name in existing where !written.contains(name) && isWeightFile(name) {
            try? FileManager.default.removeItem(atPath: folder + "/" + name)
        }

        // config.json, then the copied files, then generation_config.json if none was copied.
        try AtomicFile.write(try configText(config: config, options: options), to: folder + "/config.json")
        var copied = Set<String>()
        if let base = options.baseFolder {
            for name in copiedFileNames {
                let source = base + "/" + name
                guard FileManager.default.fileExists(atPath: source) else { continue }
                guard let data = FileManager.default.contents(atPath: source) else {
                    throw ModelFormatError(file: source, "cannot read the file")
                }
                try AtomicFile.write([UInt8](data), to: folder + "/" + name)
                copied.insert(name)
            }
        }
        if !copied.contains("generation_config.json") {
            var gen: [String: Any] = ["_from_model_config": true]
            if let b = config.bosTokenID { gen["bos_token_id"] = b }
            if config.eosTokenIDs.count == 1 { gen["eos_token_id"] = config.eosTokenIDs[0] } else if !config.eosTokenIDs.isEmpty { gen["eos_token_id"] = config.eosTokenIDs }
            try AtomicFile.write(jsonText(gen), to: folder + "/generation_config.json")
        }
        for (name, text) in options.extraFiles.sorted(by: { $0.key < $1.key }) {
            guard !name.contains("/"), !name.hasPrefix(".") else { throw ModelFormatError(file: folder, "extra file name '\(name)' must be a plain file name") }
            try AtomicFile.write(text, to: folder + "/" + name)
        }
    }

    /// Writes a new HF folder at `folder` as one step: everything goes into a temporary folder beside it, which is
    /// then renamed into place, so `folder` is either absent or complete. An existing non-empty `folder` is refused
    /// (nothing is overwritten).
    public static func writeNewFolder(parameters: [String: Tensor], config: ModelConfig, to folder: String,
                                      options: HFWriteOptions = HFWriteOptions()) throws {
        let fm = FileManager.default
        let url = URL(fileURLWithPath: folder).standardizedFileURL
        let target = url.path
        func refuseExisting() throws {
            var isDir: ObjCBool = false
            guard fm.fileExists(atPath: target, isDirectory: &isDir) else { return }
            guard isDir.boolValue else { throw ModelFormatError(file: target, "exists and is not a folder") }
            let contents = try fm.contentsOfDirectory(atPath: target)
            if !contents.isEmpty {
                throw ModelFormatError(file: target, "exists and is not empty (\(contents.count) entries); choose a new folder or remove it")
            }
        }
        try refuseExisting()
        try checkParameters(parameters, config: config, folder: target)
        let parent = url.deletingLastPathComponent().path
        try fm.createDirectory(atPath: parent, withIntermediateDirectories: true)
        let tmp = parent + "/." + url.lastPathComponent + ".tmp-\(ProcessInfo.processInfo.processIdentifier)-\(UInt32.random(in: 0...UInt32.max))"
        do {
            try fm.createDirectory(atPath: tmp, withIntermediateDirectories: false)
            try write(parameters: parameters, config: config, to: tmp, options: options)
            try refuseExisting()
            guard rename(tmp, target) == 0 else {
                throw ModelFormatError(file: target, "cannot move the written folder into place: \(String(cString: strerror(errno)))")
            }
        } catch {
            try? fm.removeItem(atPath: tmp)
            throw error
        }
        let fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 { fsync(fd); close(fd) }
    }

    // MARK: - Pieces

    /// One error naming `folder` that lists every missing, unexpected or wrongly shaped parameter.
    static func checkParameters(_ parameters: [String: Tensor], config: ModelConfig, folder: String) throws(ModelFormatError) {
        let shapes = config.parameterShapes()
        var problems: [String] = []
        for (name, shape) in shapes {
            guard let t = parameters[name] else { problems.append("missing tensor \(name) \(shape)"); continue }
            if t.shape != shape { problems.append("tensor \(name) has shape \(t.shape), expected \(shape)") }
        }
        let known = Set(shapes.map(\.name))
        for name in parameters.keys.sorted() where !known.contains(name) { problems.append("unexpected tensor \(name)") }
        if !problems.isEmpty {
            throw ModelFormatError(file: folder, "parameters do not match the configuration (\(problems.count) problem(s)):\n  "
                                   + problems.joined(separator: "\n  "))
        }
    }

    /// Parameter names in the order of transformers' `state_dict()` (module registration order), which decides where
    /// shards split: Llama/Qwen2 decoder layers register self_attn (q, k, v, o; weight then bias), mlp (gate, up,
    /// down), then input_layernorm and post_attention_layernorm; GPT-2's order is already `parameterShapes()`'s.
    public static func stateDictOrder(_ config: ModelConfig) -> [String] {
        let names = config.parameterShapes().map(\.name)
        guard config.family == .llama else { return names }
        func key(_ name: String) -> [Int] {
            if name == "model.embed_tokens.weight" { return [0] }
            if name == "model.norm.weight" { return [2] }
            if name == "lm_head.weight" { return [3] }
            guard let layer = ModelConfig.layerIndex(of: name) else { return [4] }
            let parts = name.split(separator: ".").map(String.init)
            let groups = ["self_attn", "mlp", "input_layernorm", "post_attention_layernorm"]
            let projections = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
            let group = parts.count > 3 ? groups.firstIndex(of: parts[3]) ?? groups.count : groups.count
            let projection = parts.count > 4 ? projections.firstIndex(of: parts[4]) ?? 0 : 0
            return [1, layer, group, projection, name.hasSuffix(".bias") ? 1 : 0]
        }
        return names.enumerated().sorted { a, b in
            let ka = key(a.element), kb = key(b.element)
            return ka == kb ? a.offset < b.offset : ka.lexicographicallyPrecedes(kb)
        }.map(\.element)
    }

    static func isWeightFile(_ name: String) -> Bool {
        name == "model.safetensors" || name == "model.safetensors.index.json"
            || (name.hasPrefix("model-") && name.hasSuffix(".safetensors") && name.contains("-of-"))
    }

    /// The shards as huggingface_hub's `split_state_dict_into_shards_factory` forms them: tensors in order fill the
    /// current shard until the next would pass the limit; a tensor larger than the limit gets a shard to itself
    /// (placed before the shard being filled). Returns lists of names.
    static func planShards(_ sizes: [(name: String, bytes: Int)], maxShardSize: Int) -> [[String]] {
        var shards: [[String]] = []
        var current: [String] = [], currentSize = 0
        for (name, bytes) in sizes {
            if bytes > maxShardSize { shards.append([name]); continue }
            if currentSize + bytes > maxShardSize && !current.isEmpty {
                shards.append(current); current = []; currentSize = 0
            }
            current.append(name); currentSize += bytes
        }
        if !current.isEmpty || shards.isEmpty { shards.append(current) }
        return shards
    }

    /// Writes the weight files; returns their names.
    private static func writeWeights(_ parameters: [String: Tensor], config: ModelConfig, order: [String], to folder: String,
                                     options: HFWriteOptions) throws -> Set<String> {
        func stored(_ name: String) -> Tensor {
            let t = parameters[name]!
            return config.family == .gpt2 && ModelConfig.isGPT2Conv1DWeight(name) ? transposeConv1D(t) : t
        }
        let sizes = order.map { ($0, parameters[$0]!.count * options.dtype.size) }
        let shards = planShards(sizes, maxShardSize: options.maxShardSize)
        if shards.count == 1 {
            try SafetensorsWriter.write(Dictionary(uniqueKeysWithValues: order.map { ($0, stored($0)) }), dtype: options.dtype,
                                        to: folder + "/model.safetensors")
            return ["model.safetensors"]
        }
        var map: [(key: String, value: JSONValue)] = []
        var files = Set<String>()
        for (i, names) in shards.enumerated() {
            let file = String(format: "model-%05d-of-%05d.safetensors", i + 1, shards.count)
            try SafetensorsWriter.write(Dictionary(uniqueKeysWithValues: names.map { ($0, stored($0)) }), dtype: options.dtype,
                                        to: folder + "/" + file)
            files.insert(file)
            map += names.map { ($0, JSONValue.string(file)) }
        }
        let index = JSONValue.object([
            ("metadata", .object([("total_parameters", .integer(order.reduce(0) { $0 + parameters[$1]!.count })),
                                  ("total_size", .integer(sizes.reduce(0) { $0 + $1.1 }))])),
            ("weight_map", .object(map.sorted { $0.key < $1.key })),
        ])
        try AtomicFile.write(index.serialized(indent: 2) + "\n", to: folder + "/model.safetensors.index.json")
        files.insert("model.safetensors.index.json")
        return files
    }

    /// config.json: the base folder's, updated, when given; otherwise made from `config`.
    private static func configText(config: ModelConfig, options: HFWriteOptions) throws -> String {
        guard let base = options.baseFolder else { return try jsonText(HFConfig.json(for: config, dtype: options.dtype.torchName)) }
        let path = base + "/config.json"
        var baseConfig = try HFConfig.read(path: path)
        baseConfig.tieWordEmbeddings = config.tieWordEmbeddings
        guard baseConfig == config else {
            throw ModelFormatError(file: path, "describes a different model than the parameters being written")
        }
        guard let data = FileManager.default.contents(atPath: path) else { throw ModelFormatError(file: path, "cannot read the file") }
        let json: JSONValue
        do { json = try JSONParser.parse(String(decoding: data, as: UTF8.self), duplicateKeys: .lastWins) } catch {
            throw ModelFormatError(file: path, "invalid JSON at \(error)")
        }
        guard case .object(var pairs) = json else { throw ModelFormatError(file: path, "not a JSON object") }
        func set(_ key: String, _ value: JSONValue, onlyIfPresent: Bool = false) {
            if let i = pairs.firstIndex(where: { $0.key == key }) { pairs[i].value = value } else if !onlyIfPresent { pairs.append((key, value)) }
        }
        set("dtype", .string(options.dtype.torchName))
        set("torch_dtype", .string(options.dtype.torchName), onlyIfPresent: true)
        set("tie_word_embeddings", .bool(config.tieWordEmbeddings))
        // transformers writes config.json with sorted keys; keep that so merged and base folders diff cleanly.
        pairs.sort { $0.key < $1.key }
        return JSONValue.object(pairs).serialized(indent: 2) + "\n"
    }
}
