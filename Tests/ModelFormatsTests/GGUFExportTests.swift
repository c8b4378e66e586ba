import FileSupport
import Foundation
import ModelFormats
import Models
import Tensors
import TestSupport
import Testing
import Tokenization

/// Whittle's GGUF export against files gguf-py wrote from the same Hugging Face folders, following
/// convert_hf_to_gguf.py (Tests/Reference/gen_gguf.py; the few documented departures are applied on both sides).
@Suite struct GGUFExportTests {
    /// The whole file is byte-identical: metadata keys, types, values and order, tensor infos and offsets, and tensor
    /// data (F32 copies, F16 rounding, Q8_0 blocks with the F16 fallback, the llama q/k permutation, rope_freqs).
    /// On a difference the parsed contents are compared so the message names the key or tensor.
    @Test(arguments: GGUFFixture.names)
    func exportIsByteIdenticalToGGUFPy(_ name: String) throws {
        let (model, dtype) = GGUFFixture.split(name)
        let scratch = try Scratch()
        let out = scratch.file("\(name).gguf")
        let report = try GGUFExport.model(folder: try GGUFFixture.folder(model), dtype: try #require(GGUFExport.DType(rawValue: dtype)),
                                          to: out, name: model)
        let mine = try ParsedGGUF(path: out), reference = try ParsedGGUF(path: try GGUFFixture.gguf(name))
        let differences = ggufDifferences(mine, reference)
        #expect(differences.isEmpty, "\(name):\n  \(differences.joined(separator: "\n  "))")
        #expect(mine.bytes == reference.bytes, "\(name): \(mine.bytes.count) bytes vs gguf-py's \(reference.bytes.count)")
        #expect(report.tensors.count == reference.file.tensors.count)
        #expect(report.metadataKeys == reference.file.metadata.map(\.key))
    }

    /// The Q8_0 fallback is reported, and only for tensors whose rows are not whole blocks.
    @Test func q8FallbackIsReported() throws {
        let scratch = try Scratch()
        let report = try GGUFExport.model(folder: try GGUFFixture.folder("llama"), dtype: .q8_0, to: scratch.file("x.gguf"), name: "x")
        let f16 = report.tensors.filter { $0.type == .f16 }.map(\.name)
        #expect(f16 == ["blk.0.ffn_down.weight", "blk.1.ffn_down.weight"])
        #expect(report.warnings.contains { $0.contains("blk.0.ffn_down.weight") && $0.contains("multiple of 32") }, "\(report.warnings)")
        #expect(report.addsBOS)
    }

