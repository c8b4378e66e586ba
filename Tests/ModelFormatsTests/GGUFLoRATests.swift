import Foundation
import ModelFormats
import Models
import Tensors
import TestSupport
import Testing
import Tokenization

/// GGUF-LoRA export against a PEFT adapter (Tests/Reference/gen_gguf.py `gguf/llama-lora`: r 4, alpha 8 on
/// q/k/v/o/down of the tiny llama, A and B re-drawn from a seeded generator).
@Suite struct GGUFLoRATests {
    /// The PEFT adapter under Whittle's names (PEFT's without `base_model.model.`) and its LoRASpec.
    static func peftAdapter() throws -> (LoRASpec, [String: Tensor]) {
        let folder = try GGUFFixture.folder("llama-lora")
        let config = try JSONSerialization.jsonObject(with: try Data(contentsOf: URL(fileURLWithPath: folder + "/adapter_config.json"))) as? [String: Any]
        let r = try #require(config?["r"] as? Int), alpha = try #require((config?["lora_alpha"] as? NSNumber)?.doubleValue)
        let targets = try #require(config?["target_modules"] as? [String])
        let file = try SafetensorsFile(path: folder + "/adapter_model.safetensors")
        var parameters: [String: Tensor] = [:]
        for name in file.names { parameters[String(name.dropFirst("base_model.model.".count))] = try file.tensor(name) }
        return (LoRASpec(rank: r, alpha: alpha, targetModules: targets), parameters)
    }

    /// Byte-identical to the file written the way convert_lora_to_gguf.py writes it (lora_b rows of q and k permuted).
    @Test func adapterIsByteIdenticalToGGUFPy() throws {
        let config = try HFConfig.read(path: try GGUFFixture.folder("llama") + "/config.json")
        let (spec, parameters) = try Self.peftAdapter()
        let scratch = try Scratch()
        let out = scratch.file("lora.gguf")
        let report = try GGUFExport.adapter(config: config, lora: spec, parameters: parameters, name: "llama-lora", to: out)
        let mine = try ParsedGGUF(path: out), reference = try ParsedGGUF(path: try GGUFFixture.gguf("llama-lora.f32"))
        let differences = ggufDifferences(mine, reference)
        #expect(differences.isEmpty, "\(differences.joined(separator: "\n"))")
        #expect(mine.bytes == reference.bytes)
        #expect(report.tensors.count == 2 * 5 * config.numLayers)
    }

    /// Applying the adapter the way llama.cpp does (W + alpha/r · B·A on the GGUF tensors, in GGUF layout) to the
    /// base GGUF gives PEFT's merge_and_unload logits: the permutation of lora_b agrees with the base weights'.
    @Test func adapterOnTheGGUFBaseGivesPEFTsMergedModel() throws {
        let base = try ParsedGGUF(path: try GGUFFixture.gguf("llama.f32"))
        let adapter = try ParsedGGUF(path: try GGUFFixture.gguf("llama-lora.f32"))
        let alpha = try #require(adapter.file["adapter.lora.alpha"]?.asDouble)
        let config = try base.bytes.withUnsafeBytes { try GGUFModelReader.config(of: base.file, bytes: $0) }
        var parameters: [String: Tensor] = [:]
        var adapted = 0
        for m in try GGUFNames.mappings(for: config) {
            let info = try #require(base.file.tensor(named: m.gguf))
            var w = try base.floats(info)  // GGUF layout (rows permuted for q/k)
            if let a = adapter.file.tensor(named: m.gguf + ".lora_a"), let b = adapter.file.tensor(named: m.gguf + ".lora_b") {
                let A = try adapter.floats(a), B = try adapter.floats(b)  // [r, in], [out, r]
                let r = A.shape[0], cols = A.shape[1], rows = B.shape[0]
                let scale = Float(alpha / Double(r))
                let av = A.scalars, bv = B.scalars
                w.withUnsafeMutableBufferPointer { p in
                    for i in 0..<rows { for j in 0..<cols {
                        var s: Float = 0
                        for k in 0..<r { s += bv[i * r + k] * av[k * cols + j] }
                        p[i * cols + j] += scale * s
                    } }
                }
                adapted += 1
            }
            parameters[m.hf] = GGUFNames.fromGGUF(w, m)
        }
        #expect(adapted == 5 * config.numLayers)
        let ids = try GGUFFixture.expected("llama")["input_ids"].array.flatMap { $0.array.map(\.int) }
        let logits = try makeLanguageModel(config: config, parameters: parameters).forward(tokens: ids, batch: 1)
        expectRelativeMax(logits, try GGUFFixture.logits("llama-lora", "logits"), tolerance: 1e-4, "base GGUF + GGUF-LoRA vs PEFT merged")
    }

    /// rsLoRA keeps PEFT's scale alpha/√r by writing alpha·√r (llama.cpp divides by r); Q8_0 falls back to F16 for
    /// rank-wide rows; a LoRA on a tied lm_head and a missing tensor are refused by name.
    @Test func scaleFallbackAndRefusals() throws {
        let config = try HFConfig.read(path: try GGUFFixture.folder("llama") + "/config.json")
        let (spec, parameters) = try Self.peftAdapter()
        let scratch = try Scratch()
        var rs = spec
        rs.useRSLoRA = true
        let report = try GGUFExport.adapter(config: config, lora: rs, parameters: parameters, dtype: .q8_0, name: "rs", to: scratch.file("rs.gguf"))
        let parsed = try ParsedGGUF(path: scratch.file("rs.gguf"))
        let alpha = try #require(parsed.file["adapter.lora.alpha"])
        #expect(alpha == .float32(Float(spec.alpha * Double(spec.rank).squareRoot())))
        // llama.cpp's scale from the written alpha is PEFT's rsLoRA scale.
        #expect(abs(Double(Float(spec.alpha * Double(spec.rank).squareRoot())) / Double(spec.rank) - rs.scale) < 1e-6)
        // lora_a rows are 32 or 80 wide (Q8_0 for 32), lora_b rows are rank 4 wide (F16).
        #expect(report.tensors.filter { $0.name.hasSuffix(".lora_b") }.allSatisfy { $0.type == .f16 })
        #expect(report.tensors.first { $0.name == "blk.0.attn_q.weight.lora_a" }?.type == .q8_0)
        #expect(report.tensors.first { $0.name == "blk.0.ffn_down.weight.lora_a" }?.type == .f16)

        let head = LoRASpec(rank: 4, alpha: 8, targetModules: ["lm_head"])
        let headParameters: [String: Tensor] = ["lm_head.lora_A.weight": Tensor(zeros: [4, config.hiddenSize]),
                                                "lm_head.lora_B.weight": Tensor(zeros: [config.vocabSize, 4])]
        var m = describeError { try GGUFExport.adapter(config: config, lora: head, parameters: headParameters, name: "x", to: scratch.file("h.gguf")) }
        #expect(m.contains("lm_head") && m.contains("merge"), "\(m)")
        var missing = parameters
        missing.removeValue(forKey: "model.layers.1.self_attn.k_proj.lora_B.weight")
        m = describeError { try GGUFExport.adapter(config: config, lora: spec, parameters: missing, name: "x", to: scratch.file("m.gguf")) }
        #expect(m.contains("model.layers.1.self_attn.k_proj.lora_B.weight"), "\(m)")
    }
}
