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
/// Per (batch, head) and block of `rowBlock` query rows: scores = scale·Q·Kᵀ over the keys the block sees (BLAS),
/// a Float32 softmax over each row's visible prefix (masked entries exactly 0, as after adding −inf), out = P·V
/// (BLAS). Blocking skips the masked half of a long prefill's products. Heads run in parallel
/// (`Threading.forEachUnit`), each on one thread with its worker's [rows, S] scratch.
public enum CausalAttention {
    /// q [B, T, H, D], k and v [B, T, K, D] (already roped) → [B, T, H·D] (heads concatenated head-major).
    /// k and v are appended to `cache` first; `scale` multiplies the scores (usually 1/√D).
    public static func forward(queries q: Tensor, keys k: Tensor, values v: Tensor, scale: Float,
                               cache: inout KVCache) -> Tensor {
        precondition(q.rank == 4 && k.rank == 4, "attention expects [B, T, H, D] queries, got \(q.shape), keys \(k.shape)")
        let (b, t, h, d) = (q.shape[0], q.shape[1], q.shape[2], q.shape[3])
        let kh = k.shape[2]
        precondition(k.shape[0] == b && k.shape[1] == t && k.shape[3] == d && h % kh == 0,
                     "queries \(q.shape) and keys \(k.shape) do not match (H must be a multiple of K)")
        let past = cache.length
        cache.append(keys: k, values: v)
        let s = cache.length, cap = cache.capacity, group = h / kh, rb = rowBlock, qld = h * d
        var out = Tensor(uninitialized: [b, t, h * d])   // every head's P·V writes its column block whole (S ≥ 1)
        let keys = cache.keys, values = cache.values
        let slab = max(min(t, rb) * s, 1)   // one worker's [rows, S] scores
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: slab * Threading.threadCount)
        defer { scratch.deallocate() }
        out.withUnsafeMutableBufferPointer { op in
        q.withUnsafeBufferPointer { qp in
        keys.withUnsafeBufferPointer { kp in
        values.withUnsafeBufferPointer { vp in
            let ob = op.baseAddress!, qb = qp.baseAddress!, kb = kp.baseAddress!, vb = vp.baseAddress!
            Threading.forEachUnit(b * h) { worker, u in
                let bi = u / h, hi = u % h, scores = scratch + worker * slab
                let kvBase = ((bi * kh + hi / group) * cap) * d
                for r0 in stride(from: 0, to: t, by: rb) {
                    let r1 = min(t, r0 + rb), seen = past + r1   // the block's last row sees keys 0..<seen
                    BLAS.gemm(.normal, .transposed, m: r1 - r0, n: seen, k: d, alpha: scale,
                              a: qb + (bi * t + r0) * qld + hi * d, lda: qld, b: kb + kvBase, ldb: d,
                              c: scores, ldc: seen)
                    for r in 0..<(r1 - r0) {
                        let row = scores + r * seen, visible = past + r0 + r + 1
                        Kernels.softmaxRows(row, into: row, rows: 1, cols: visible)
                        if visible < seen { (row + visible).update(repeating: 0, count: seen - visible) }
                    }
                    BLAS.gemm(.normal, .normal, m: r1 - r0, n: d, k: seen, a: scores, lda: seen,
                              b: vb + kvBase, ldb: d, c: ob + (bi * t + r0) * qld + hi * d, ldc: qld)
                }
            }
        } } } }
        return out
    }
}

// MARK: - Training (no cache, packed documents)

extension CausalAttention {
    /// What the training backward needs: the roped queries [B, T, H, D], keys and values [B, T, K, D] and the
    /// mask's segment starts [B·T]. The probabilities are not kept: backward recomputes each head's from Q and K
    /// with the same products in the same order, so they are bit for bit the forward's (a [B, H, T, T] tensor per
    /// layer was 9.4 MB per sequence of 512 at 9 heads, 283 MB over SmolLM2-135M's 30 layers, 1.1 GB at batch 4).
    public struct TrainingSaved: Sendable {
        public let queries: Tensor
        public let keys: Tensor
        public let values: Tensor
        public let segmentStarts: [Int32]
    }

