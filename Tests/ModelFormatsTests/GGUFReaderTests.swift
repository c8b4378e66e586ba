import Foundation
import Layers
import ModelFormats
import Models
import Tensors
import TestSupport
import Testing
import Tokenization

/// Whittle's GGUF reader on files gguf-py wrote (Tests/Reference/gen_gguf.py).
@Suite struct GGUFReaderTests {
    /// The parser sees what gguf-py's GGUFReader sees: every key with its type and encoded value (compared by
    /// sha256, scalars also by value), every tensor's type, shape, offset and bytes, and the dequantized values
    /// (gguf.quants.dequantize) — which checks F16 and Q8_0 decoding exactly.
    @Test(arguments: GGUFFixture.names + ["llama-lora.f32"])
    func parserMatchesGGUFPyReader(_ name: String) throws {
        let (model, dtype) = GGUFFixture.split(name)
        let expected = try GGUFFixture.expected(model)["files"][dtype]
        let parsed = try ParsedGGUF(path: try GGUFFixture.gguf(name))
        #expect(parsed.file.version == 3 && parsed.file.alignment == 32 && parsed.file.fileSize == expected["bytes"].int)
        let metadata = expected["metadata"].array
        #expect(parsed.file.metadata.map(\.key) == metadata.map { $0["key"].string }, "\(name): keys")
        for m in metadata {
            let key = m["key"].string
            guard let value = parsed.file[key] else { Issue.record("\(name): missing key \(key)"); continue }
            #expect(value.type.name == m["type"].string, "\(name): \(key) has type \(value.type.name), gguf-py says \(m["type"].string)")
            #expect(sha256(parsed.encoded(key)) == m["sha256"].string, "\(name): \(key) value differs from gguf-py's")
            switch m["value"] {
            case .string(let s): #expect(value.asString == s, "\(name): \(key)")
            case .number(let d): #expect(value.asDouble == d, "\(name): \(key) = \(value), expected \(d)")
            case .bool(let b): #expect(value.asBool == b, "\(name): \(key)")
            default:
                guard case .array(let element, let items) = value else { Issue.record("\(name): \(key) is not an array"); continue }
                #expect(element.name == m["element_type"].string && items.count == m["count"].int, "\(name): \(key)")
            }
        }
        let tensors = expected["tensors"].array
        #expect(parsed.file.tensors.map(\.name) == tensors.map { $0["name"].string }, "\(name): tensor names")
        for t in tensors {
            guard let info = parsed.file.tensor(named: t["name"].string) else { continue }
            #expect(info.type.name == t["type"].string && info.shape == t["shape"].array.map(\.int), "\(name): \(info.name) \(info.type) \(info.shape)")
            #expect(parsed.file.dataOffset + info.offset == t["offset"].int, "\(name): \(info.name) offset")
            #expect(sha256(parsed.raw(info)) == t["sha256"].string, "\(name): \(info.name) bytes")
            let values = try parsed.floats(info)
            #expect(sha256(littleEndianBytes(values)) == t["dequantized_sha256"].string, "\(name): \(info.name) dequantized values differ from gguf-py's")
            let first = t["first_values"].floats
            if !first.isEmpty { #expect(Array(values.scalars.prefix(first.count)) == first, "\(name): \(info.name) first values") }
        }
    }

    /// A model read from gguf-py's file gives the logits transformers gives with the same (dequantized) weights, and
    /// stays close to the unquantized model. Tolerances, as max |Δ| / max |logit|: 1e-4 against the same weights
    /// (float32 accumulation order differs); against the original weights 1e-4 for F32, 1e-2 for F16 and 5e-2 for
    /// Q8_0 — the quantization error itself, which transformers shows on these tiny random models (weights of std
    /// 0.15) as 1.2e-3 / 6.6e-4 for F16 and 3.7e-2 / 1.5e-2 / 3.6e-2 for Q8_0 (llama / gpt2 / qwen2).
    @Test(arguments: GGUFFixture.names)
    func logitsMatchTransformers(_ name: String) throws {
        let (model, dtype) = GGUFFixture.split(name)
        let ids = try GGUFFixture.expected(model)["input_ids"].array.flatMap { $0.array.map(\.int) }
        let loaded = try GGUFModelReader.load(path: try GGUFFixture.gguf(name))
        let logits = try loaded.forward(tokens: ids, batch: 1)
        expectRelativeMax(logits, try GGUFFixture.logits(model, "logits_\(dtype)"), tolerance: 1e-4, "\(name) vs transformers on the GGUF's weights")
        let tolerances: [String: Double] = ["f32": 1e-4, "f16": 1e-2, "q8_0": 5e-2]
        let quantizationTolerance = tolerances[dtype] ?? 0
        expectRelativeMax(logits, try GGUFFixture.logits(model, "logits"), tolerance: quantizationTolerance, "\(name) vs the original model")
    }

    /// The F32 file gives exactly the parameters and logits Whittle computes from the Hugging Face folder, and the
    /// configuration read from the metadata is the folder's (llama3 RoPE rebuilt from rope_freqs with its parameters).
    @Test(arguments: ["llama", "gpt2"])
    func f32FileEqualsTheFolder(_ model: String) throws {
        let folder = try GGUFFixture.folder(model)
        let hfConfig = try HFConfig.read(path: folder + "/config.json")
        let hfParameters = try HFFolder.readParameters(folder: folder, config: hfConfig)
        let (config, parameters) = try GGUFModelReader.read(path: try GGUFFixture.gguf("\(model).f32"))
        for (key, t) in hfParameters { #expect(parameters[key]?.scalars == t.scalars, "\(model): \(key)") }
        #expect(config.ropeScaling == hfConfig.ropeScaling, "\(model): \(config.ropeScaling) vs \(hfConfig.ropeScaling)")
        #expect(config.bosTokenID == hfConfig.bosTokenID && config.eosTokenIDs == hfConfig.eosTokenIDs)
        let ids = try GGUFFixture.expected(model)["input_ids"].array.flatMap { $0.array.map(\.int) }
        let a = try makeLanguageModel(config: config, parameters: parameters).forward(tokens: ids, batch: 1)
        let b = try makeLanguageModel(config: hfConfig, parameters: hfParameters).forward(tokens: ids, batch: 1)
        #expect(a.scalars == b.scalars, "\(model): logits from the GGUF differ from the folder's")
    }

    /// Reading a LoRA adapter as a model is refused with a clear message.
    @Test func adapterIsNotAModel() throws {
        let path = try GGUFFixture.gguf("llama-lora.f32")
        let m = describeError { _ = try GGUFModelReader.read(path: path) }
        #expect(m.contains(path) && m.contains("general.type") && m.contains("adapter"), "\(m)")
    }

    /// llama3 rope_freqs become a RoPEScaling that reproduces every divisor, also when the file does not pin the
    /// parameters (one or no blended frequency), and non-llama3 divisors are refused.
    @Test func ropeFreqsFit() throws {
        let cases: [(RoPEScaling, Int, Double)] = [
            (.llama3(factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 8192), 64, 500000),
            (.llama3(factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 128), 8, 10000),
            (.llama3(factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 8192), 64, 500000),
            (.llama3(factor: 4, lowFreqFactor: 2, highFreqFactor: 8, originalMaxPositions: 1000), 16, 10000),
        ]
        for (scaling, headDim, theta) in cases {
            var c = ModelConfig(family: .llama, modelType: "llama", vocabSize: 8, hiddenSize: headDim, intermediateSize: 8, numLayers: 1,
                                numHeads: 1, numKVHeads: 1, headDim: headDim, maxPositionEmbeddings: 8, normEps: 1e-5, ropeTheta: theta,
                                tieWordEmbeddings: true)
            c.ropeScaling = scaling
            let divisors = GGUFExport.ropeFreqs(c)
            let fitted = try GGUFModelReader.llama3Scaling(ropeFreqs: divisors, headDim: headDim, theta: theta, file: "test")
            var again = c
            again.ropeScaling = fitted
            let redone = GGUFExport.ropeFreqs(again)
            for (x, y) in zip(redone, divisors) { #expect(abs(x - y) <= 1e-5 * y, "\(scaling) → \(fitted)") }
            // The inverse frequencies the model uses agree too.
            let f1 = RoPE(headDim: headDim, theta: theta, scaling: scaling).invFreq, f2 = RoPE(headDim: headDim, theta: theta, scaling: fitted).invFreq
            for (x, y) in zip(f1, f2) { #expect(abs(x - y) <= 1e-5 * abs(x), "\(scaling) inv_freq") }
        }
        let m = describeError { _ = try GGUFModelReader.llama3Scaling(ropeFreqs: [1, 8, 1, 8], headDim: 8, theta: 10000, file: "f.gguf") }
        #expect(m.contains("rope_freqs.weight"), "\(m)")
    }
}
