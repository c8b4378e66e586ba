import Foundation
import Layers
import Models
import Tensors
import Tokenization

/// Exports models (and, in GGUFExport+LoRA.swift, LoRA adapters) as GGUF files that llama.cpp and Ollama load,
/// making the choices llama.cpp's `convert_hf_to_gguf.py` makes (formats.md §5): the same keys with the same types
/// in the same order, the same tensor names, the Q/K row permutation for the `llama` architecture only, 1-D tensors,
/// norms, biases and `position_embd` kept in F32, and Q8_0 falling back to F16 for matrices whose rows are not a
/// multiple of 32.
///
/// Where Whittle deliberately differs from the converter (so the file describes the model that was trained):
/// - GPT-2 `feed_forward_length` is the model's `n_inner` (the converter writes 4·n_embd, wrong when n_inner is set)
///   and `context_length` is `n_positions` (the converter reads `n_ctx`, which transformers v5 configs lack).
/// - llama3 `rope_freqs` uses the `original_max_position_embeddings` of the rope parameters (the converter reads a
///   top-level key and falls back to 8192 when, as in v5 configs, it is nested).
/// - Tensors follow Whittle's parameter order (the converter follows the safetensors key order); llama.cpp looks
///   tensors up by name.
/// - `general.*` holds architecture, type and name only (no model-card heuristics such as size_label).
/// - Tokenizer differences are listed on `GGUFVocabularyExport`.
public enum GGUFExport {
    /// The file type: F32 everywhere, or F16 / Q8_0 for matrices (llama_ftype ALL_F32 0, MOSTLY_F16 1, MOSTLY_Q8_0 7).
    public enum DType: String, Sendable, CaseIterable {
        case f32, f16, q8_0

        public var fileType: UInt32 {
            switch self {
            case .f32: 0
            case .f16: 1
            case .q8_0: 7
            }
        }

        var matrixType: GGUFWriter.TensorType {
            switch self {
            case .f32: .f32
            case .f16: .f16
            case .q8_0: .q8_0
            }
        }
    }

    /// What was written.
    public struct Report: Sendable {
        public let path: String
        public let architecture: String
        /// Tensor name, row-major shape and type, in file order.
        public let tensors: [(name: String, shape: [Int], type: GGUFWriter.TensorType)]
        public let metadataKeys: [String]
        public let bytes: Int
        /// Things the user should know (Q8_0 fallbacks, an unused tokenizer.model, ...).
        public let warnings: [String]
        /// Whether llama.cpp adds BOS when tokenizing for this file (`tokenizer.ggml.add_bos_token`, else its
        /// default: yes for `llama` vocabularies, no for `gpt2` ones).
        public var addsBOS = false
    }

    // MARK: - Whole models

    /// Reads a Hugging Face folder (config.json, weights, tokenizer files) and writes it as one GGUF file.
    /// `name` defaults to the folder's name.
    @discardableResult
    public static func model(folder: String, dtype: DType, to path: String, name: String? = nil) throws -> Report {
        let config = try HFConfig.read(path: folder + "/config.json")
        let parameters = try HFFolder.readParameters(folder: folder, config: config)
        let base = name ?? URL(fileURLWithPath: folder).standardizedFileURL.lastPathComponent
        return try model(config: config, parameters: parameters, tokenizerFolder: folder, dtype: dtype, name: base, to: path)
    }

    /// Writes `parameters` (Whittle names and layout, as `config.parameterShapes()` lists them) with the vocabulary,
    /// special tokens and chat template of `tokenizerFolder` as one GGUF file.
    @discardableResult
    public static func model(config: ModelConfig, parameters: [String: Tensor], tokenizerFolder: String, dtype: DType,
                             name: String, to path: String) throws -> Report {
        let arch: String
        do { arch = try GGUFNames.architecture(for: config); try config.validate() } catch { throw ModelFormatError(file: path, error.message) }
        var problems: [String] = []
        for (p, shape) in config.parameterShapes() {
            guard let t = parameters[p] else { problems.append("missing \(p) \(shape)"); continue }
            if t.shape != shape { problems.append("\(p) has shape \(t.shape), expected \(shape)") }
        }
        if !problems.isEmpty {
            throw ModelFormatError(file: path, "parameters do not match the configuration:\n  " + problems.joined(separator: "\n  "))
        }

        let vocabulary: GGUFVocabularyExport
        do {
            vocabulary = try GGUFVocabularyExport(folder: tokenizerFolder, vocabularySize: config.vocabSize,
                                                  sentencePieceAllowed: arch == "llama", addSpacePrefixFromConfig: arch == "llama")
        } catch let e as TokenizerError {
            throw ModelFormatError(file: tokenizerFolder, e.description)
        }

        var writer = GGUFWriter()
        for (key, value) in try modelMetadata(config: config, name: name, dtype: dtype) { try writer.set(key, value) }
        for (key, value) in vocabulary.metadata { try writer.set(key, value) }

        var warnings = vocabulary.warnings
        if case .llama3 = config.ropeScaling {
            let freqs = ropeFreqs(config)
            try writer.addTensor(name: "rope_freqs.weight", shape: [freqs.count], type: .f32) { Tensor(shape: [freqs.count], data: freqs) }
        }
        let mappings: [GGUFTensorMapping]
        do { mappings = try GGUFNames.mappings(for: config) } catch { throw ModelFormatError(file: path, error.message) }
        var fallbacks: [String] = []
        for m in mappings {
            guard let t = parameters[m.hf] else { continue }
            var type = m.alwaysF32 ? .f32 : dtype.matrixType
            if type == .q8_0 && (t.shape.last ?? 0) % 32 != 0 {
                type = .f16
                fallbacks.append(m.gguf)
            }
            try writer.addTensor(name: m.gguf, shape: t.shape, type: type) { GGUFNames.toGGUF(t, m) }
        }
        if !fallbacks.isEmpty {
            warnings.append("\(fallbacks.count) tensor(s) written as F16 because their rows are not a multiple of 32 (Q8_0 blocks): "
                            + fallbacks.joined(separator: ", "))
        }
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try writer.write(to: path)
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        var report = Report(path: path, architecture: arch, tensors: writer.tensors, metadataKeys: writer.metadata.map(\.key),
                            bytes: size, warnings: warnings)
        report.addsBOS = vocabulary.metadata.first { $0.key == "tokenizer.ggml.add_bos_token" }?.value.asBool ?? (vocabulary.kind == .llama)
        return report
    }

