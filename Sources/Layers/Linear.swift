import Tensors

/// A fully connected layer `y = x·Wᵀ + b` with the PyTorch `nn.Linear` layout: `weight` [O, I], `bias` [O].
/// (GPT-2's Conv1D `[I, O]` weights are transposed into this layout once, on import.)
public struct Linear: Sendable {
    public var weight: Tensor
    public var bias: Tensor?

    public init(weight: Tensor, bias: Tensor? = nil) {
        precondition(weight.rank == 2, "Linear weight must be [out, in], got \(weight.shape)")
        if let bias { precondition(bias.shape == [weight.shape[0]], "Linear bias \(bias.shape) for weight \(weight.shape)") }
        self.weight = weight
        self.bias = bias
    }

    public var inFeatures: Int { weight.shape[1] }
    public var outFeatures: Int { weight.shape[0] }

    /// What backward needs: the input.
    public struct Saved: Sendable { public let input: Tensor }

    /// x [N, I] → y [N, O] (any leading shape; the last dimension is I). One GEMM; the bias is broadcast into
    /// the output first and accumulated with beta = 1.
    public func forward(_ x: Tensor) -> (Tensor, Saved) {
        let (n, i) = x.matrixShape
        precondition(i == inFeatures, "Linear expects last dimension \(inFeatures), got \(x.shape)")
        let o = outFeatures
        var y = Tensor(zeros: Array(x.shape.dropLast()) + [o])
        var beta: Float = 0
        y.withUnsafeMutableBufferPointer { yp in
            let out = yp.baseAddress!
            if let bias {
                bias.withUnsafeBufferPointer { bp in
                    for r in 0..<n { (out + r * o).update(from: bp.baseAddress!, count: o) }
                }
                beta = 1
            }
            x.withUnsafeBufferPointer { xp in
                weight.withUnsafeBufferPointer { wp in
                    BLAS.gemm(.normal, .transposed, m: n, n: o, k: i, a: xp.baseAddress!, lda: max(i, 1),
                              b: wp.baseAddress!, ldb: max(i, 1), beta: beta, c: out, ldc: max(o, 1))
                }
            }
        }
        return (y, Saved(input: x))
    }
}
