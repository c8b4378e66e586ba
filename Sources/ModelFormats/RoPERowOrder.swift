import Tensors

/// The one Q/K row permutation between RoPE layouts (formats.md §5.9). Hugging Face rotates pairs (j, j + D/2)
/// inside each head ("rotate half"); Meta's original Llama, llama2.c and llama.cpp's `llama` architecture rotate
/// adjacent pairs (2j, 2j + 1). Reordering the output rows of q_proj and k_proj (weights and biases, and a LoRA's
/// lora_B) makes either rotation on the reordered weights equal the other on the original ones:
///
///     interleaved[h·D + 2j + b] = rotateHalf[h·D + b·D/2 + j]      (h head, j < D/2, b ∈ {0, 1})
///
/// This is llama.cpp's `LlamaModel.permute(w, n_head, n_head_kv)` (and llama2.c's `permute_reverse`); `heads` is
/// num_attention_heads for q and num_key_value_heads for k. Rows are moved whole, so it applies to any row width.
public enum RoPERowOrder {
    /// HF rotate-half rows → interleaved rows (GGUF `llama` export, the HF → llama2.c direction).
    public static func rotateHalfToInterleaved(_ t: Tensor, heads: Int) -> Tensor {
        permuteRows(t, heads: heads) { h, d, b, j in (h * d + b * d / 2 + j, h * d + 2 * j + b) }
    }

    /// Interleaved rows → HF rotate-half rows (GGUF `llama` import, llama2.c import).
    public static func interleavedToRotateHalf(_ t: Tensor, heads: Int) -> Tensor {
        permuteRows(t, heads: heads) { h, d, b, j in (h * d + 2 * j + b, h * d + b * d / 2 + j) }
    }

    /// Whether `rows` rows split into `heads` heads of even width (what the permutation needs).
    public static func canPermute(rows: Int, heads: Int) -> Bool {
        heads > 0 && rows % heads == 0 && (rows / heads) % 2 == 0
    }

    /// Copies row `source` of `t` to row `destination` of the result for every (head, pair index, half) of a head of
    /// width D. `t` is [rows] (a bias) or [rows, cols].
    private static func permuteRows(_ t: Tensor, heads: Int, _ map: (Int, Int, Int, Int) -> (source: Int, destination: Int)) -> Tensor {
        precondition(t.rank == 1 || t.rank == 2, "RoPE row permutation needs a vector or a matrix, got \(t.shape)")
        let rows = t.shape[0], cols = t.rank == 2 ? t.shape[1] : 1
        precondition(canPermute(rows: rows, heads: heads), "cannot permute \(rows) rows over \(heads) heads of even width")
        let d = rows / heads
        var out = Tensor(zeros: t.shape)
        out.withUnsafeMutableBufferPointer { o in
            t.withUnsafeBufferPointer { s in
                guard let ob = o.baseAddress, let sb = s.baseAddress else { return }
                for h in 0..<heads { for b in 0..<2 { for j in 0..<(d / 2) {
                    let (from, to) = map(h, d, b, j)
                    (ob + to * cols).update(from: sb + from * cols, count: cols)
                } } }
            }
        }
        return out
    }
}
