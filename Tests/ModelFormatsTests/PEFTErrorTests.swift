import Foundation
import ModelFormats
import Models
import Tensors
import TestSupport
import Testing

/// Adapters Whittle must refuse, each with an error naming the file and the key or tensor.
@Suite struct PEFTErrorTests {
    let c: PEFTCase
    init() throws { c = try PEFTCase("llama_all_linear") }

    /// A copy of the fixture adapter with adapter_config.json edited.
    func adapter(_ scratch: Scratch, _ edit: (inout [String: Any]) -> Void) throws -> String {
        let dir = try scratch.copy(c.adapterFolder, as: "a\(UUID().uuidString.prefix(6))")
        try editJSON(dir + "/adapter_config.json", edit)
        return dir
    }

    /// A copy of the fixture adapter whose safetensors file is rewritten by `edit` (names with the peft prefix).
    func adapterTensors(_ scratch: Scratch, _ edit: (inout [String: Tensor]) -> Void) throws -> String {
        let dir = try scratch.copy(c.adapterFolder, as: "t\(UUID().uuidString.prefix(6))")
        let file = try SafetensorsFile(path: dir + "/adapter_model.safetensors")
        var tensors: [String: Tensor] = [:]
        for n in file.names { tensors[n] = try file.tensor(n) }
        edit(&tensors)
        try SafetensorsWriter.write(tensors, to: dir + "/adapter_model.safetensors")
        return dir
    }

    /// (key, value as JSON text, words the error must contain).
    @Test(arguments: [
        ("use_dora", "true", "DoRA"),
        ("modules_to_save", "\"lm_head\"", "must be a list of module names"),
        ("modules_to_save", "[\"classifier\"]", "\"classifier\" matches no module"),
        ("bias", "\"lora_only\"", "trained base biases"),
        ("rank_pattern", "{\"q_proj\": 8}", "per-module ranks"),
        ("alpha_pattern", "{\"q_proj\": 16}", "per-module alphas"),
        ("peft_type", "\"IA3\"", "LoRA adapters"),
        ("task_type", "\"SEQ_CLS\"", "causal language models"),
        ("init_lora_weights", "\"pissa\"", "changes the base weights"),
        ("lora_bias", "true", "bias on lora_B"),
        ("use_bdlora", "{\"block\": 2}", "LoRA variant"),
        ("r", "\"four\"", "must be an integer"),
        ("layers_to_transform", "[7]", "not a layer of this model"),
        ("target_modules", "[\"embed_tokens\", \"q_proj\"]", "LoRA on embeddings"),
        ("target_modules", "42", "string or a list of strings"),
        ("target_modules", "[]", "selects no linear layer"),
    ])
    func unsupportedOrBadKeysAreNamed(_ key: String, _ valueJSON: String, _ reason: String) throws {
        let scratch = try Scratch()
        let value = try JSONSerialization.jsonObject(with: Data(valueJSON.utf8), options: [.fragmentsAllowed])
        let dir = try adapter(scratch) { $0[key] = value }
        let message = formatError { _ = try PEFTAdapter.read(from: dir, config: c.config) }
        #expect(message.hasPrefix(dir + "/adapter_config.json: key '\(key)'"), "\(message)")
        #expect(message.contains(reason), "\(message)")
    }

    @Test func missingPeftTypeAndBadJSON() throws {
        let scratch = try Scratch()
        let noType = try adapter(scratch) { $0.removeValue(forKey: "peft_type") }
        #expect(formatError { _ = try PEFTAdapter.read(from: noType, config: c.config) }.contains("key 'peft_type': missing"))
        let broken = try scratch.copy(c.adapterFolder, as: "broken")
        try "{\n  \"peft_type\": \"LORA\",\n  \"r\": 4,,\n}".write(toFile: broken + "/adapter_config.json", atomically: true, encoding: .utf8)
        let message = formatError { _ = try PEFTAdapter.read(from: broken, config: c.config) }
        #expect(message.hasPrefix(broken + "/adapter_config.json: invalid JSON at line 3"), "\(message)")
        let notObject = try scratch.copy(c.adapterFolder, as: "array")
        try "[1, 2]".write(toFile: notObject + "/adapter_config.json", atomically: true, encoding: .utf8)
        #expect(formatError { _ = try PEFTAdapter.read(from: notObject, config: c.config) }.contains("adapter_config.json: not a JSON object"))
    }

