import Tensors

/// Token (or position) embedding: row lookup in `weight` [V, C].
///
/// The table is Float32, or 16-bit (`HalfMatrix`) for inference: each looked-up row is widened (exactly) into the
/// Float32 output. Backward needs a Float32 table (a precondition; Models refuses to train 16-bit models first).
public struct Embedding: Sendable {
    /// How the table [V, C] is held.
    public enum Table: Sendable {
        case f32(Tensor)
        /// 16 bits, inference only.
        case half(HalfMatrix)
    }

    public var table: Table

    public init(weight: Tensor) {
        precondition(weight.rank == 2, "Embedding weight must be [V, C], got \(weight.shape)")
        table = .f32(weight)
    }

    /// A table that stays 16-bit (inference only).
    public init(halfWeight: HalfMatrix) { table = .half(halfWeight) }

    /// The table as Float32 [V, C]: the stored tensor, or an exact widened copy of a 16-bit table.
    public var weight: Tensor {
        switch table {
        case .f32(let t): t
        case .half(let h): h.widened()
        }
    }

    /// V and C.
    var tableShape: (rows: Int, cols: Int) {
        switch table {
        case .f32(let t): (t.shape[0], t.shape[1])
        case .half(let h): (h.rows, h.cols)
        }
    }

    /// What backward needs: the ids that were looked up.
    public struct Saved: Sendable { public let ids: [Int] }

    /// ids (N values, each in 0..<V; checked by the caller on user input) → [N, C].
    public func forward(_ ids: [Int]) -> (Tensor, Saved) {
        let (v, c) = tableShape
        var out = Tensor(zeros: [ids.count, c])
        out.withUnsafeMutableBufferPointer { op in
            for (r, id) in ids.enumerated() {
                precondition(id >= 0 && id < v, "token id \(id) outside the vocabulary 0..<\(v)")
                switch table {
                case .f32(let weight):
                    weight.withUnsafeBufferPointer { wp in
                        (op.baseAddress! + r * c).update(from: wp.baseAddress! + id * c, count: c)
                    }
                case .half(let h):
                    h.widenRow(id, into: op.baseAddress! + r * c)
                }
            }
        }
        return (out, Saved(ids: ids))
    }

    /// dOut [N, C] → adds row n of dOut into row `ids[n]` of `grad` [V, C] (repeated ids accumulate, in row
    /// order). Split over column blocks, so no two threads touch the same element.
    public func backward(_ dOut: Tensor, saved: Saved, into grad: inout Tensor) {
        guard case .f32(let weight) = table else {
            preconditionFailure("an Embedding with a 16-bit table is for inference only; build it with a Float32 table to train")
        }
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
