import Foundation
import ModelFormats
import Models
import Tensors
import TestSupport
import Testing

/// A scratch folder removed when the value goes away.
final class ScratchFolder {
    let path: String
    init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("whittle-mf-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// Copies a fixture model folder here (config + single safetensors file).
    func copyModel(_ name: String) throws -> String {
        let src = try modelFolder(name)
        for f in try FileManager.default.contentsOfDirectory(atPath: src) {
            try FileManager.default.copyItem(atPath: src + "/" + f, toPath: path + "/" + f)
        }
        return path
    }
}

/// Runs `body`, expects a ModelFormatError, and returns its description (empty if none was thrown).
func formatError(_ body: () throws -> Void) -> String {
    do { try body() } catch let e as ModelFormatError { return e.description } catch {
        Issue.record("expected a ModelFormatError, got \(error)"); return ""
    }
    Issue.record("expected an error, none was thrown")
    return ""
}

func writeBytes(_ bytes: [UInt8], _ path: String) throws {
    try Data(bytes).write(to: URL(fileURLWithPath: path))
}

/// A safetensors file from a raw header string and data length (header padded to 8 with spaces).
func rawSafetensors(header: String, dataBytes: Int) -> [UInt8] {
    var h = Array(header.utf8)
    while h.count % 8 != 0 { h.append(0x20) }
    var out = withUnsafeBytes(of: UInt64(h.count).littleEndian) { Array($0) }
    out += h
    out += [UInt8](repeating: 0, count: dataBytes)
    return out
}

@Suite struct SafetensorsTests {
    @Test func writerRoundTripAllDTypes() throws {
        let dir = try ScratchFolder()
        let a = Tensor(shape: [3, 5], data: randomArray(15, seed: 1))
        let b = Tensor(shape: [7], data: randomArray(7, seed: 2))
        for dtype in [SafetensorsWriter.DType.F32, .F16, .BF16] {
            let path = dir.path + "/t-\(dtype).safetensors"
            try SafetensorsWriter.write(["b.weight": b, "a.weight": a], dtype: dtype, to: path)
            let f = try SafetensorsFile(path: path)
            #expect(f.names == ["a.weight", "b.weight"])
            #expect(f.metadata == ["format": "pt"])
            #expect(f.entries["a.weight"]?.shape == [3, 5] && f.entries["a.weight"]?.dtype.rawValue == dtype.rawValue)
            let back = try f.tensor("a.weight").scalars
            // Converting back must equal the conversion the writer applies (round to nearest even).
            let expected: [Float] = a.scalars.map {
                switch dtype {
                case .F32: $0
                case .F16: HalfPrecision.f16ToFloat(HalfPrecision.floatToF16($0))
                case .BF16: HalfPrecision.bf16ToFloat(HalfPrecision.floatToBF16($0))
                }
            }
            #expect(back == expected, "\(dtype)")
            // The header length is a multiple of 8 and nothing is left of the temporary file.
            let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
            #expect(bytes.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) } % 8 == 0)
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).allSatisfy { !$0.hasPrefix(".") })
    }

    @Test func truncatedFileNamesFileAndTensor() throws {
        let dir = try ScratchFolder()
        let path = dir.path + "/m.safetensors"
        try SafetensorsWriter.write(["x": Tensor(shape: [4, 4], data: randomArray(16, seed: 3))], to: path)
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        bytes.removeLast(10)
        try writeBytes(bytes, path)
        let message = formatError { _ = try SafetensorsFile(path: path) }
        #expect(message.contains(path) && message.contains("'x'") && message.contains("truncated"), "\(message)")
        // Truncated inside the header, and inside the length prefix.
        try writeBytes(Array(bytes.prefix(20)), path)
        #expect(formatError { _ = try SafetensorsFile(path: path) }.contains("runs past the end of the file"))
        try writeBytes(Array(bytes.prefix(5)), path)
        #expect(formatError { _ = try SafetensorsFile(path: path) }.contains("shorter than the 8-byte header"))
    }