    /// Export → read gives back every parameter of the five parity models exactly (F32), so the name table and the
    /// permutation invert each other for GQA 6/2 and 6/3, tied and untied heads, biases, GPT-2 and llama3 RoPE.
    @Test(arguments: ["llama_untied", "llama_tied_bf16", "llama3_rope_sharded", "qwen2_f16", "gpt2_tied"])
    func f32RoundTripIsExact(_ name: String) throws {
        let folder = repoRoot.appendingPathComponent("Tests/Reference/fixtures/models/\(name)").path
        let config = try HFConfig.read(path: folder + "/config.json")
        let parameters = try HFFolder.readParameters(folder: folder, config: config)
        let scratch = try Scratch()
        let out = scratch.file("m.gguf")
        // Any byte-level vocabulary of at most 301 ids serves: these models have no tokenizer of their own.
        try GGUFExport.model(config: config, parameters: parameters, tokenizerFolder: try GGUFFixture.folder("gpt2"),
                             dtype: .f32, name: name, to: out)
        let (read, back) = try GGUFModelReader.read(path: out)
        #expect(Set(back.keys) == Set(parameters.keys))
        for (key, t) in parameters {
            #expect(back[key]?.shape == t.shape && back[key]?.scalars == t.scalars, "\(name): \(key) changed in the round trip")
        }
        #expect(read.family == config.family && read.vocabSize == config.vocabSize && read.hiddenSize == config.hiddenSize
                && read.intermediateSize == config.intermediateSize && read.numLayers == config.numLayers
                && read.numHeads == config.numHeads && read.numKVHeads == config.numKVHeads && read.headDim == config.headDim
                && read.maxPositionEmbeddings == config.maxPositionEmbeddings && read.tieWordEmbeddings == config.tieWordEmbeddings
                && read.qkvBias == config.qkvBias && read.ropeTheta == config.ropeTheta, "\(name): \(read) vs \(config)")
        #expect(Float(read.normEps) == Float(config.normEps))
        // The logits of the model read back match transformers' (the llama3 scaling is rebuilt from rope_freqs).
        let expected = try loadFixture("models/\(name)/expected.json")
        let ids = expected["input_ids"].array.map { $0.array.map(\.int) }
        let reference = try SafetensorsFile(path: folder + "/expected_logits.safetensors").tensor("logits")
        let model = try makeLanguageModel(config: read, parameters: back)
        let logits = try model.forward(tokens: ids.flatMap { $0 }, batch: ids.count)
        expectRelativeMax(logits, reference, tolerance: 1e-4, "\(name) round trip")
    }

    /// Problems are errors naming what is wrong, not crashes or silent output.
    @Test func errorsNameTheProblem() throws {
        let scratch = try Scratch()
        let folder = try GGUFFixture.folder("llama")
        let config = try HFConfig.read(path: folder + "/config.json")
        var parameters = try HFFolder.readParameters(folder: folder, config: config)
        // A tokenizer folder without tokenizer.json.
        var m = describeError { try GGUFExport.model(config: config, parameters: parameters, tokenizerFolder: scratch.path, dtype: .f32, name: "x", to: scratch.file("a.gguf")) }
        #expect(m.contains("tokenizer.json"), "\(m)")
        // Parameters that do not match the configuration (a smaller vocabulary).
        var small = config
        small.vocabSize = 300
        m = describeError { try GGUFExport.model(config: small, parameters: parameters, tokenizerFolder: folder, dtype: .f32, name: "x", to: scratch.file("b.gguf")) }
        #expect(m.contains("model.embed_tokens.weight"), "\(m)")
        // A non-finite weight cannot become Q8_0; the message names the tensor, and no file is left behind.
        var embed = try #require(parameters["model.embed_tokens.weight"])
        embed.withUnsafeMutableBufferPointer { $0[5] = .nan }
        parameters["model.embed_tokens.weight"] = embed
        m = describeError { try GGUFExport.model(config: config, parameters: parameters, tokenizerFolder: folder, dtype: .q8_0, name: "x", to: scratch.file("c.gguf")) }
        #expect(m.contains("token_embd.weight") && m.contains("flat index 5"), "\(m)")
        #expect(!FileManager.default.fileExists(atPath: scratch.file("c.gguf")))
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.path).isEmpty, "temporary files left behind")
    }

    /// Q8_0 and F16 encodings on hand-made edge cases (ties, zero blocks, a scale that underflows or overflows
    /// fp16, negative maxima) equal gguf-py's `quants.quantize` bytes.
    @Test func encodingsMatchGGUFPyOnEdgeCases() throws {
        let cases = try loadFixture("gguf/encoding_edges.json")
        #expect(!cases.array.isEmpty)
        for c in cases.array {
            let values = c["values"].floats
            let name = c["name"].string
            if case .string(let expectedQ8) = c["q8_0"] {
                let q8 = values.withUnsafeBufferPointer { GGUFWriter.q8_0($0) }
                #expect(SHA256.hex(q8) == expectedQ8, "\(name): Q8_0 bytes differ")
            }
            let f16 = values.withUnsafeBufferPointer { GGUFWriter.f16($0) }
            let f16Bytes = f16.flatMap { [UInt8(truncatingIfNeeded: $0), UInt8(truncatingIfNeeded: $0 >> 8)] }
            #expect(SHA256.hex(f16Bytes) == c["f16"].string, "\(name): F16 bytes differ")
        }
    }
}

/// The message of the error `body` throws (empty, and a recorded issue, if it does not throw).
func describeError(_ body: () throws -> Void) -> String {
    do { try body() } catch { return "\(error)" }
    Issue.record("expected an error, none was thrown")
    return ""
}

