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
}