    @Test func badHeaders() throws {
        let dir = try ScratchFolder()
        let path = dir.path + "/bad.safetensors"
        let cases: [(String, Int, String)] = [
            ("{not json", 0, "not valid JSON"),
            ("[1,2]", 0, "does not start with '{'"),
            (#"{"w":{"dtype":"Q4","shape":[2],"data_offsets":[0,2]}}"#, 2, "unknown dtype 'Q4'"),
            (#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}"#, 4, "need"),
            (#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"v":{"dtype":"F32","shape":[1],"data_offsets":[2,6]}}"#, 6, "overlaps"),
            (#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, 8, "gap"),
            (#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, 8, "cover"),
            (#"{"w":{"dtype":"F32","shape":[1]}}"#, 4, "data_offsets"),
        ]
        for (header, n, needle) in cases {
            try writeBytes(rawSafetensors(header: header, dataBytes: n), path)
            let message = formatError { _ = try SafetensorsFile(path: path) }
            #expect(message.hasPrefix(path) && message.contains(needle), "header \(header): \(message)")
        }
        var huge = withUnsafeBytes(of: UInt64(1) << 40) { Array($0) }
        huge += Array("{}".utf8)
        try writeBytes(huge, path)
        #expect(formatError { _ = try SafetensorsFile(path: path) }.contains("exceeds"))
    }
}

@Suite struct HFFolderErrorTests {
    @Test func missingAndWrongShapeTensorsAreCollected() throws {
        let dir = try ScratchFolder()
        let folder = try dir.copyModel("llama_untied")
        let file = try SafetensorsFile(path: folder + "/model.safetensors")
        var tensors: [String: Tensor] = [:]
        for name in file.names { tensors[name] = try file.tensor(name) }
        tensors["model.layers.1.mlp.up_proj.weight"] = nil
        tensors["model.norm.weight"] = nil
        tensors["model.layers.0.self_attn.k_proj.weight"] = Tensor(zeros: [8, 48])
        tensors["model.layers.0.extra.weight"] = Tensor(zeros: [2])
        try SafetensorsWriter.write(tensors, to: folder + "/model.safetensors")
        let message = formatError { _ = try HFFolder.load(folder) }
        #expect(message.hasPrefix(folder) && message.contains("4 problem(s)"), "\(message)")
        #expect(message.contains("missing tensor model.layers.1.mlp.up_proj.weight [136, 48]"))
        #expect(message.contains("missing tensor model.norm.weight [48]"))
        #expect(message.contains("model.layers.0.self_attn.k_proj.weight in \(folder)/model.safetensors has shape [8, 48], expected [16, 48]"))
        #expect(message.contains("unexpected tensor model.layers.0.extra.weight"))
    }

    @Test func truncatedShardNamesTheShard() throws {
        let dir = try ScratchFolder()
        let folder = try dir.copyModel("llama3_rope_sharded")
        let shard = folder + "/model-00002-of-00003.safetensors"
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: shard)))
        try writeBytes(Array(bytes.prefix(bytes.count - 100)), shard)
        let message = formatError { _ = try HFFolder.load(folder) }
        #expect(message.hasPrefix(shard) && message.contains("truncated"), "\(message)")
    }

    @Test func configErrors() throws {
        let dir = try ScratchFolder()
        let folder = try dir.copyModel("llama_untied")
        let configPath = folder + "/config.json"
        let original = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: configPath))) as! [String: Any]
        func check(_ edit: (inout [String: Any]) -> Void, _ needle: String) throws {
            var j = original
            edit(&j)
            try JSONSerialization.data(withJSONObject: j).write(to: URL(fileURLWithPath: configPath))
            let message = formatError { _ = try HFFolder.load(folder) }
            #expect(message.hasPrefix(configPath) && message.contains(needle), "\(message)")
        }
        try check({ $0["model_type"] = "falcon" }, "unsupported model_type 'falcon'")
        try check({ $0["hidden_size"] = nil }, "missing required key 'hidden_size'")
        try check({ $0["num_hidden_layers"] = "three" }, "'num_hidden_layers' must be an integer")
        try check({ $0["rope_parameters"] = ["rope_type": "yarn", "factor": 2.0] }, "rope_type 'yarn' is not supported")
        try FileManager.default.removeItem(atPath: configPath)
        #expect(formatError { _ = try HFFolder.load(folder) }.contains("config.json: cannot read"))
    }

