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

    /// The weight gradient [C]; nil means frozen.
    public struct Gradients: Sendable {
        public var weight: Tensor?
        public init(weight: Tensor? = nil) { self.weight = weight }
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

    /// dOut [N, C] → dX [N, C]; adds dW += Σ_rows dOut ⊙ x·s when `grads.weight` is non-nil.
    ///
    /// With s = rstd and x̂ = x·s: dX = s·(w ⊙ dOut − x̂·mean(w ⊙ dOut ⊙ x̂)) = s·w ⊙ dOut − x·s³·Σ(w ⊙ dOut ⊙ x)/C.
    /// Rows run in parallel; the weight gradient is summed per row chunk and the chunks are added in order.
    public func backward(_ dOut: Tensor, saved: Saved, into grads: inout Gradients) -> Tensor {
        let x = saved.input
        let (n, c) = x.matrixShape
        precondition(dOut.shape == x.shape && saved.rstd.count == n && c == weight.count,
                     "RMSNorm of width \(weight.count) backward got dOut \(dOut.shape) for input \(x.shape)")
        if let g = grads.weight { precondition(g.shape == weight.shape, "RMSNorm weight gradient \(g.shape) for \(weight.shape)") }
        let chunks = RowChunks(rows: n, cols: c)
        let wantWeight = grads.weight != nil
        var partials = [Float](repeating: 0, count: wantWeight ? chunks.count * c : 0)
        var dX = Tensor(zeros: x.shape)
        dX.withUnsafeMutableBufferPointer { dxp in
            x.withUnsafeBufferPointer { xp in
                dOut.withUnsafeBufferPointer { gp in
                    weight.withUnsafeBufferPointer { wp in
                        saved.rstd.withUnsafeBufferPointer { rp in
                            partials.withUnsafeMutableBufferPointer { pp in
                                let dxb = dxp.baseAddress!, xb = xp.baseAddress!, gb = gp.baseAddress!, w = wp.baseAddress!
                                let rstd = rp.baseAddress!
                                // (An empty array may still hand out a pointer: never write through it.)
                                let pb = wantWeight ? pp.baseAddress : nil
                                ThreadPool.shared.run(chunks: chunks.count) { chunk in
                                    let partial = pb.map { $0 + chunk * c }
                                    for row in chunks.range(chunk) {
                                        let xr = xb + row * c, gr = gb + row * c, dxr = dxb + row * c
                                        let s = rstd[row]
                                        var acc = Vec16(); var j = 0
                                        while j + 16 <= c { acc += load16(w + j) * load16(gr + j) * load16(xr + j); j += 16 }
                                        var dot = acc.sum()
                                        while j < c { dot += w[j] * gr[j] * xr[j]; j += 1 }
                                        let k = s * s * s * dot / Float(c)
                                        j = 0
                                        while j + 16 <= c {
                                            store16(s * load16(w + j) * load16(gr + j) - k * load16(xr + j), dxr + j); j += 16
                                        }
                                        while j < c { dxr[j] = s * w[j] * gr[j] - k * xr[j]; j += 1 }
                                        guard let partial else { continue }
                                        j = 0
                                        while j + 16 <= c {
                                            store16(load16(partial + j) + load16(gr + j) * (load16(xr + j) * s), partial + j); j += 16
                                        }
                                        while j < c { partial[j] += gr[j] * (xr[j] * s); j += 1 }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        if wantWeight && chunks.count > 0 {
            partials.withUnsafeBufferPointer { pp in
                grads.weight!.withUnsafeMutableBufferPointer { gw in
                    addPartials(pp.baseAddress!, chunks: chunks.count, cols: c, into: gw.baseAddress!)
                }
            }
        }
        return dX
    }
}