    // MARK: - Metadata

    /// `general.*` and architecture keys in the converter's order (TextModel / LlamaModel / GPT2Model
    /// `set_gguf_parameters`), ending with `general.quantization_version`; the tokenizer keys follow.
    public static func modelMetadata(config: ModelConfig, name: String, dtype: DType) throws -> [(key: String, value: GGUFValue)] {
        let arch: String
        do { arch = try GGUFNames.architecture(for: config) } catch { throw ModelFormatError(file: "GGUF metadata", error.message) }
        var m: [(key: String, value: GGUFValue)] = [
            ("general.architecture", .string(arch)),
            ("general.type", .string("model")),
        ]
        if !name.isEmpty { m.append(("general.name", .string(name))) }
        func u32(_ key: String, _ v: Int) throws {
            guard let x = UInt32(exactly: v) else { throw ModelFormatError(file: "GGUF metadata", "\(arch).\(key) = \(v) does not fit UINT32") }
            m.append(("\(arch).\(key)", .uint32(x)))
        }
        func f32(_ key: String, _ v: Double) { m.append(("\(arch).\(key)", .float32(Float(v)))) }
        try u32("block_count", config.numLayers)
        try u32("context_length", config.maxPositionEmbeddings)
        try u32("embedding_length", config.hiddenSize)
        try u32("feed_forward_length", config.intermediateSize)
        try u32("attention.head_count", config.numHeads)
        switch config.family {
        case .gpt2:
            f32("attention.layer_norm_epsilon", config.normEps)
            m.append(("general.file_type", .uint32(dtype.fileType)))
        case .llama:
            try u32("attention.head_count_kv", config.numKVHeads)
            if case .linear(let factor) = config.ropeScaling {
                m.append(("\(arch).rope.scaling.type", .string("linear")))
                f32("rope.scaling.factor", factor)
            }
            f32("rope.freq_base", config.ropeTheta)
            f32("attention.layer_norm_rms_epsilon", config.normEps)
            // The converter writes these when the transformers config object has `head_dim`: LlamaConfig and
            // MistralConfig always do, Qwen2Config does not (then only a non-default width needs saying).
            if arch == "llama" || config.headDim * config.numHeads != config.hiddenSize {
                try u32("attention.key_length", config.headDim)
                try u32("attention.value_length", config.headDim)
            }
            m.append(("general.file_type", .uint32(dtype.fileType)))
            if arch == "llama" {
                try u32("vocab_size", config.vocabSize)
                try u32("rope.dimension_count", config.headDim)
            }
        }
        m.append(("general.quantization_version", .uint32(2)))
        return m
    }

    /// llama3 rope scaling as llama.cpp wants it: `rope_freqs.weight`, one divisor per frequency (1 kept, `factor`
    /// divided, a blend between), computed in Float32 in the converter's order of operations
    /// (conversion/llama.py `generate_extra_tensors`).
    public static func ropeFreqs(_ config: ModelConfig) -> [Float] {
        guard case .llama3(let factor, let low, let high, let orig) = config.ropeScaling else { return [] }
        let dim = config.headDim, base = Float(config.ropeTheta)
        let lowWavelen = Float(Double(orig) / low), highWavelen = Float(Double(orig) / high)
        let twoPi = Float(2 * Double.pi), fFactor = Float(factor), old = Float(orig)
        return stride(from: 0, to: dim, by: 2).map { i -> Float in
            let freq = 1 / powf(base, Float(i) / Float(dim))
            let wavelen = twoPi / freq
            if wavelen < highWavelen { return 1 }
            if wavelen > lowWavelen { return fFactor }
            let smooth = (old / wavelen - Float(low)) / Float(high - low)
            return 1 / ((1 - smooth) / fFactor + smooth)
        }
    }
}