    @Test func missingFiles() throws {
        let scratch = try Scratch()
        let empty = scratch.path + "/empty"
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        #expect(formatError { _ = try PEFTAdapter.read(from: empty, config: c.config) }.contains("adapter_config.json: not found"))
        let noWeights = try scratch.copy(c.adapterFolder, as: "noweights")
        try FileManager.default.removeItem(atPath: noWeights + "/adapter_model.safetensors")
        #expect(formatError { _ = try PEFTAdapter.read(from: noWeights, config: c.config) }.contains("adapter_model.safetensors: not found"))
        try Data([0x80, 0x02]).write(to: URL(fileURLWithPath: noWeights + "/adapter_model.bin"))
        #expect(formatError { _ = try PEFTAdapter.read(from: noWeights, config: c.config) }.contains("adapter_model.bin: pickled"))
    }

    /// A missing tensor, an unexpected one and a wrong shape are all listed in one error naming the file.
    @Test func everyTensorProblemAtOnce() throws {
        let scratch = try Scratch()
        let p = PEFTAdapter.namePrefix
        let dir = try adapterTensors(scratch) { t in
            t.removeValue(forKey: p + "model.layers.2.mlp.up_proj.lora_A.weight")
            t[p + "model.layers.0.self_attn.k_proj.lora_B.weight"] = Tensor(zeros: [17, 4])
            t[p + "model.layers.0.self_attn.q_proj.lora_magnitude_vector"] = Tensor(zeros: [48])
            t[p + "model.embed_tokens.lora_embedding_A"] = Tensor(zeros: [4, 301])
            t["model.layers.0.self_attn.q_proj.lora_A.weight"] = Tensor(zeros: [4, 48])
        }
        let message = formatError { _ = try PEFTAdapter.read(from: dir, config: c.config) }
        let file = dir + "/adapter_model.safetensors"
        #expect(message.hasPrefix(file + ": adapter tensors do not match"), "\(message)")
        #expect(message.contains("(5 problem(s))"), "\(message)")
        #expect(message.contains("missing tensor \(p)model.layers.2.mlp.up_proj.lora_A.weight [4, 48]"), "\(message)")
        #expect(message.contains("tensor \(p)model.layers.0.self_attn.k_proj.lora_B.weight has shape [17, 4], expected [16, 4]"), "\(message)")
        #expect(message.contains("lora_magnitude_vector: a DoRA magnitude vector"), "\(message)")
        #expect(message.contains("lora_embedding_A: LoRA on embeddings is not supported"), "\(message)")
        #expect(message.contains("unexpected tensor model.layers.0.self_attn.q_proj.lora_A.weight: PEFT adapter tensors are named"), "\(message)")
    }

    /// A wrong rank in the file (lora_A with 5 rows for r 4) names the tensor and both shapes.
    @Test func wrongShapeNamesBothShapes() throws {
        let scratch = try Scratch()
        let name = PEFTAdapter.namePrefix + "model.layers.1.self_attn.o_proj.lora_A.weight"
        let dir = try adapterTensors(scratch) { $0[name] = Tensor(zeros: [5, 48]) }
        let message = formatError { _ = try PEFTAdapter.read(from: dir, config: c.config) }
        #expect(message.contains("tensor \(name) has shape [5, 48], expected [4, 48]"), "\(message)")
    }

    /// The writer refuses an adapter peft could not load, naming the problem.
    @Test func writerChecksFirst() throws {
        var adapter = try PEFTAdapter.read(from: c.adapterFolder, config: c.config)
        adapter.tensors["model.layers.0.mlp.up_proj.lora_B.weight"] = Tensor(zeros: [136, 3])
        let scratch = try Scratch()
        let out = scratch.path + "/out"
        let message = formatError { try adapter.write(to: out, config: c.config) }
        #expect(message.contains("model.layers.0.mlp.up_proj.lora_B.weight has shape [136, 3], expected [136, 4]"), "\(message)")
        #expect(!FileManager.default.fileExists(atPath: out + "/adapter_model.safetensors"))
        adapter.spec.targetModules = ["norm"]
        #expect(formatError { try adapter.write(to: out, config: c.config) }.contains("adapter_config.json: lora target_modules"))
    }
}
