import Foundation
import Models
import Tensors
import Tokenization

extension GGUFExport {
    /// Writes a LoRA adapter as a GGUF-LoRA file for llama.cpp's `--lora` (convert_lora_to_gguf.py's layout,
    /// formats.md §5.10): `general.type` = `adapter`, `adapter.type` = `lora`, `adapter.lora.alpha`, no vocabulary or
    /// hyperparameters, and per adapted linear layer `<base>.lora_a` = A (PyTorch [R, I], ne [I, R]) and
    /// `<base>.lora_b` = B ([O, R], ne [R, O]) where `<base>` is the GGUF name of the adapted weight
    /// (`blk.0.attn_q.weight.lora_a`). For the `llama` architecture B's rows get the same q/k permutation as the base
    /// weight (A is unchanged: the permutation acts on output rows); GPT-2's Conv1D layers need no transpose because
    /// Whittle holds them as Linear `[out, in]`, which is how the GGUF base tensors are stored.
    ///
    /// llama.cpp applies `scale = alpha / r` (llama-adapter.h `get_scale`, r = B's rank). PEFT's rsLoRA scale
    /// `alpha / √r` is kept by writing `alpha · √r`. `parameters` holds the adapter under PEFT's names without the
    /// `base_model.model.` prefix (`LoRASpec.parameterShapes`). Matrices follow `dtype` with the converter's rules
    /// (Q8_0 only for rows that are a multiple of 32, else F16).
    @discardableResult
    public static func adapter(config: ModelConfig, lora: LoRASpec, parameters: [String: Tensor], dtype: DType = .f32,
                               name: String, to path: String) throws -> Report {
        let arch: String
        let mappings: [GGUFTensorMapping]
        do {
            arch = try GGUFNames.architecture(for: config)
            try lora.validate(for: config)
            mappings = try GGUFNames.mappings(for: config)
        } catch { throw ModelFormatError(file: path, error.message) }
        var problems: [String] = []
        for (p, shape) in lora.parameterShapes(config: config) {
            guard let t = parameters[p] else { problems.append("missing \(p) \(shape)"); continue }
            if t.shape != shape { problems.append("\(p) has shape \(t.shape), expected \(shape)") }
        }
        if !problems.isEmpty {
            throw ModelFormatError(file: path, "adapter parameters do not match the LoRA configuration:\n  " + problems.joined(separator: "\n  "))
        }
        let byHF = Dictionary(uniqueKeysWithValues: mappings.map { ($0.hf, $0) })

        var writer = GGUFWriter()
        try writer.set("general.architecture", .string(arch))
        try writer.set("general.type", .string("adapter"))
        try writer.set("adapter.type", .string("lora"))
        if !name.isEmpty { try writer.set("general.name", .string(name)) }
        let alpha = lora.useRSLoRA ? lora.alpha * Double(lora.rank).squareRoot() : lora.alpha
        try writer.set("adapter.lora.alpha", .float32(Float(alpha)))
        try writer.set("general.quantization_version", .uint32(2))

        var fallbacks: [String] = []
        for target in lora.targets(in: config) {
            guard let base = byHF[target.module + ".weight"] else {
                if target.module == "lm_head" && config.tieWordEmbeddings {
                    throw ModelFormatError(file: path, tensor: "lm_head",
                                           "the model ties lm_head to the embeddings, so its GGUF has no output tensor for llama.cpp to adapt; merge this adapter instead")
                }
                throw ModelFormatError(file: path, tensor: target.module, "has no GGUF tensor to adapt")
            }
            guard let a = parameters[target.module + ".lora_A.weight"], let b = parameters[target.module + ".lora_B.weight"] else { continue }
            let heads = base.permutedHeads
            for (suffix, tensor, permute) in [(".lora_a", a, false), (".lora_b", b, heads != nil)] {
                var type = dtype.matrixType
                if type == .q8_0 && (tensor.shape.last ?? 0) % 32 != 0 { type = .f16; fallbacks.append(base.gguf + suffix) }
                try writer.addTensor(name: base.gguf + suffix, shape: tensor.shape, type: type) {
                    permute ? RoPERowOrder.rotateHalfToInterleaved(tensor, heads: heads ?? 1) : tensor
                }
            }
        }
        var warnings: [String] = []
        if !fallbacks.isEmpty {
            warnings.append("\(fallbacks.count) tensor(s) written as F16 because their rows are not a multiple of 32 (Q8_0 blocks): "
                            + fallbacks.joined(separator: ", "))
        }
        try FileManager.default.createDirectory(atPath: URL(fileURLWithPath: path).deletingLastPathComponent().path,
                                                withIntermediateDirectories: true)
        try writer.write(to: path)
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        return Report(path: path, architecture: arch, tensors: writer.tensors, metadataKeys: writer.metadata.map(\.key),
                      bytes: size, warnings: warnings)
    }
}