    /// Rows per block of the per-head products. Row t sees no key after t, so a block of rows [r0, r1) needs
    /// keys before r1 only: blocking skips about half of the causal products at long T (and more with packing).
    static let rowBlock = 64

    /// q [B, T, H, D], k and v [B, T, K, D] (already roped); `segmentStarts` [B·T]: position t of batch row b
    /// attends to keys `segmentStarts[b·T + t] … t` only (block-diagonal causal for packed documents; all zeros is
    /// plain causal) → out [B, T, H·D] (heads concatenated head-major).
    ///
    /// Per (batch row, head): the head's probabilities P (`headProbabilities`) into a [T, T] scratch, then O = P·V
    /// by blocks of rows over the keys each block sees (BLAS). Query head h reads kv head h / (H/K), as
    /// transformers' `repeat_kv`.
    ///
    /// Threads: heads in parallel (`Threading.forEachUnit`), each head's products and row loops on one thread with a
    /// [T, T] scratch per worker. Products of 64-row blocks are too small for OpenBLAS's threads to pay off.
    public static func forward(queries q: Tensor, keys k: Tensor, values v: Tensor, scale: Float,
                               segmentStarts: [Int32]) -> (Tensor, TrainingSaved) {
        let m = TrainingShape(q, k, v, segmentStarts)
        let (t, h, d, qld, kld, rb) = (m.t, m.h, m.d, m.h * m.d, m.kh * m.d, rowBlock)
        var out = Tensor(zeros: [m.b, t, h * d])
        let scratch = HeadScratch(matrices: 1, side: t)
        defer { scratch.deallocate() }
        out.withUnsafeMutableBufferPointer { op in
        q.withUnsafeBufferPointer { qp in
        k.withUnsafeBufferPointer { kp in
        v.withUnsafeBufferPointer { vp in
        segmentStarts.withUnsafeBufferPointer { sp in
            let ob = op.baseAddress!, qb = qp.baseAddress!, kb = kp.baseAddress!, vb = vp.baseAddress!
            let starts = sp.baseAddress!
            Threading.forEachUnit(m.b * h) { worker, u in
                let bi = u / h, hi = u % h, g = hi / m.group
                let ph = scratch.matrix(0, worker: worker)
                let oh = ob + bi * t * qld + hi * d, vg = vb + bi * t * kld + g * d
                headProbabilities(m, batchRow: bi, queries: qb + bi * t * qld + hi * d, keys: kb + bi * t * kld + g * d,
                                  starts: starts + bi * t, scale: scale, into: ph)
                for blk in 0..<m.blocks {
                    let r0 = blk * rb, r1 = min(t, r0 + rb), lo = m.blockLows[bi * m.blocks + blk]
                    BLAS.gemm(.normal, .normal, m: r1 - r0, n: d, k: r1 - lo, a: ph + r0 * t + lo, lda: t,
                              b: vg + lo * kld, ldb: kld, c: oh + r0 * qld, ldc: qld)
                }
            }
        } } } } }
        return (out, TrainingSaved(queries: q, keys: k, values: v, segmentStarts: segmentStarts))
    }

    /// The probabilities [B, H, T, T] the forward used (recomputed; masked entries exactly 0). For tests and
    /// inspection: training never holds them all at once.
    public static func probabilities(_ saved: TrainingSaved, scale: Float) -> Tensor {
        let m = TrainingShape(saved.queries, saved.keys, saved.values, saved.segmentStarts)
        let (t, h, d, qld, kld) = (m.t, m.h, m.d, m.h * m.d, m.kh * m.d)
        var probs = Tensor(zeros: [m.b, h, t, t])
        let ph = UnsafeMutablePointer<Float>.allocate(capacity: max(t * t, 1))
        defer { ph.deallocate() }
        probs.withUnsafeMutableBufferPointer { pp in
        saved.queries.withUnsafeBufferPointer { qp in
        saved.keys.withUnsafeBufferPointer { kp in
        saved.segmentStarts.withUnsafeBufferPointer { sp in
            for u in 0..<(m.b * h) {
                let bi = u / h, hi = u % h, g = hi / m.group
                headProbabilities(m, batchRow: bi, queries: qp.baseAddress! + bi * t * qld + hi * d,
                                  keys: kp.baseAddress! + bi * t * kld + g * d, starts: sp.baseAddress! + bi * t,
                                  scale: scale, into: ph)
                // Only what a row's block reads is written; the rest of the row is masked, hence 0.
                for ti in 0..<t {
                    let r1 = min(t, (ti / rowBlock + 1) * rowBlock)
                    (pp.baseAddress! + (u * t + ti) * t).update(from: ph + ti * t, count: r1)
                }
            }
        } } } }
        return probs
    }

