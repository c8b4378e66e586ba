import Tensors

/// LayerNorm over the last dimension: `y = (x − mean) / sqrt(var + eps) ⊙ w + b` (biased variance, as PyTorch).
public struct LayerNorm: Sendable {
    public var weight: Tensor
    public var bias: Tensor
    public let eps: Float

    public init(weight: Tensor, bias: Tensor, eps: Double) {
        precondition(weight.rank == 1 && bias.shape == weight.shape, "LayerNorm weight \(weight.shape), bias \(bias.shape)")
        self.weight = weight
        self.bias = bias
        self.eps = Float(eps)
    }

    /// What backward needs: the input, each row's mean and 1/std.
    public struct Saved: Sendable { public let input: Tensor; public let mean: [Float]; public let rstd: [Float] }

    /// x [N, C] → [N, C].
    public func forward(_ x: Tensor) -> (Tensor, Saved) {
        let (n, c) = x.matrixShape
        precondition(c == weight.count, "LayerNorm of width \(weight.count) got \(x.shape)")
        var y = Tensor(zeros: x.shape)
        var means = [Float](repeating: 0, count: n), rstds = [Float](repeating: 0, count: n)
        let eps = self.eps
        y.withUnsafeMutableBufferPointer { yp in
            x.withUnsafeBufferPointer { xp in
                weight.withUnsafeBufferPointer { wp in
                    bias.withUnsafeBufferPointer { bp in
                        means.withUnsafeMutableBufferPointer { mp in
                            rstds.withUnsafeMutableBufferPointer { rp in
                                let yb = yp.baseAddress!, xb = xp.baseAddress!, w = wp.baseAddress!, b = bp.baseAddress!
                                let mb = mp.baseAddress!, rb = rp.baseAddress!
                                ThreadPool.shared.parallelFor(n, grain: rowGrain(c)) { rows in
                                    for row in rows {
                                        let xr = xb + row * c, yr = yb + row * c
                                        var acc = Vec16(); var j = 0
                                        while j + 16 <= c { acc += load16(xr + j); j += 16 }
                                        var s = acc.sum()
                                        while j < c { s += xr[j]; j += 1 }
                                        let mean = s / Float(c)
                                        acc = Vec16(); j = 0
                                        while j + 16 <= c { let d = load16(xr + j) - mean; acc += d * d; j += 16 }
                                        var v = acc.sum()
                                        while j < c { let d = xr[j] - mean; v += d * d; j += 1 }
                                        let rstd = 1 / (v / Float(c) + eps).squareRoot()
                                        mb[row] = mean; rb[row] = rstd
                                        j = 0
                                        while j + 16 <= c {
                                            store16((load16(xr + j) - mean) * rstd * load16(w + j) + load16(b + j), yr + j); j += 16
                                        }
                                        while j < c { yr[j] = (xr[j] - mean) * rstd * w[j] + b[j]; j += 1 }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return (y, Saved(input: x, mean: means, rstd: rstds))
    }
}
