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

    /// Weight and bias gradients [C]; nil means frozen.
    public struct Gradients: Sendable {
        public var weight: Tensor?
        public var bias: Tensor?
        public init(weight: Tensor? = nil, bias: Tensor? = nil) {
            self.weight = weight
            self.bias = bias
        }
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

    /// dOut [N, C] → dX [N, C]; adds dW += Σ_rows dOut ⊙ x̂ and db += Σ_rows dOut into the non-nil buffers.
    ///
    /// With x̂ = (x − mean)·rstd and g = w ⊙ dOut: dX = rstd·(g − mean(g) − x̂·mean(g ⊙ x̂)).
    /// Rows run in parallel; weight and bias gradients are summed per row chunk and the chunks added in order.
    public func backward(_ dOut: Tensor, saved: Saved, into grads: inout Gradients) -> Tensor {
        let x = saved.input
        let (n, c) = x.matrixShape
        precondition(dOut.shape == x.shape && saved.rstd.count == n && saved.mean.count == n && c == weight.count,
                     "LayerNorm of width \(weight.count) backward got dOut \(dOut.shape) for input \(x.shape)")
        if let g = grads.weight { precondition(g.shape == weight.shape, "LayerNorm weight gradient \(g.shape) for \(weight.shape)") }
        if let g = grads.bias { precondition(g.shape == bias.shape, "LayerNorm bias gradient \(g.shape) for \(bias.shape)") }
        let chunks = RowChunks(rows: n, cols: c)
        let wantWeight = grads.weight != nil, wantBias = grads.bias != nil
        // Per chunk: c weight partials, then c bias partials.
        var partials = [Float](repeating: 0, count: wantWeight || wantBias ? chunks.count * 2 * c : 0)
        var dX = Tensor(zeros: x.shape)
        dX.withUnsafeMutableBufferPointer { dxp in
            x.withUnsafeBufferPointer { xp in
                dOut.withUnsafeBufferPointer { gp in
                    weight.withUnsafeBufferPointer { wp in
                        saved.mean.withUnsafeBufferPointer { mp in
                            saved.rstd.withUnsafeBufferPointer { rp in
                                partials.withUnsafeMutableBufferPointer { pp in
                                    let dxb = dxp.baseAddress!, xb = xp.baseAddress!, gb = gp.baseAddress!, w = wp.baseAddress!
                                    let means = mp.baseAddress!, rstds = rp.baseAddress!
                                    // (An empty array may still hand out a pointer: never write through it.)
                                    let pb = wantWeight || wantBias ? pp.baseAddress : nil
                                    ThreadPool.shared.run(chunks: chunks.count) { chunk in
                                        let partial = pb.map { $0 + chunk * 2 * c }
                                        for row in chunks.range(chunk) {
                                            let xr = xb + row * c, gr = gb + row * c, dxr = dxb + row * c
                                            let mean = means[row], rstd = rstds[row]
                                            // Σ g and Σ g·x̂.
                                            var accG = Vec16(), accGX = Vec16(); var j = 0
                                            while j + 16 <= c {
                                                let g = load16(w + j) * load16(gr + j)
                                                accG += g; accGX += g * ((load16(xr + j) - mean) * rstd); j += 16
                                            }
                                            var sumG = accG.sum(), sumGX = accGX.sum()
                                            while j < c { let g = w[j] * gr[j]; sumG += g; sumGX += g * ((xr[j] - mean) * rstd); j += 1 }
                                            let meanG = sumG / Float(c), meanGX = sumGX / Float(c)
                                            j = 0
                                            while j + 16 <= c {
                                                let xhat = (load16(xr + j) - mean) * rstd
                                                store16(rstd * (load16(w + j) * load16(gr + j) - meanG - xhat * meanGX), dxr + j); j += 16
                                            }
                                            while j < c {
                                                let xhat = (xr[j] - mean) * rstd
                                                dxr[j] = rstd * (w[j] * gr[j] - meanG - xhat * meanGX); j += 1
                                            }
                                            guard let partial else { continue }
                                            let pw = partial, pbias = partial + c
                                            j = 0
                                            while j + 16 <= c {
                                                let g = load16(gr + j)
                                                store16(load16(pw + j) + g * ((load16(xr + j) - mean) * rstd), pw + j)
                                                store16(load16(pbias + j) + g, pbias + j); j += 16
                                            }
                                            while j < c { pw[j] += gr[j] * ((xr[j] - mean) * rstd); pbias[j] += gr[j]; j += 1 }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        guard chunks.count > 0 else { return dX }
        partials.withUnsafeBufferPointer { pp in
            // Chunk k's weight partials start at 2·k·c, its bias partials at (2k + 1)·c: a stride of 2c rows.
            let p = pp.baseAddress
            if wantWeight {
                grads.weight!.withUnsafeMutableBufferPointer { gw in
                    addPartials(p!, chunks: chunks.count, cols: c, stride: 2 * c, into: gw.baseAddress!)
                }
            }
            if wantBias {
                grads.bias!.withUnsafeMutableBufferPointer { gb in
                    addPartials(p! + c, chunks: chunks.count, cols: c, stride: 2 * c, into: gb.baseAddress!)
                }
            }
        }
        return dX
    }
}
