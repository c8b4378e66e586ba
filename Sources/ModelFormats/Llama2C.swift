import FileSupport
import Foundation
import Models
import Tensors
import Tokenization

/// karpathy/llama2.c checkpoints: v0 ("legacy", read by run.c) and v1 (magic "ak42", float32).
///
/// Both hold a Llama with RMSNorm eps 1e-5, rope theta 10000 and head width dim/n_heads, with q/k rows in the
/// interleaved-pair RoPE layout; `read` permutes them into HF's rotate-half layout (formats.md §5.9/§6):
/// `HF_row[h·D + b·D/2 + j] = file_row[h·D + 2j + b]`, with n_heads for wq and n_kv_heads for wk.
public enum Llama2C {
    public static let magic: UInt32 = 0x616b_3432

    public static func read(path: String) throws -> LlamaModel {
        let file: MappedFile
        do { file = try MappedFile(path: path) } catch { throw ModelFormatError(file: path, error.message) }
        let bytes = file.bytes
        func fail(_ m: String) -> ModelFormatError { ModelFormatError(file: path, m) }
        func int32(at offset: Int) throws(ModelFormatError) -> Int {
            guard offset + 4 <= bytes.count else { throw fail("file ends inside the header (\(bytes.count) bytes)") }
            return Int(Int32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: Int32.self)))
        }
        var version = 0, headerEnd = 28, paramsAt = 0
        var shared = true
        if bytes.count >= 4, UInt32(littleEndian: bytes.loadUnaligned(as: UInt32.self)) == magic {
            version = try int32(at: 4)
            guard version == 1 else { throw fail("llama2.c version \(version) is not supported (v0 and v1 only)") }
            paramsAt = 8
            guard bytes.count >= 256 else { throw fail("file ends inside the 256-byte v1 header") }
            shared = bytes[8 + 28] != 0
            headerEnd = 256
        }
        let h = try (0..<7).map { i throws(ModelFormatError) in try int32(at: paramsAt + 4 * i) }
        var (dim, hidden, layers, heads, kvHeads, vocab, seqLen) = (h[0], h[1], h[2], h[3], h[4], h[5], h[6])
        if version == 0 { shared = vocab > 0; vocab = abs(vocab) }
        guard dim > 0, hidden > 0, layers > 0, heads > 0, kvHeads > 0, vocab > 0, seqLen > 0,
              dim % heads == 0, heads % kvHeads == 0, (dim / heads) % 2 == 0,
              [dim, hidden, layers, heads, vocab, seqLen].allSatisfy({ $0 < 1 << 28 }) else {
            throw fail("implausible header dim \(dim), hidden_dim \(hidden), n_layers \(layers), n_heads \(heads), "
                + "n_kv_heads \(kvHeads), vocab_size \(vocab), seq_len \(seqLen)")
        }
        let d = dim / heads, kvDim = kvHeads * d
        let config = ModelConfig(
            family: .llama, modelType: "llama", vocabSize: vocab, hiddenSize: dim, intermediateSize: hidden,
            numLayers: layers, numHeads: heads, numKVHeads: kvHeads, headDim: d, maxPositionEmbeddings: seqLen,
            normEps: 1e-5, ropeTheta: 10000, tieWordEmbeddings: shared, bosTokenID: 1, eosTokenIDs: [2])

        // The file size the header implies, computed with overflow checks before anything is allocated.
        var floats = 0
        let counts: [[Int]] = [[vocab, dim], [layers, dim], [layers, dim, dim], [layers, kvDim, dim], [layers, kvDim, dim],
                               [layers, dim, dim], [layers, dim], [layers, hidden, dim], [layers, dim, hidden],
                               [layers, hidden, dim], [dim]]
            + (version == 0 ? [[seqLen, d / 2], [seqLen, d / 2]] : []) + (shared ? [] : [[vocab, dim]])
        for shape in counts {
            var n = 1
            for x in shape {
                let (p, o) = n.multipliedReportingOverflow(by: x)
                guard !o else { throw fail("header sizes overflow: dim \(dim), hidden_dim \(hidden), n_layers \(layers)") }
                n = p
            }
            let (sum, o) = floats.addingReportingOverflow(n)
            guard !o, sum < Int.max / 8 else { throw fail("header sizes overflow: dim \(dim), hidden_dim \(hidden), n_layers \(layers)") }
            floats = sum
        }
        guard headerEnd + 4 * floats == bytes.count else {
            throw fail("file has \(bytes.count) bytes but its header (v\(version): dim \(dim), hidden_dim \(hidden), "
                + "n_layers \(layers), n_heads \(heads), n_kv_heads \(kvHeads), vocab_size \(vocab), seq_len \(seqLen), "
                + "\(shared ? "shared" : "separate") classifier) implies \(headerEnd + 4 * floats): truncated or not a llama2.c checkpoint")
        }

        var offset = headerEnd  // in bytes
        func take(_ shape: [Int]) throws(ModelFormatError) -> Tensor {
            let n = shape.reduce(1, *)
            guard offset + 4 * n <= bytes.count else {
                throw fail("file is truncated: needs at least \(offset + 4 * n) bytes, has \(bytes.count)")
            }
            var t = Tensor(zeros: shape)
            t.withUnsafeMutableBufferPointer { p in
                UnsafeMutableRawBufferPointer(p).copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + 4 * n)]))
            }
            offset += 4 * n
            return t
        }
        func perLayer(_ all: Tensor) -> [Tensor] {
            let rest = Array(all.shape.dropFirst()), n = rest.reduce(1, *)
            return (0..<layers).map { i in Tensor(shape: rest, data: Array(all.scalars[(i * n)..<((i + 1) * n)])) }
        }
        var embed, rmsAtt, rmsFfn, rmsFinal, wq, wk, wv, wo, w1, w2, w3: Tensor
        if version == 0 {
            embed = try take([vocab, dim]); rmsAtt = try take([layers, dim])
            wq = try take([layers, dim, dim]); wk = try take([layers, kvDim, dim]); wv = try take([layers, kvDim, dim])
            wo = try take([layers, dim, dim]); rmsFfn = try take([layers, dim])
            w1 = try take([layers, hidden, dim]); w2 = try take([layers, dim, hidden]); w3 = try take([layers, hidden, dim])
            rmsFinal = try take([dim])
            _ = try take([seqLen, d / 2]); _ = try take([seqLen, d / 2])  // legacy freq_cis tables, unused
        } else {
            rmsAtt = try take([layers, dim]); rmsFfn = try take([layers, dim]); rmsFinal = try take([dim])
            embed = try take([vocab, dim])
            wq = try take([layers, dim, dim]); wk = try take([layers, kvDim, dim]); wv = try take([layers, kvDim, dim])
            wo = try take([layers, dim, dim])
            w1 = try take([layers, hidden, dim]); w2 = try take([layers, dim, hidden]); w3 = try take([layers, hidden, dim])
        }
        let wcls = shared ? nil : try take([vocab, dim])
        if offset != bytes.count {
            throw fail("\(bytes.count - offset) unexpected bytes after the weights (header says \(layers) layers, dim \(dim))")
        }
        var p: [String: Tensor] = ["model.embed_tokens.weight": embed, "model.norm.weight": rmsFinal]
        if let wcls { p["lm_head.weight"] = wcls }
        let (att, ffn, q, k, v, o, g, dn, up) = (perLayer(rmsAtt), perLayer(rmsFfn), perLayer(wq), perLayer(wk),
                                                 perLayer(wv), perLayer(wo), perLayer(w1), perLayer(w2), perLayer(w3))
        for i in 0..<layers {
            let a = "model.layers.\(i)."
            p[a + "input_layernorm.weight"] = att[i]
            p[a + "post_attention_layernorm.weight"] = ffn[i]
            p[a + "self_attn.q_proj.weight"] = RoPERowOrder.interleavedToRotateHalf(q[i], heads: heads)
            p[a + "self_attn.k_proj.weight"] = RoPERowOrder.interleavedToRotateHalf(k[i], heads: kvHeads)
            p[a + "self_attn.v_proj.weight"] = v[i]
            p[a + "self_attn.o_proj.weight"] = o[i]
            p[a + "mlp.gate_proj.weight"] = g[i]
            p[a + "mlp.down_proj.weight"] = dn[i]
            p[a + "mlp.up_proj.weight"] = up[i]
        }
        do { return try LlamaModel(config: config, parameters: p) } catch { throw fail(error.message) }
    }
}

// MARK: - Import as a Hugging Face folder

extension Llama2C {
    /// `whittle import llama2c`: the checkpoint as config.json, generation_config.json and model.safetensors, and,
    /// given its tokenizer.bin, tokenizer.json and tokenizer_config.json as transformers would write them. Every file
    /// is written atomically.
    @discardableResult
    public static func importFolder(model: String, tokenizer: String?, out: String) throws -> LlamaModel {
        let imported = try read(path: model)
        var files: Llama2CConversion.Files? = nil
        if let tokenizer {
            files = try Llama2CConversion.huggingFaceFiles(fromTokenizerBin: tokenizer, contextLength: imported.config.contextLength)
            let vocab = try Tokenizer.load(path: tokenizer).vocabularySize
            guard vocab == imported.config.vocabSize else {
                throw ModelError("\(tokenizer) has \(vocab) tokens but \(model) has a vocabulary of \(imported.config.vocabSize)")
            }
        }
        try HFFolder.write(imported, to: out)
        if let files {
            try AtomicFile.write(files.tokenizerJSON, to: out + "/tokenizer.json")
            try AtomicFile.write(files.tokenizerConfigJSON, to: out + "/tokenizer_config.json")
        }
        return imported
    }
}