    /// One head's probabilities into `p` [T, T] (row stride T): per block of rows, S = scale·Q·Kᵀ over the keys
    /// the block sees (BLAS), then a Float32 softmax over each row's visible keys s…t. Every entry of a row
    /// before its block's end is written — 0 where masked, as after adding −inf — which is all any product
    /// downstream reads (the P·V and dV blocks read rows from a block's first key to its last row).
    private static func headProbabilities(_ m: TrainingShape, batchRow bi: Int, queries qh: UnsafePointer<Float>,
                                          keys kg: UnsafePointer<Float>, starts st: UnsafePointer<Int32>, scale: Float,
                                          into ph: UnsafeMutablePointer<Float>) {
        let (t, d, qld, kld, rb, lows) = (m.t, m.d, m.h * m.d, m.kh * m.d, rowBlock, bi * m.blocks)
        for blk in 0..<m.blocks {
            let r0 = blk * rb, r1 = min(t, r0 + rb), lo = m.blockLows[lows + blk]
            BLAS.gemm(.normal, .transposed, m: r1 - r0, n: r1 - lo, k: d, alpha: scale,
                      a: qh + r0 * qld, lda: qld, b: kg + lo * kld, ldb: kld, c: ph + r0 * t + lo, ldc: t)
        }
        for ti in 0..<t {
            let row = ph + ti * t, s = Int(st[ti]), r1 = min(t, (ti / rb + 1) * rb)
            Kernels.softmaxRows(row + s, into: row + s, rows: 1, cols: ti - s + 1)
            if s > 0 { row.update(repeating: 0, count: s) }
            if ti + 1 < r1 { (row + ti + 1).update(repeating: 0, count: r1 - ti - 1) }
        }
    }

