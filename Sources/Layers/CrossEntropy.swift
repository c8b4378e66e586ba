#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Tensors

/// Softmax cross-entropy over the last dimension with an ignore index: `F.cross_entropy(logits, targets,
/// ignore_index=-100, reduction="sum")`, with Whittle's ignored target spelled −1.
///
/// Per row, log-softmax is taken stably: `−log p_t = log Σ_j e^(x_j − m) − (x_t − m)` with m the row's maximum;
/// the exponential sum is the compensated sum of `Kernels.expShiftedSum` (returned in Double), and the row
/// losses and their total are Double. Rows with an ignored target are skipped entirely.
public enum SoftmaxCrossEntropy {
    /// What backward needs: the softmax of each supervised row [N, V] (rows with an ignored target hold zeros;
    /// their softmax is never needed) and the targets.
    public struct Saved: Sendable {
        public let probabilities: Tensor
        public let targets: [Int32]
    }

    /// logits [N, V], targets N values in 0..<V or −1 (ignored) → (Σ over non-ignored rows of −log softmax(logits)[target]
    /// accumulated in Double, the count of non-ignored rows, Saved). Rows run in parallel; the total adds the
    /// row losses in row order, so it does not depend on the thread count.
    ///
    /// `logits` is consumed: when the caller passes its last reference, the probabilities overwrite the logits'
    /// storage instead of a second [N, V] buffer (a fresh 32 MB chunk costs page faults and a memset each time).
    public static func forward(logits: consuming Tensor, targets: [Int32]) -> (lossSum: Double, count: Int, saved: Saved) {
        var probs = consume logits
        let (n, v) = probs.matrixShape
        precondition(targets.count == n, "cross-entropy of \(n) rows got \(targets.count) targets")
        precondition(v > 0 || n == 0, "cross-entropy over an empty vocabulary")
        var rowLoss = [Double](repeating: 0, count: n)
        probs.withUnsafeMutableBufferPointer { pp in
            targets.withUnsafeBufferPointer { tp in
                rowLoss.withUnsafeMutableBufferPointer { rp in
                    let pb = pp.baseAddress!, tb = tp.baseAddress!, losses = rp.baseAddress!
                    ThreadPool.shared.parallelFor(n, grain: rowGrain(v)) { rows in
                        for row in rows {
                            let t = Int(tb[row]), p = pb + row * v
                            if t == -1 { p.update(repeating: 0, count: v); continue }
                            precondition(t >= 0 && t < v, "target \(t) outside the vocabulary 0..<\(v) (−1 = ignored)")
                            let m = Kernels.max(p, count: v), xt = p[t]
                            let sum = Kernels.expShiftedSum(p, shift: m, into: p, count: v)
                            losses[row] = log(sum) - (Double(xt) - Double(m))
                            let inv = Float(1 / sum)
                            var j = 0
                            while j + 16 <= v { store16(load16(p + j) * inv, p + j); j += 16 }
                            while j < v { p[j] *= inv; j += 1 }
                        }
                    }
                }
            }
        }
        var total = 0.0
        for l in rowLoss { total += l }
        let count = targets.reduce(0) { $0 + ($1 == -1 ? 0 : 1) }
        return (total, count, Saved(probabilities: probs, targets: targets))
    }

    /// dLogits [N, V] = scale·(softmax − onehot(target)) on non-ignored rows, 0 on ignored rows. (`scale` is
    /// 1/total supervised tokens of the optimizer step, so accumulation is token-weighted.)
    ///
    /// `saved` is consumed: when the caller passes its last reference (`backward(saved: consume saved, …)` or a
    /// last use), the probabilities' storage is overwritten in place instead of copied.
    public static func backward(saved: consuming Saved, scale: Float) -> Tensor {
        let targets = saved.targets
        var grad = saved.probabilities
        saved = Saved(probabilities: Tensor(zeros: [0]), targets: [])   // drop Saved's reference to the storage
        let (n, v) = grad.matrixShape
        precondition(targets.count == n, "cross-entropy backward: \(targets.count) targets for \(n) rows")
        grad.withUnsafeMutableBufferPointer { gp in
            targets.withUnsafeBufferPointer { tp in
                let gb = gp.baseAddress!, tb = tp.baseAddress!
                ThreadPool.shared.parallelFor(n, grain: rowGrain(v)) { rows in
                    for row in rows {
                        let t = Int(tb[row]), p = gb + row * v
                        if t == -1 { continue }   // forward left these rows zero
                        var j = 0
                        while j + 16 <= v { store16(load16(p + j) * scale, p + j); j += 16 }
                        while j < v { p[j] *= scale; j += 1 }
                        p[t] -= scale
                    }
                }
            }
        }
        return grad
    }
}
