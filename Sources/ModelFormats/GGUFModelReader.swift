import FileSupport
import Foundation
import Layers
import Models
import Tensors
import Tokenization

/// Reads a GGUF model (llama, qwen2 or gpt2 architecture; F32, F16, BF16 and Q8_0 tensors) back into a
/// `ModelConfig` and Hugging Face-named parameters in Whittle's layout, so Whittle's own model code runs it: the name
/// table and q/k row permutation of `GGUFNames` are undone and quantized tensors are dequantized to Float32
/// (Q8_0: `q · fp16 d`, as gguf-py's `dequantize`).
///
/// The file is memory-mapped and parsed by `GGUFFile`; tensors are converted one at a time. Every problem is a
/// `ModelFormatError` naming the file and, where it applies, the key or tensor: a missing key or tensor, a key of the
/// wrong type, a shape that disagrees with the metadata, an unknown architecture or tensor type, a tensor the model
/// does not have. Configuration numbers are checked against the tensors before anything is allocated from them.
public enum GGUFModelReader {
    public static let supportedArchitectures = ["llama", "qwen2", "gpt2"]

    /// The model's configuration and parameters.
    public static func read(path: String) throws -> (config: ModelConfig, parameters: [String: Tensor]) {
        let mapped: MappedFile
        do { mapped = try MappedFile(path: path) } catch { throw ModelFormatError(file: path, error.message) }
        let file: GGUFFile
        do { file = try GGUFFile(bytes: mapped.bytes, path: path) } catch { throw ModelFormatError(gguf: error) }
        let config = try config(of: file, bytes: mapped.bytes)
        let parameters = try parameters(of: file, config: config, bytes: mapped.bytes)
        return (config, parameters)
    }

    /// The model, ready to run.
    public static func load(path: String) throws -> any LanguageModel {
        let (config, parameters) = try read(path: path)
        do { return try makeLanguageModel(config: config, parameters: parameters) } catch {
            throw ModelFormatError(file: path, error.message)
        }
    }

    // MARK: - Configuration