    /// dOut [B, T, H·D] (or [B·T, H·D]) → (dQ [B, T, H, D], dK [B, T, K, D], dV [B, T, K, D]).
    ///
    /// Per (batch row, head): dP = dO·Vᵀ, dS = P ⊙ (dP − rowsum(dP ⊙ P)) (0 where masked), dQ = scale·dS·K,
    /// dK_h = scale·dSᵀ·Q, dV_h = Pᵀ·dO, every product a BLAS call over the visible blocks only. Heads run in
    /// parallel as in `forward`, each writing its own dK_h, dV_h; a kv head's dK, dV then sum its H/K query heads'
    /// in head order, so the result does not depend on the thread count or on which thread ran which head.
    public static func backward(_ dOut: Tensor, saved: TrainingSaved, scale: Float)
        -> (dQueries: Tensor, dKeys: Tensor, dValues: Tensor) {
        let m = TrainingShape(saved.queries, saved.keys, saved.values, saved.segmentStarts)
        let (t, h, d, qld, kld, rb) = (m.t, m.h, m.d, m.h * m.d, m.kh * m.d, rowBlock)
        precondition(dOut.count == m.b * t * qld && dOut.shape.last == qld,
                     "attention backward expects dOut [\(m.b), \(t), \(qld)] (or [\(m.b * t), \(qld)]), got \(dOut.shape)")
        var dq = Tensor(zeros: [m.b, t, h, d])
        var dk = Tensor(zeros: [m.b, t, m.kh, d]), dv = Tensor(zeros: [m.b, t, m.kh, d])
        // Per query head: dK_h and dV_h [T, D] (every row written: key block c0 ..< c1 by its own products).
        var dkHeads = Tensor(uninitialized: [m.b * h, t, d]), dvHeads = Tensor(uninitialized: [m.b * h, t, d])
        // Per worker: P of a head (recomputed exactly as the forward computed it) and its dS, [T, T] each; entries
        // a product reads outside a row's visible keys are set to 0.
        let scratch = HeadScratch(matrices: 2, side: t)
        defer { scratch.deallocate() }
        dq.withUnsafeMutableBufferPointer { dqp in
        dkHeads.withUnsafeMutableBufferPointer { dkp in
        dvHeads.withUnsafeMutableBufferPointer { dvp in
        dOut.withUnsafeBufferPointer { gp in
        saved.queries.withUnsafeBufferPointer { qp in
        saved.keys.withUnsafeBufferPointer { kp in
        saved.values.withUnsafeBufferPointer { vp in
        saved.segmentStarts.withUnsafeBufferPointer { sp in
            let dqb = dqp.baseAddress!, dkb = dkp.baseAddress!, dvb = dvp.baseAddress!, gb = gp.baseAddress!
            let qb = qp.baseAddress!, kb = kp.baseAddress!, vb = vp.baseAddress!
            let starts = sp.baseAddress!
            Threading.forEachUnit(m.b * h) { worker, u in
                let bi = u / h, hi = u % h, g = hi / m.group
                let ph = scratch.matrix(0, worker: worker), ds = scratch.matrix(1, worker: worker)
                let qh = qb + bi * t * qld + hi * d, gh = gb + bi * t * qld + hi * d, dqh = dqb + bi * t * qld + hi * d
                let kvOffset = bi * t * kld + g * d
                let dkh = dkb + u * t * d, dvh = dvb + u * t * d
                let st = starts + bi * t, lows = bi * m.blocks
                headProbabilities(m, batchRow: bi, queries: qh, keys: kb + kvOffset, starts: st, scale: scale, into: ph)
                // dP = dO·Vᵀ over each block's visible keys.
                for blk in 0..<m.blocks {
                    let r0 = blk * rb, r1 = min(t, r0 + rb), lo = m.blockLows[lows + blk]
                    BLAS.gemm(.normal, .transposed, m: r1 - r0, n: r1 - lo, k: d, a: gh + r0 * qld, lda: qld,
                              b: vb + kvOffset + lo * kld, ldb: kld, c: ds + r0 * t + lo, ldc: t)
                }
                // dS on visible keys; 0 on the rest of the row up to its block's end (all that is read below).
                for ti in 0..<t {
                    let row = ds + ti * t, s = Int(st[ti]), r1 = min(t, (ti / rb + 1) * rb)
                    softmaxBackwardRow(row + s, probabilities: ph + ti * t + s, count: ti - s + 1)
                    if s > 0 { row.update(repeating: 0, count: s) }
                    if ti + 1 < r1 { (row + ti + 1).update(repeating: 0, count: r1 - ti - 1) }
                }
                // dQ = scale·dS·K, by row blocks.
                for blk in 0..<m.blocks {
                    let r0 = blk * rb, r1 = min(t, r0 + rb), lo = m.blockLows[lows + blk]
                    BLAS.gemm(.normal, .normal, m: r1 - r0, n: d, k: r1 - lo, alpha: scale, a: ds + r0 * t + lo, lda: t,
                              b: kb + kvOffset + lo * kld, ldb: kld, c: dqh + r0 * qld, ldc: qld)
                }
                // dK_h = scale·dSᵀ·Q and dV_h = Pᵀ·dO by key blocks [c0, c1): only rows c0 ..< end see them (causal;
                // rows from `end` on start their documents at or after c1). Those rows' blocks start at or after
                // c0 and end at or after c1, so every dS entry read was written above.
                for blk in 0..<m.blocks {
                    let c0 = blk * rb, c1 = min(t, c0 + rb)
                    var end = t
                    while end > c1 && Int(st[end - 1]) >= c1 { end -= 1 }
                    BLAS.gemm(.transposed, .normal, m: c1 - c0, n: d, k: end - c0, alpha: scale,
                              a: ds + c0 * t + c0, lda: t, b: qh + c0 * qld, ldb: qld, c: dkh + c0 * d, ldc: d)
                    BLAS.gemm(.transposed, .normal, m: c1 - c0, n: d, k: end - c0,
                              a: ph + c0 * t + c0, lda: t, b: gh + c0 * qld, ldb: qld, c: dvh + c0 * d, ldc: d)
                }
            }
        } } } } } } } }
        sumGroups(dkHeads, into: &dk, m)
        sumGroups(dvHeads, into: &dv, m)
        return (dq, dk, dv)
    }

