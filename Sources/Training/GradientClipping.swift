import Tensors

/// Global-norm gradient clipping, as `torch.nn.utils.clip_grad_norm_(…, max_norm, norm_type=2)`: the total norm is
/// the 2-norm of the per-tensor 2-norms; when it exceeds `maxNorm`, every gradient is scaled by
/// `maxNorm / (total + 1e-6)`. Returns the total norm before clipping (it is what training logs).
public enum GradientClipping {
    public static func globalNorm(_ gradients: [Tensor]) -> Double {
        var sum = 0.0
        for g in gradients {
            // Per-tensor norms in Float like PyTorch, combined in Double.
            let n = Double(g.sumOfSquares().squareRoot())
            sum += n * n
        }
        return sum.squareRoot()
    }

    @discardableResult
    public static func clip(_ gradients: inout [Tensor], maxNorm: Double) -> Double {
        let total = globalNorm(gradients)
        let coefficient = maxNorm / (total + 1e-6)
        if coefficient < 1 {
            let c = Float(coefficient)
            for i in gradients.indices {
                let n = gradients[i].count
                gradients[i].withUnsafeMutableBufferPointer { Kernels.scale($0.baseAddress!, by: c, into: $0.baseAddress!, count: n) }
            }
        }
        return total
    }
}