    /// The configuration the metadata and tensor shapes describe (`bytes`: the whole file, for `rope_freqs`).
    public static func config(of file: GGUFFile, bytes: UnsafeRawBufferPointer) throws(ModelFormatError) -> ModelConfig {
        let path = file.path
        func fail(_ key: String, _ m: String) -> ModelFormatError { ModelFormatError(file: path, "key '\(key)': \(m)") }
        func string(_ key: String) throws(ModelFormatError) -> String? {
            guard let v = file[key] else { return nil }
            guard let s = v.asString else { throw fail(key, "expected a STRING, got \(v.type.name)") }
            return s
        }
        func int(_ key: String) throws(ModelFormatError) -> Int? {
            guard let v = file[key] else { return nil }
            guard let n = v.asInt, n >= 0 else { throw fail(key, "expected a non-negative integer, got \(v.type.name) \(v)") }
            return n
        }
        func required(_ key: String) throws(ModelFormatError) -> Int {
            guard let n = try int(key) else { throw fail(key, "missing (required for this architecture)") }
            return n
        }
        func double(_ key: String) throws(ModelFormatError) -> Double? {
            guard let v = file[key] else { return nil }
            guard let d = v.asDouble, d.isFinite else { throw fail(key, "expected a finite number, got \(v.type.name)") }
            return d
        }

        guard let arch = try string("general.architecture") else { throw fail("general.architecture", "missing: not a model GGUF") }
        if let type = try string("general.type"), type != "model" {
            throw fail("general.type", "is '\(type)': this file is not a model" + (type == "adapter" ? " but an adapter (load it with its base model)" : ""))
        }
        guard supportedArchitectures.contains(arch) else {
            throw fail("general.architecture", "'\(arch)' is not supported (Whittle reads \(supportedArchitectures.joined(separator: ", ")))")
        }
        guard let embed = file.tensor(named: "token_embd.weight") else {
            throw ModelFormatError(file: path, tensor: "token_embd.weight", "missing")
        }
        guard embed.dimensions.count == 2 else {
            throw ModelFormatError(file: path, tensor: "token_embd.weight", "has \(embed.dimensions.count) dimensions, expected 2")
        }
        let hidden = try required("\(arch).embedding_length")
        guard embed.dimensions[0] == hidden else {
            throw ModelFormatError(file: path, tensor: "token_embd.weight", "rows of \(embed.dimensions[0]) disagree with \(arch).embedding_length \(hidden)")
        }
        let vocab = embed.dimensions[1]
        if let v = try int("\(arch).vocab_size"), v != vocab {
            throw fail("\(arch).vocab_size", "is \(v) but token_embd.weight has \(vocab) rows")
        }
        let layers = try required("\(arch).block_count")
        // Every layer has tensors, so a layer count beyond the tensor count is corrupt (and would allocate for nothing).
        guard layers > 0, layers <= file.tensors.count else {
            throw fail("\(arch).block_count", "\(layers) layers cannot be right for a file of \(file.tensors.count) tensors")
        }
        let heads = try required("\(arch).attention.head_count")
        guard heads > 0, heads <= hidden else { throw fail("\(arch).attention.head_count", "\(heads) heads for width \(hidden)") }
        let tied = file.tensor(named: "output.weight") == nil
        var eos: [Int] = []
        for key in ["tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id"] {
            if let id = try int(key), id < vocab, !eos.contains(id) { eos.append(id) }
        }
        let bos = try int("tokenizer.ggml.bos_token_id").flatMap { $0 < vocab ? $0 : nil }

        let config: ModelConfig
        if arch == "gpt2" {
            guard let positions = file.tensor(named: "position_embd.weight"), positions.dimensions.count == 2 else {
                throw ModelFormatError(file: path, tensor: "position_embd.weight", "missing or not 2-D")
            }
            guard hidden % heads == 0 else { throw fail("gpt2.attention.head_count", "\(heads) does not divide the width \(hidden)") }
            guard let eps = try double("gpt2.attention.layer_norm_epsilon") else { throw fail("gpt2.attention.layer_norm_epsilon", "missing") }
            config = ModelConfig(
                family: .gpt2, modelType: "gpt2", vocabSize: vocab, hiddenSize: hidden,
                intermediateSize: try int("gpt2.feed_forward_length") ?? 4 * hidden, numLayers: layers, numHeads: heads,
                numKVHeads: heads, headDim: hidden / heads, maxPositionEmbeddings: positions.dimensions[1], normEps: eps,
                tieWordEmbeddings: tied, bosTokenID: bos, eosTokenIDs: eos)
        } else {
            let kvHeads = try int("\(arch).attention.head_count_kv") ?? heads
            var headDim = hidden / heads
            if let k = try int("\(arch).attention.key_length") {
                headDim = k
                if let v = try int("\(arch).attention.value_length"), v != k {
                    throw fail("\(arch).attention.value_length", "\(v) differs from key_length \(k) (not supported)")
                }
            } else if let r = try int("\(arch).rope.dimension_count") {
                headDim = r
            }
            if let r = try int("\(arch).rope.dimension_count"), r != headDim {
                throw fail("\(arch).rope.dimension_count", "\(r) rotary dimensions of a head of \(headDim): partial RoPE is not supported")
            }
            guard let eps = try double("\(arch).attention.layer_norm_rms_epsilon") else {
                throw fail("\(arch).attention.layer_norm_rms_epsilon", "missing")
            }
            let theta = try double("\(arch).rope.freq_base") ?? 10000
            var scaling = RoPEScaling.none
            switch try string("\(arch).rope.scaling.type") {
            case nil, "none"?: break
            case "linear"?:
                guard let f = try double("\(arch).rope.scaling.factor"), f > 0 else { throw fail("\(arch).rope.scaling.factor", "missing or not positive") }
                scaling = .linear(factor: f)
            case let other?:
                throw fail("\(arch).rope.scaling.type", "'\(other)' is not supported (none, linear)")
            }
            var c = ModelConfig(
                family: .llama, modelType: arch, vocabSize: vocab, hiddenSize: hidden,
                intermediateSize: try required("\(arch).feed_forward_length"), numLayers: layers, numHeads: heads,
                numKVHeads: kvHeads, headDim: headDim, maxPositionEmbeddings: try required("\(arch).context_length"), normEps: eps,
                ropeTheta: theta, ropeScaling: scaling,
                qkvBias: arch == "qwen2" || file.tensor(named: "blk.0.attn_q.bias") != nil,
                outputProjBias: arch != "qwen2" && file.tensor(named: "blk.0.attn_output.bias") != nil,
                mlpBias: arch != "qwen2" && file.tensor(named: "blk.0.ffn_up.bias") != nil,
                tieWordEmbeddings: tied, bosTokenID: bos, eosTokenIDs: eos)
            if let freqs = file.tensor(named: "rope_freqs.weight") {
                guard case .none = scaling else { throw fail("\(arch).rope.scaling.type", "rope_freqs.weight and a scaling type together are not supported") }
                guard freqs.type == .f32, freqs.dimensions == [headDim / 2] else {
                    throw ModelFormatError(file: path, tensor: "rope_freqs.weight", "expected F32 [\(headDim / 2)], got \(freqs.type.name) \(freqs.dimensions)")
                }
                let divisors = try floats(freqs, of: file, bytes: bytes).scalars
                c.ropeScaling = try llama3Scaling(ropeFreqs: divisors, headDim: headDim, theta: theta, file: path)
            }
            config = c
        }
        do { try config.validate() } catch { throw ModelFormatError(file: path, error.message) }
        return config
    }

