import Tensors

/// Keys and values of past positions for one attention layer: [B, K, capacity, D] each, the first `length`
/// positions filled.
public struct KVCache: Sendable {
    public private(set) var keys: Tensor
    public private(set) var values: Tensor
    public private(set) var length = 0
    public let capacity: Int

    public init(batch: Int, kvHeads: Int, headDim: Int, capacity: Int) {
        keys = Tensor(zeros: [batch, kvHeads, capacity, headDim])
        values = Tensor(zeros: [batch, kvHeads, capacity, headDim])
        self.capacity = capacity
    }

    /// Appends k, v [B, T, K, D] at positions length..<length+T.
    public mutating func append(keys k: Tensor, values v: Tensor) {
        let (b, kh, d) = (keys.shape[0], keys.shape[1], keys.shape[3])
        precondition(k.rank == 4 && k.shape[0] == b && k.shape[2] == kh && k.shape[3] == d && v.shape == k.shape,
                     "cache of [\(b), \(kh), _, \(d)] cannot take keys \(k.shape), values \(v.shape)")
        let t = k.shape[1]
        precondition(length + t <= capacity, "KV cache overflow: \(length) + \(t) > capacity \(capacity)")
        let cap = capacity, start = length
        for (src, isKey) in [(k, true), (v, false)] {
            func copy(_ dst: inout Tensor) {
                dst.withUnsafeMutableBufferPointer { dp in
                    src.withUnsafeBufferPointer { sp in
                        for bi in 0..<b { for ti in 0..<t { for hi in 0..<kh {
                            (dp.baseAddress! + ((bi * kh + hi) * cap + start + ti) * d)
                                .update(from: sp.baseAddress! + ((bi * t + ti) * kh + hi) * d, count: d)
                        } } }
                    }
                }
            }
            if isKey { copy(&keys) } else { copy(&values) }
        }
        length += t
    }
}

/// Causal scaled-dot-product attention with grouped-query heads (query head h reads kv head h / (H/K), as
/// transformers' `repeat_kv`). Queries at rows t attend to cached positions 0...past+t.
///
/// Scores and the weighted sum are BLAS products per (batch, head); the softmax is Float32 over the unmasked
/// prefix of each row (masked entries are exactly 0, as after adding −inf).
public enum CausalAttention {
    /// What backward needs: the (roped) queries and the probabilities [B, H, T, S].
    public struct Saved: Sendable { public let queries: Tensor; public let probabilities: Tensor; public let past: Int }

    /// q [B, T, H, D], k and v [B, T, K, D] (already roped) → [B, T, H·D] (heads concatenated head-major).
    /// k and v are appended to `cache` first; `scale` multiplies the scores (usually 1/√D).
    public static func forward(queries q: Tensor, keys k: Tensor, values v: Tensor, scale: Float,
                               cache: inout KVCache) -> (Tensor, Saved) {
        precondition(q.rank == 4 && k.rank == 4, "attention expects [B, T, H, D] queries, got \(q.shape), keys \(k.shape)")
        let (b, t, h, d) = (q.shape[0], q.shape[1], q.shape[2], q.shape[3])
        let kh = k.shape[2]
        precondition(k.shape[0] == b && k.shape[1] == t && k.shape[3] == d && h % kh == 0,
                     "queries \(q.shape) and keys \(k.shape) do not match (H must be a multiple of K)")
        let past = cache.length
        cache.append(keys: k, values: v)
        let s = cache.length, cap = cache.capacity, group = h / kh
        var probs = Tensor(zeros: [b, h, t, s])
        var out = Tensor(zeros: [b, t, h * d])
        let keys = cache.keys, values = cache.values
        probs.withUnsafeMutableBufferPointer { pp in
            out.withUnsafeMutableBufferPointer { op in
                q.withUnsafeBufferPointer { qp in
                    keys.withUnsafeBufferPointer { kp in
                        values.withUnsafeBufferPointer { vp in
                            let pb = pp.baseAddress!, ob = op.baseAddress!, qb = qp.baseAddress!
                            let kb = kp.baseAddress!, vb = vp.baseAddress!
                            // Scores = scale · Q·Kᵀ, one GEMM per (batch, head).
                            for bi in 0..<b {
                                for hi in 0..<h {
                                    let kvBase = ((bi * kh + hi / group) * cap) * d
                                    BLAS.gemm(.normal, .transposed, m: t, n: s, k: d, alpha: scale,
                                              a: qb + bi * t * h * d + hi * d, lda: h * d,
                                              b: kb + kvBase, ldb: d,
                                              c: pb + (bi * h + hi) * t * s, ldc: s)
                                }
                            }
                            // Causal softmax: row t sees past + t + 1 positions; the rest are 0.
                            ThreadPool.shared.parallelFor(b * h * t, grain: rowGrain(s)) { rows in
                                for r in rows {
                                    let ti = r % t
                                    let visible = past + ti + 1
                                    let row = pb + r * s
                                    Kernels.softmaxRows(row, into: row, rows: 1, cols: visible)
                                    if visible < s { (row + visible).update(repeating: 0, count: s - visible) }
                                }
                            }
                            // Out = P·V into the head's column block.
                            for bi in 0..<b {
                                for hi in 0..<h {
                                    let kvBase = ((bi * kh + hi / group) * cap) * d
                                    BLAS.gemm(.normal, .normal, m: t, n: d, k: s,
                                              a: pb + (bi * h + hi) * t * s, lda: s,
                                              b: vb + kvBase, ldb: d,
                                              c: ob + bi * t * h * d + hi * d, ldc: h * d)
                                }
                            }
                        }
                    }
                }
            }
        }
        return (out, Saved(queries: q, probabilities: probs, past: past))
    }
}
