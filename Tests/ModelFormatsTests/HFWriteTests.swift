import Foundation
import ModelFormats
import Models
import Tensors
import TestSupport
import Testing

@Suite struct HFWriteTests {
    func merged(_ name: String) throws -> (PEFTCase, LoRAMerge.Result) {
        let c = try PEFTCase(name)
        let adapter = try PEFTAdapter.read(from: c.adapterFolder, config: c.config)
        return (c, try LoRAMerge.merged(parameters: c.baseParameters, config: c.config, adapter: adapter))
    }

    /// Past the shard size the weights go into model-0000N-of-0000M files with an index as transformers writes it
    /// (metadata.total_size / total_parameters, weight_map), and read back bit for bit, GPT-2 Conv1D included.
    @Test(arguments: ["llama_tied_lm_head", "gpt2_conv1d"])
    func shardedRoundTrip(_ name: String) throws {
        let (c, result) = try merged(name)
        let scratch = try Scratch()
        let out = scratch.path + "/sharded"
        try HFFolder.writeNewFolder(parameters: result.parameters, config: result.config, to: out,
                                    options: HFWriteOptions(maxShardSize: 100_000, baseFolder: c.baseFolder))
        let files = try FileManager.default.contentsOfDirectory(atPath: out).sorted()
        let shards = files.filter { $0.hasPrefix("model-") }
        #expect(shards.count > 2 && !files.contains("model.safetensors"), "\(files)")
        #expect(shards == (1...shards.count).map { String(format: "model-%05d-of-%05d.safetensors", $0, shards.count) })
        let index = try jsonObject(out + "/model.safetensors.index.json")
        let map = try #require(index["weight_map"] as? [String: String])
        let metadata = try #require(index["metadata"] as? [String: Any])
        let expectedNames = result.config.parameterShapes().map(\.name)
        #expect(Set(map.keys) == Set(expectedNames))
        let count = expectedNames.reduce(0) { $0 + result.parameters[$1]!.count }
        #expect(metadata["total_size"] as? Int == 4 * count && metadata["total_parameters"] as? Int == count)
        for shard in shards {
            let f = try SafetensorsFile(path: out + "/" + shard)
            #expect(Set(f.names) == Set(map.filter { $0.value == shard }.keys), "\(shard) holds what the index says")
            let bytes = f.entries.values.reduce(0) { $0 + $1.end - $1.begin }
            #expect(bytes <= 100_000 || f.names.count == 1, "\(shard): \(bytes) bytes")
        }
        let back = try HFFolder.readParameters(folder: out, config: try HFConfig.read(path: out + "/config.json"))
        #expect(Set(back.keys) == Set(result.parameters.keys))
        for (k, t) in result.parameters { #expect(back[k]?.scalars == t.scalars, "\(k)") }
        // The layout a tensor takes on disk: GPT-2 Conv1D as [in, out], as the base folder has it.
        if c.config.family == .gpt2 {
            let stored = try SafetensorsFile(path: out + "/" + map["transformer.h.0.attn.c_attn.weight"]!).entries["transformer.h.0.attn.c_attn.weight"]
            #expect(stored?.shape == [48, 144])
        }
    }

    /// huggingface_hub's rule: fill in order, start a new shard when the next tensor would pass the limit; a tensor
    /// larger than the limit goes alone. (Checked against the sharded fixture transformers wrote, too.)
    @Test func shardPlanMatchesTransformers() throws {
        let folder = repoRoot.appendingPathComponent("Tests/Reference/fixtures/models/llama3_rope_sharded").path
        let config = try HFConfig.read(path: folder + "/config.json")
        let parameters = try HFFolder.readParameters(folder: folder, config: config)
        let scratch = try Scratch()
        // transformers wrote it with max_shard_size="150KB" (150,000 bytes).
        try HFFolder.write(parameters: parameters, config: config, to: scratch.path, options: HFWriteOptions(maxShardSize: 150_000))
        let ours = try jsonObject(scratch.path + "/model.safetensors.index.json")
        let theirs = try jsonObject(folder + "/model.safetensors.index.json")
        #expect(ours["weight_map"] as? [String: String] == theirs["weight_map"] as? [String: String])
        #expect(ours["metadata"] as? [String: Int] == theirs["metadata"] as? [String: Int])
        // The index text is transformers' json.dumps(indent=2, sort_keys=True) + "\n".
        #expect(try String(contentsOfFile: scratch.path + "/model.safetensors.index.json", encoding: .utf8)
                == String(contentsOfFile: folder + "/model.safetensors.index.json", encoding: .utf8))
    }