    // MARK: - Parameters

    /// Every parameter `config` needs, dequantized and back in Whittle's names and layout. All missing, unexpected,
    /// misshapen or unreadable tensors are collected into one error.
    public static func parameters(of file: GGUFFile, config: ModelConfig, bytes: UnsafeRawBufferPointer) throws(ModelFormatError) -> [String: Tensor] {
        let mappings: [GGUFTensorMapping]
        do { mappings = try GGUFNames.mappings(for: config) } catch { throw ModelFormatError(file: file.path, error.message) }
        let shapes = Dictionary(uniqueKeysWithValues: config.parameterShapes().map { ($0.name, $0.shape) })
        var problems: [String] = []
        var found: [(GGUFTensorMapping, GGUFTensorInfo)] = []
        for m in mappings {
            guard let info = file.tensor(named: m.gguf) else { problems.append("missing tensor \(m.gguf) (\(m.hf))"); continue }
            let expected = shapes[m.hf] ?? []
            guard info.shape == expected else {
                problems.append("tensor \(m.gguf) has shape \(info.shape) (ne \(info.dimensions)), expected \(expected) for \(m.hf)")
                continue
            }
            guard readableTypes.contains(info.type) else {
                problems.append("tensor \(m.gguf) has type \(info.type.name); Whittle reads \(readableTypes.map(\.name).joined(separator: ", "))")
                continue
            }
            found.append((m, info))
        }
        let known = Set(mappings.map(\.gguf) + ["rope_freqs.weight"])
        for t in file.tensors where !known.contains(t.name) { problems.append("unexpected tensor \(t.name) \(t.type.name) \(t.shape)") }
        if !problems.isEmpty {
            throw ModelFormatError(file: file.path, "tensors do not match the metadata (\(problems.count) problem(s)):\n  " + problems.joined(separator: "\n  "))
        }
        var out: [String: Tensor] = [:]
        for (m, info) in found { out[m.hf] = GGUFNames.fromGGUF(try floats(info, of: file, bytes: bytes), m) }
        return out
    }

    public static let readableTypes: [GGMLType] = [.f32, .f16, .bf16, .q8_0]

    /// One tensor as Float32 in row-major order (shape `info.shape`). `bytes` is the whole file.
    public static func floats(_ info: GGUFTensorInfo, of file: GGUFFile, bytes: UnsafeRawBufferPointer) throws(ModelFormatError) -> Tensor {
        let start = file.dataOffset + info.offset
        guard start >= 0, start + info.byteCount <= bytes.count, let base = bytes.baseAddress else {
            throw ModelFormatError(file: file.path, tensor: info.name, "data lies outside the file")
        }
        let src = base + start
        let n = info.elementCount
        var t = Tensor(zeros: info.shape)
        guard n > 0 else { return t }
        var unsupported = false
        t.withUnsafeMutableBufferPointer { dst in
            guard let out = dst.baseAddress else { return }
            switch info.type {
            case .f32:
                UnsafeMutableRawPointer(out).copyMemory(from: src, byteCount: n * 4)
                #if _endian(big)
                for i in 0..<n { out[i] = Float(bitPattern: out[i].bitPattern.littleEndian) }
                #endif
            case .f16, .bf16:
                var halves = [UInt16](repeating: 0, count: n)
                halves.withUnsafeMutableBytes { $0.copyMemory(from: UnsafeRawBufferPointer(start: src, count: n * 2)) }
                halves.withUnsafeBufferPointer { h in
                    if info.type == .bf16 { HalfPrecision.bf16ToFloat(h.baseAddress!, out, count: n) }
                    else { HalfPrecision.f16ToFloat(h.baseAddress!, out, count: n) }
                }
            case .q8_0:
                for b in 0..<(n / 32) {
                    let block = src + b * 34
                    let bits = UInt16(block.load(as: UInt8.self)) | UInt16(block.load(fromByteOffset: 1, as: UInt8.self)) << 8
                    let d = HalfPrecision.f16ToFloat(bits)
                    for j in 0..<32 {
                        out[b * 32 + j] = Float(Int8(bitPattern: block.load(fromByteOffset: 2 + j, as: UInt8.self))) * d
                    }
                }
            default:
                unsupported = true
            }
        }
        if unsupported {
            throw ModelFormatError(file: file.path, tensor: info.name, "type \(info.type.name) cannot be read (\(readableTypes.map(\.name).joined(separator: ", ")))")
        }
        return t
    }