    /// v4 spellings (torch_dtype, top-level rope_theta / rope_scaling with legacy `type`) read like v5 ones.
    @Test func v4ConfigSpellings() throws {
        let v5 = try HFConfig.read(path: try modelFolder("llama3_rope_sharded") + "/config.json")
        let v4: [String: Any] = [
            "model_type": "llama", "torch_dtype": "float32", "vocab_size": 301, "hidden_size": 48, "intermediate_size": 136,
            "num_hidden_layers": 3, "num_attention_heads": 6, "num_key_value_heads": 2, "max_position_embeddings": 128,
            "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "bos_token_id": 1, "eos_token_id": 2, "tie_word_embeddings": false,
            "rope_scaling": ["type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                             "original_max_position_embeddings": 128],
        ]
        #expect(try HFConfig.parse(v4, file: "v4.json") == v5)
    }

    /// Mistral's sliding window is refused once a sequence would be longer than it.
    @Test func mistralSlidingWindowGuard() throws {
        var j: [String: Any] = [
            "model_type": "mistral", "vocab_size": 301, "hidden_size": 48, "intermediate_size": 136, "num_hidden_layers": 3,
            "num_attention_heads": 6, "num_key_value_heads": 2, "max_position_embeddings": 128, "sliding_window": 16,
        ]
        let config = try HFConfig.parse(j, file: "mistral.json")
        #expect(config.contextLength == 16)
        j["sliding_window"] = NSNull()
        #expect(try HFConfig.parse(j, file: "mistral.json").contextLength == 128)
        let model = try LlamaModel(config: config, parameters: Dictionary(uniqueKeysWithValues: config.parameterShapes().map {
            ($0.name, Tensor(repeating: 0.01, shape: $0.shape)) }))
        #expect(throws: ModelError.self) { _ = try model.forward(tokens: Array(repeating: 3, count: 17), batch: 1) }
        #expect(throws: ModelError.self) { _ = try generate(model: model, prompt: Array(repeating: 3, count: 16)) }
    }

    @Test func gpt2NamesWithoutPrefixAndConv1DTranspose() throws {
        let dir = try ScratchFolder()
        let folder = try dir.copyModel("gpt2_tied")
        let file = try SafetensorsFile(path: folder + "/model.safetensors")
        var tensors: [String: Tensor] = [:]
        for name in file.names { tensors[String(name.dropFirst("transformer.".count))] = try file.tensor(name) }
        try SafetensorsWriter.write(tensors, to: folder + "/model.safetensors")
        let model = try HFFolder.load(folder)
        let original = try HFFolder.load(try modelFolder("gpt2_tied"))
        #expect(try model.forward(tokens: [1, 2, 3], batch: 1).scalars == original.forward(tokens: [1, 2, 3], batch: 1).scalars)
        // The transpose: c_attn stored [in 48, out 144] is held as [144, 48].
        let stored = tensors["h.0.attn.c_attn.weight"]!
        let held = model.parameters["transformer.h.0.attn.c_attn.weight"]!
        #expect(stored.shape == [48, 144] && held.shape == [144, 48])
        #expect(held[5, 7] == stored[7, 5] && held[143, 0] == stored[0, 143])
        #expect(HFFolder.transposeConv1D(held).scalars == stored.scalars)
    }
}

@Suite struct GenerationTests {
    @Test func samplingIsSeededAndFiltersApply() throws {
        let model = try HFFolder.load(try modelFolder("llama_untied"))
        let options = GenerationOptions(maxNewTokens: 12, temperature: 0.8, topK: 20, topP: 0.9, minP: 0.05,
                                        repetitionPenalty: 1.3, seed: 7)
        let a = try generate(model: model, prompt: [1, 2, 3], options: options)
        let b = try generate(model: model, prompt: [1, 2, 3], options: options)
        #expect(a == b && a.tokens.count == 12)
        var other = options
        other.seed = 8
        // Different seeds are allowed to agree, but over 12 steps at temperature 0.8 they almost surely do not.
        #expect(try generate(model: model, prompt: [1, 2, 3], options: other).tokens != a.tokens)
    }

    @Test func samplerRules() {
        var rng = RandomGenerator(seed: 1)
        // top-k 1 is greedy whatever the temperature.
        var s: [Float] = [0.1, 3, 2.9, -1]
        #expect(Sampler.pick(&s, previous: [], options: .init(temperature: 5, topK: 1), rng: &rng) == 1)
        // Repetition penalty 100 pushes the repeated best token below the next one (greedy).
        s = [0.1, 3, 2.9, -1]
        #expect(Sampler.pick(&s, previous: [1], options: .init(repetitionPenalty: 100), rng: &rng) == 2)
        // min-p 0.5 keeps only tokens with p ≥ 0.5·p_max: ids 1 and 2 here, never 0 or 3.
        for _ in 0..<200 {
            s = [0.1, 3, 2.9, -1]
            let id = Sampler.pick(&s, previous: [], options: .init(temperature: 1, minP: 0.5), rng: &rng)
            #expect(id == 1 || id == 2)
        }
    }

    @Test func eosStopsAndBadInputIsAnError() throws {
        let model = try HFFolder.load(try modelFolder("llama_untied"))
        let expected = try loadFixture("models/llama_untied/expected.json")
        let greedy = expected["greedy"].array.map(\.int)
        let r = try generate(model: model, prompt: expected["prompt"].array.map(\.int),
                             options: GenerationOptions(maxNewTokens: 40, eosTokenIDs: [greedy[3]]))
        #expect(r.tokens == Array(greedy.prefix(through: greedy.firstIndex(of: greedy[3])!)))
        #expect(r.stopReason == .eos(greedy[3]))
        #expect(throws: ModelError.self) { _ = try model.forward(tokens: [1, 301], batch: 1) }
        #expect(throws: ModelError.self) { _ = try generate(model: model, prompt: []) }
        #expect(throws: ModelError.self) { _ = try generate(model: model, prompt: Array(repeating: 1, count: 128)) }
        // Context guard: generation stops when the context is full.
        let full = try generate(model: model, prompt: Array(repeating: 1, count: 120), options: .init(maxNewTokens: 50))
        #expect(full.tokens.count == 8 && full.stopReason == .contextLength)
    }
}
