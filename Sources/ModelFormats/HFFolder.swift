import FileSupport
import Foundation
import Models
import Tensors

/// A Hugging Face model folder: config.json plus model.safetensors or shards listed in model.safetensors.index.json.
public enum HFFolder {
    /// Loads config and weights and builds the model. Every missing, unexpected or wrongly shaped tensor is
    /// collected into one error that names the folder. GPT-2 Conv1D weights are transposed to `[out, in]`;
    /// GPT-2 names are accepted with or without the `transformer.` prefix; a tied `lm_head.weight` present in
    /// the file is ignored; `rotary_emb.inv_freq` and GPT-2 `attn.bias`/`attn.masked_bias` buffers are ignored.
    /// `weights` chooses which matrices stay 16-bit in memory (`WeightFormat`; default all Float32).
    public static func load(_ folder: String, weights: WeightFormat = .f32) throws -> any LanguageModel {
        let config = try HFConfig.read(path: folder + "/config.json")
        let read = try readWeights(folder: folder, config: config, format: weights)
        do { return try makeLanguageModel(config: config, weights: read) } catch {
            throw ModelFormatError(file: folder, error.message)
        }
    }

    /// Opens the weight files of `folder`: the single file, or the shards of the index.
    public static func openWeights(folder: String) throws -> [(file: SafetensorsFile, names: [String])] {
        let single = folder + "/model.safetensors", index = folder + "/model.safetensors.index.json"
        if FileManager.default.fileExists(atPath: single) {
            let f = try SafetensorsFile(path: single)
            return [(f, f.names)]
        }
        guard let data = FileManager.default.contents(atPath: index) else {
            throw ModelFormatError(file: folder, "neither model.safetensors nor model.safetensors.index.json found")
        }
        guard let j = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let map = j["weight_map"] as? [String: Any] else {
            throw ModelFormatError(file: index, "not a JSON object with a 'weight_map' object")
        }
        var byShard: [String: [String]] = [:]
        for (name, shard) in map {
            guard let s = shard as? String, !s.contains("/"), !s.hasPrefix(".") else {
                throw ModelFormatError(file: index, tensor: name, "shard must be a file name in the folder, got \(shard)")
            }
            byShard[s, default: []].append(name)
        }
        var out: [(SafetensorsFile, [String])] = []
        for (shard, names) in byShard.sorted(by: { $0.key < $1.key }) {
            let f = try SafetensorsFile(path: folder + "/" + shard)
            let missing = names.filter { f.entries[$0] == nil }.sorted()
            if !missing.isEmpty {
                throw ModelFormatError(file: f.path, "the index lists tensors this shard does not hold: \(missing.joined(separator: ", "))")
            }
            out.append((f, names.sorted()))
        }
        return out
    }

    /// Reads the tensors `config` needs under Whittle names (see `ModelConfig.parameterShapes`), all as Float32.
    public static func readParameters(folder: String, config: ModelConfig) throws -> [String: Tensor] {
        try readWeights(folder: folder, config: config, format: .f32).parameters
    }

    /// Reads the tensors `config` needs under Whittle names; matrices (2-D tensors) go into `half` when `format`
    /// asks for 16 bits (`WeightFormat.kind(stored:)`), without a Float32 copy when the file stores that kind
    /// (GPT-2's transposed Conv1D weights go through one Float32 tensor at a time).
    public static func readWeights(folder: String, config: ModelConfig, format: WeightFormat) throws -> ModelWeights {
        let files = try openWeights(folder: folder)
        let expected = config.parameterShapes()
        let wanted = Dictionary(uniqueKeysWithValues: expected.map { ($0.name, $0.shape) })
        var problems: [String] = []
        var params: [String: Tensor] = [:]
        var half: [String: HalfMatrix] = [:]
        var seen = Set<String>()
        for (file, names) in files {
            for fileName in names {
                let name = whittleName(fileName, config: config)
                if ignorable(name, config: config) { continue }
                guard let shape = wanted[name] else { problems.append("unexpected tensor \(fileName) in \(file.path)"); continue }
                guard seen.insert(name).inserted else { problems.append("\(fileName) appears twice (with or without the transformer. prefix)"); continue }
                guard let entry = file.entries[fileName] else { continue }
                let conv = config.family == .gpt2 && ModelConfig.isGPT2Conv1DWeight(name)
                let stored = conv ? [shape[1], shape[0]] : shape
                guard entry.shape == stored else {
                    problems.append("\(fileName) in \(file.path) has shape \(entry.shape), expected \(stored)"); continue
                }
                if shape.count == 2, let kind = format.kind(stored: file.halfKind(of: fileName)) {
                    half[name] = conv ? HalfMatrix(narrowing: transposeConv1D(try file.tensor(fileName)), kind: kind)
                                      : try file.halfMatrix(fileName, kind: kind)
                    continue
                }
                let t = try file.tensor(fileName)
                params[name] = conv ? transposeConv1D(t) : t
            }
        }
        for (name, shape) in expected where !seen.contains(name) {
            problems.append("missing tensor \(name) \(shape)")
        }
        if !problems.isEmpty {
            throw ModelFormatError(file: folder, "weights do not match config.json (\(problems.count) problem(s)):\n  "
                + problems.joined(separator: "\n  "))
        }
        return ModelWeights(parameters: params, half: half)
    }

    static func whittleName(_ name: String, config: ModelConfig) -> String {
        if config.family == .gpt2 && !name.hasPrefix("transformer.") && name != "lm_head.weight" { return "transformer." + name }
        return name
    }

    static func ignorable(_ name: String, config: ModelConfig) -> Bool {
        if name.hasSuffix("rotary_emb.inv_freq") { return true }
        if config.family == .gpt2 && (name.hasSuffix(".attn.bias") || name.hasSuffix(".attn.masked_bias")) { return true }
        if config.tieWordEmbeddings && name == "lm_head.weight" { return true }
        return false
    }

    /// GPT-2 Conv1D stores `[in, out]` and computes `x·W`; Whittle's Linear is `[out, in]` computing `x·Wᵀ`.
    /// This is the one place the layout changes (its own inverse: apply it again on export).
    public static func transposeConv1D(_ w: Tensor) -> Tensor {
        precondition(w.rank == 2, "Conv1D weight must be 2-D, got \(w.shape)")
        let r = w.shape[0], c = w.shape[1]
        var out = Tensor(zeros: [c, r])
        out.withUnsafeMutableBufferPointer { o in
            w.withUnsafeBufferPointer { s in
                for i in 0..<r { for j in 0..<c { o[j * r + i] = s[i * c + j] } }
            }
        }
        return out
    }

    static func jsonText(_ object: [String: Any]) throws -> String {
        let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}