    /// [B·H, T, D] per query head → [B, T, K, D]: each kv head the sum of its group's query heads, in head order.
    private static func sumGroups(_ heads: Tensor, into out: inout Tensor, _ m: TrainingShape) {
        let (t, d, kld) = (m.t, m.d, m.kh * m.d)
        out.withUnsafeMutableBufferPointer { op in
        heads.withUnsafeBufferPointer { hp in
            let ob = op.baseAddress!, hb = hp.baseAddress!
            ThreadPool.shared.parallelFor(m.b * t, grain: max(1, 4096 / max(kld, 1))) { rows in
                for r in rows {
                    let bi = r / t, ti = r % t
                    for g in 0..<m.kh {
                        let dst = ob + r * kld + g * d, first = (bi * m.h + g * m.group) * t + ti
                        dst.update(from: hb + first * d, count: d)
                        for j in 1..<m.group { Kernels.add(dst, hb + (first + j * t) * d, into: dst, count: d) }
                    }
                }
            }
        } }
    }

    /// Per-worker [T, T] scratch matrices for `Threading.forEachUnit` loops over heads.
    private struct HeadScratch {
        let base: UnsafeMutablePointer<Float>
        let matrices: Int, side: Int

        init(matrices: Int, side: Int) {
            self.matrices = matrices
            self.side = side
            base = .allocate(capacity: max(Threading.threadCount * matrices * side * side, 1))
        }

        func matrix(_ i: Int, worker: Int) -> UnsafeMutablePointer<Float> { base + (worker * matrices + i) * side * side }
        func deallocate() { base.deallocate() }
    }

    // MARK: - Helpers

    /// Checked training shapes and, per batch row and block of rows, the first key any row of the block sees.
    private struct TrainingShape {
        let b: Int, t: Int, h: Int, kh: Int, d: Int, group: Int, blocks: Int
        /// [B, blocks]: min of the block's segment starts.
        let blockLows: [Int]

        init(_ q: Tensor, _ k: Tensor, _ v: Tensor, _ segmentStarts: [Int32]) {
            precondition(q.rank == 4 && k.rank == 4 && v.shape == k.shape,
                         "attention expects [B, T, H, D] queries and equal [B, T, K, D] keys and values, got \(q.shape), \(k.shape), \(v.shape)")
            (b, t, h, d) = (q.shape[0], q.shape[1], q.shape[2], q.shape[3])
            kh = k.shape[2]
            precondition(k.shape[0] == b && k.shape[1] == t && k.shape[3] == d && kh > 0 && h % kh == 0,
                         "queries \(q.shape) and keys \(k.shape) do not match (H must be a multiple of K)")
            precondition(segmentStarts.count == b * t,
                         "segmentStarts has \(segmentStarts.count) entries, expected B·T = \(b * t)")
            group = h / kh
            let rb = CausalAttention.rowBlock
            blocks = (t + rb - 1) / rb
            var lows = [Int](repeating: 0, count: max(b * blocks, 1))
            for i in 0..<segmentStarts.count {
                let s = Int(segmentStarts[i]), ti = i % t
                precondition(s >= 0 && s <= ti, "segmentStarts[\(i)] = \(s) is outside 0...\(ti) (its position in its row)")
                let slot = (i / t) * blocks + ti / rb
                lows[slot] = ti % rb == 0 ? s : min(lows[slot], s)
            }
            blockLows = lows
        }
    }

    /// One row of the softmax backward, in place: `dp ← p ⊙ (dp − Σ dp ⊙ p)`.
    @inline(__always)
    private static func softmaxBackwardRow(_ dp: UnsafeMutablePointer<Float>, probabilities p: UnsafePointer<Float>, count n: Int) {
        var acc = Vec16(repeating: 0), j = 0
        while j + 16 <= n { acc += load16(dp + j) * load16(p + j); j += 16 }
        var dot = acc.sum()
        while j < n { dot += dp[j] * p[j]; j += 1 }
        j = 0
        while j + 16 <= n { store16(load16(p + j) * (load16(dp + j) - dot), dp + j); j += 16 }
        while j < n { dp[j] = p[j] * (dp[j] - dot); j += 1 }
    }
}