    // MARK: - llama3 RoPE from rope_freqs

    /// The llama3 rope scaling that reproduces a `rope_freqs` tensor (one divisor per frequency: 1 kept, `factor`
    /// divided, a blend between). Only the divisors matter to the model, so when the file does not pin every
    /// parameter (fewer than two blended frequencies) an equivalent set is chosen; the result is accepted only if it
    /// recomputes every divisor to 1e-5.
    public static func llama3Scaling(ropeFreqs v: [Float], headDim: Int, theta: Double, file: String) throws(ModelFormatError) -> RoPEScaling {
        func fail(_ m: String) -> ModelFormatError { ModelFormatError(file: file, tensor: "rope_freqs.weight", m) }
        guard v.allSatisfy({ $0.isFinite && $0 >= 1 - 1e-6 }) else { throw fail("divisors must be finite and at least 1") }
        let factor = Double(v.max() ?? 1)
        if factor <= 1 + 1e-6 { return .none }
        // x = 1 / wavelength of each unscaled frequency; s = blend weight (1 kept … 0 divided).
        let base = Float(theta), twoPi = Float(2 * Double.pi)
        let x = (0..<v.count).map { j -> Double in
            let freq = 1 / powf(base, Float(2 * j) / Float(headDim))
            return 1 / Double(twoPi / freq)
        }
        func isKept(_ d: Float) -> Bool { abs(Double(d) - 1) <= 1e-6 }
        func isDivided(_ d: Float) -> Bool { abs(Double(d) - factor) <= 1e-6 * factor }
        let smooth = v.indices.filter { !isKept(v[$0]) && !isDivided(v[$0]) }
        let kept = v.indices.filter { isKept(v[$0]) }, divided = v.indices.filter { isDivided(v[$0]) }
        if kept.isEmpty && smooth.isEmpty { return .linear(factor: factor) }
        func blend(_ j: Int) -> Double { (1 / Double(v[j]) - 1 / factor) / (1 - 1 / factor) }
        // s(x) = A·x − B with A = orig/(high − low), B = low/(high − low).
        var a: Double, b: Double
        if smooth.count >= 2 {
            let i = smooth.first!, k = smooth.last!
            a = (blend(i) - blend(k)) / (x[i] - x[k])
            b = a * x[i] - blend(i)
        } else if let i = smooth.first {
            let s = blend(i)
            var needed = 2 * s / x[i]
            if let k = kept.map({ x[$0] }).min(), k > x[i] { needed = max(needed, (1 - s) / (k - x[i])) }
            if let d = divided.map({ x[$0] }).max(), d < x[i] { needed = max(needed, s / (x[i] - d)) }
            a = 2 * needed
            b = a * x[i] - s
        } else {
            guard let k = kept.map({ x[$0] }).min(), let d = divided.map({ x[$0] }).max(), k > d else {
                throw fail("kept and divided frequencies interleave: not a llama3 scaling")
            }
            a = 2 / (k - d)
            b = a * (k + d) / 2 - 0.5
        }
        guard a > 0, b > 0, a.isFinite, b.isFinite else { throw fail("the divisors do not describe a llama3 scaling") }
        let orig = max(1, Int((a / b).rounded()))
        func snap(_ value: Double) -> Double {
            let r = (value * 1000).rounded() / 1000
            return abs(r - value) <= 1e-4 * abs(value) ? r : value
        }
        let low = Double(orig) * b / a, high = Double(orig) * (1 + b) / a
        for candidate in [(snap(factor), snap(low), snap(high)), (factor, low, high)] {
            let scaling = RoPEScaling.llama3(factor: candidate.0, lowFreqFactor: candidate.1, highFreqFactor: candidate.2, originalMaxPositions: orig)
            var probe = ModelConfig(family: .llama, modelType: "llama", vocabSize: 1, hiddenSize: headDim, intermediateSize: 1, numLayers: 1,
                                    numHeads: 1, numKVHeads: 1, headDim: headDim, maxPositionEmbeddings: 1, normEps: 1e-5,
                                    ropeTheta: theta, tieWordEmbeddings: true)
            probe.ropeScaling = scaling
            let again = GGUFExport.ropeFreqs(probe)
            if zip(again, v).allSatisfy({ abs(Double($0) - Double($1)) <= 1e-5 * Double($1) }) { return scaling }
        }
        throw fail("no llama3 scaling (factor, low/high frequency factors, original context) reproduces these divisors")
    }
}
