import Tensors

/// Token (or position) embedding: row lookup in `weight` [V, C].
public struct Embedding: Sendable {
    public var weight: Tensor

    public init(weight: Tensor) {
        precondition(weight.rank == 2, "Embedding weight must be [V, C], got \(weight.shape)")
        self.weight = weight
    }

    /// What backward needs: the ids that were looked up.
    public struct Saved: Sendable { public let ids: [Int] }

    /// ids (N values, each in 0..<V; checked by the caller on user input) → [N, C].
    public func forward(_ ids: [Int]) -> (Tensor, Saved) {
        let v = weight.shape[0], c = weight.shape[1]
        var out = Tensor(zeros: [ids.count, c])
        out.withUnsafeMutableBufferPointer { op in
            weight.withUnsafeBufferPointer { wp in
                for (r, id) in ids.enumerated() {
                    precondition(id >= 0 && id < v, "token id \(id) outside the vocabulary 0..<\(v)")
                    (op.baseAddress! + r * c).update(from: wp.baseAddress! + id * c, count: c)
                }
            }
        }
        return (out, Saved(ids: ids))
    }

    /// dOut [N, C] → adds row n of dOut into row `ids[n]` of `grad` [V, C] (repeated ids accumulate, in row
    /// order). Split over column blocks, so no two threads touch the same element.
    public func backward(_ dOut: Tensor, saved: Saved, into grad: inout Tensor) {
        let v = weight.shape[0], c = weight.shape[1], ids = saved.ids
        precondition(dOut.shape.last == c && dOut.count == ids.count * c,
                     "Embedding backward expects dOut [\(ids.count), \(c)], got \(dOut.shape)")
        precondition(grad.shape == weight.shape, "Embedding gradient \(grad.shape) for weight \(weight.shape)")
        grad.withUnsafeMutableBufferPointer { gp in
            dOut.withUnsafeBufferPointer { dp in
                let gb = gp.baseAddress!, db = dp.baseAddress!
                // Column blocks of whole 16-lane vectors; enough rows per block to be worth a thread.
                let blocks = (c + 15) / 16
                ThreadPool.shared.parallelFor(blocks, grain: max(1, (1 << 15) / max(ids.count * 16, 1))) { range in
                    let lo = range.lowerBound * 16, hi = min(range.upperBound * 16, c)
                    for (row, id) in ids.enumerated() {
                        precondition(id >= 0 && id < v, "token id \(id) outside the vocabulary 0..<\(v)")
                        let g = gb + id * c, d = db + row * c
                        var j = lo
                        while j + 16 <= hi { store16(load16(g + j) + load16(d + j), g + j); j += 16 }
                        while j < hi { g[j] += d[j]; j += 1 }
                    }
                }
            }
        }
    }
}