    /// bf16 / f16 output: config.json says so (dtype, and torch_dtype when the base has it), the weights are the
    /// fp32 merge rounded once, tokenizer and generation files come from the base, and everything else in the base
    /// config.json is kept.
    @Test(arguments: [SafetensorsWriter.DType.BF16, .F16])
    func dtypeAndCopiedFiles(_ dtype: SafetensorsWriter.DType) throws {
        let (c, result) = try merged("llama_tied_lm_head")
        let scratch = try Scratch()
        let base = try scratch.copy(c.baseFolder, as: "base")
        try editJSON(base + "/config.json") { $0["torch_dtype"] = "bfloat16"; $0["custom_key"] = "kept" }
        let tokenizerFiles = ["tokenizer.json": "{\"version\": \"1.0\"}", "tokenizer_config.json": "{\"eos_token\": \"</s>\"}",
                              "special_tokens_map.json": "{}", "chat_template.jinja": "{{ messages }}"]
        for (f, text) in tokenizerFiles { try text.write(toFile: base + "/" + f, atomically: true, encoding: .utf8) }
        let out = scratch.path + "/out"
        try HFFolder.writeNewFolder(parameters: result.parameters, config: result.config, to: out,
                                    options: HFWriteOptions(dtype: dtype, baseFolder: base))
        let config = try jsonObject(out + "/config.json")
        #expect(config["dtype"] as? String == dtype.torchName && config["torch_dtype"] as? String == dtype.torchName)
        #expect(config["custom_key"] as? String == "kept" && config["tie_word_embeddings"] as? Bool == false)
        for (f, text) in tokenizerFiles { #expect(try String(contentsOfFile: out + "/" + f, encoding: .utf8) == text, "\(f)") }
        #expect(FileManager.default.contentsEqual(atPath: out + "/generation_config.json", andPath: base + "/generation_config.json"))
        let file = try SafetensorsFile(path: out + "/model.safetensors")
        #expect(file.entries.values.allSatisfy { $0.dtype.rawValue == dtype.rawValue })
        let loaded = try HFFolder.load(out)
        for (k, t) in result.parameters {
            #expect(loaded.parameters[k]?.scalars == t.scalars.map(dtype.rounded), "\(k) is the fp32 merge rounded once")
        }
    }

    /// The folder appears whole or not at all: an existing non-empty folder is refused and left as it was, and no
    /// temporary folder is left behind.
    @Test func newFolderIsAtomicAndNeverOverwrites() throws {
        let (c, result) = try merged("qwen2_regex")
        let scratch = try Scratch()
        let out = scratch.path + "/out"
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        try "mine".write(toFile: out + "/notes.txt", atomically: true, encoding: .utf8)
        let message = formatError {
            try HFFolder.writeNewFolder(parameters: result.parameters, config: result.config, to: out, options: HFWriteOptions(baseFolder: c.baseFolder))
        }
        #expect(message.contains(out) && message.contains("not empty"), "\(message)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: out) == ["notes.txt"])
        // A parameter set that does not fit fails before anything is moved into place.
        var broken = result.parameters
        broken.removeValue(forKey: "model.norm.weight")
        let fresh = scratch.path + "/fresh"
        let m2 = formatError { try HFFolder.writeNewFolder(parameters: broken, config: result.config, to: fresh) }
        #expect(m2.hasPrefix(fresh + ": parameters do not match") && m2.contains("missing tensor model.norm.weight"), "\(m2)")
        #expect(!FileManager.default.fileExists(atPath: fresh))
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.path).sorted() == ["out"], "no temporary folder left")
        // An empty folder is fine.
        try FileManager.default.createDirectory(atPath: fresh, withIntermediateDirectories: true)
        try HFFolder.writeNewFolder(parameters: result.parameters, config: result.config, to: fresh, options: HFWriteOptions(baseFolder: c.baseFolder))
        #expect(FileManager.default.fileExists(atPath: fresh + "/model.safetensors"))
    }

    /// Writing into an existing folder in another layout removes the old weight files, so the folder never mixes two.
    @Test func rewritingChangesLayoutCleanly() throws {
        let (_, result) = try merged("llama_layers_rslora")
        let scratch = try Scratch()
        try HFFolder.write(parameters: result.parameters, config: result.config, to: scratch.path, options: HFWriteOptions(maxShardSize: 50_000))
        #expect(FileManager.default.fileExists(atPath: scratch.path + "/model.safetensors.index.json"))
        try HFFolder.write(parameters: result.parameters, config: result.config, to: scratch.path)
        let files = try FileManager.default.contentsOfDirectory(atPath: scratch.path).sorted()
        #expect(files == ["config.json", "generation_config.json", "model.safetensors"], "\(files)")
        try HFFolder.write(parameters: result.parameters, config: result.config, to: scratch.path, options: HFWriteOptions(maxShardSize: 50_000))
        #expect(!FileManager.default.fileExists(atPath: scratch.path + "/model.safetensors"))
        _ = try HFFolder.load(scratch.path)
    }
}
