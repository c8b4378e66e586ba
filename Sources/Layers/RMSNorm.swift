import Tensors

/// RMSNorm as in `LlamaRMSNorm`: `y = w ⊙ x / sqrt(mean(x²) + eps)` over the last dimension (eps inside the root).
public struct RMSNorm: Sendable {
    public var weight: Tensor
    public let eps: Float

    public init(weight: Tensor, eps: Double) {
        precondition(weight.rank == 1, "RMSNorm weight must be [C], got \(weight.shape)")
        self.weight = weight
        self.eps = Float(eps)
    }

    /// What backward needs: the input and each row's 1/rms.
    public struct Saved: Sendable { public let input: Tensor; public let rstd: [Float] }

    /// x [N, C] → [N, C].
    public func forward(_ x: Tensor) -> (Tensor, Saved) {
        let (n, c) = x.matrixShape
        precondition(c == weight.count, "RMSNorm of width \(weight.count) got \(x.shape)")
        var y = Tensor(zeros: x.shape)
        var rstd = [Float](repeating: 0, count: n)
        let eps = self.eps
        y.withUnsafeMutableBufferPointer { yp in
            x.withUnsafeBufferPointer { xp in
                weight.withUnsafeBufferPointer { wp in
                    rstd.withUnsafeMutableBufferPointer { rp in
                        let yb = yp.baseAddress!, xb = xp.baseAddress!, w = wp.baseAddress!, r = rp.baseAddress!
                        ThreadPool.shared.parallelFor(n, grain: rowGrain(c)) { rows in
                            for row in rows {
                                let xr = xb + row * c, yr = yb + row * c
                                var acc = Vec16()
                                var j = 0
                                while j + 16 <= c { let v = load16(xr + j); acc += v * v; j += 16 }
                                var ss = acc.sum()
                                while j < c { ss += xr[j] * xr[j]; j += 1 }
                                let s = 1 / (ss / Float(c) + eps).squareRoot()
                                r[row] = s
                                j = 0
                                while j + 16 <= c { store16(load16(w + j) * (load16(xr + j) * s), yr + j); j += 16 }
                                while j < c { yr[j] = w[j] * (xr[j] * s); j += 1 }
                            }
                        }
                    }
                }
            }
        }
        return (y, Saved(input: x, rstd: rstd))
    }
}
