import Tensors

/// A low-rank adapter on a `Linear` with PEFT's semantics: the layer adds `scale · B·A·drop(x)`, i.e.
/// `result + lora_B(lora_A(dropout(x))) * scaling`. `a` is `lora_A.weight` [R, I], `b` is `lora_B.weight` [O, R].
public struct LoRA: Sendable {
    public var a: Tensor
    public var b: Tensor
    /// `alpha / r`, or `alpha / √r` with rsLoRA (computed by the caller in Double).
    public var scale: Float
    /// Dropout probability p in [0, 1) on the adapter's input only; kept values are multiplied by 1/(1 − p).
    public var dropout: Float

    public init(a: Tensor, b: Tensor, scale: Float, dropout: Float = 0) {
        precondition(a.rank == 2 && b.rank == 2 && b.shape[1] == a.shape[0],
                     "LoRA A must be [R, I] and B [O, R], got A \(a.shape), B \(b.shape)")
        precondition(dropout >= 0 && dropout < 1, "LoRA dropout must be in [0, 1), got \(dropout)")
        self.a = a
        self.b = b
        self.scale = scale
        self.dropout = dropout
    }

    /// The rank R.
    public var rank: Int { a.shape[0] }
}

/// A fully connected layer `y = x·Wᵀ + b` with the PyTorch `nn.Linear` layout: `weight` [O, I], `bias` [O],
/// plus an optional LoRA adapter: `y = x·Wᵀ + b + scale·(drop(x)·Aᵀ)·Bᵀ`.
/// (GPT-2's Conv1D `[I, O]` weights are transposed into this layout once, on import.)
///
/// The base weight is Float32, or 16-bit (`HalfMatrix`, bf16/f16) for inference: forward then streams the 16-bit
/// weights (`HalfMatrix.multiply`, Float32 accumulation, the same values as the widened weight); backward refuses
/// it (a precondition — Models throws a `ModelError` before training a 16-bit model). Bias and adapter stay Float32.
public struct Linear: Sendable {
    /// How the base weight [O, I] is held.
    public enum Weight: Sendable {
        case f32(Tensor)
        /// 16 bits, inference only.
        case half(HalfMatrix)
    }

    public var base: Weight
    public var bias: Tensor?
    /// nil: a plain linear layer.
    public var lora: LoRA?

    public init(weight: Tensor, bias: Tensor? = nil, lora: LoRA? = nil) {
        precondition(weight.rank == 2, "Linear weight must be [out, in], got \(weight.shape)")
        self.init(base: .f32(weight), shape: weight.shape, bias: bias, lora: lora)
    }

    /// A layer whose base weight stays 16-bit (inference only).
    public init(halfWeight: HalfMatrix, bias: Tensor? = nil, lora: LoRA? = nil) {
        self.init(base: .half(halfWeight), shape: halfWeight.shape, bias: bias, lora: lora)
    }

    private init(base: Weight, shape: [Int], bias: Tensor?, lora: LoRA?) {
        if let bias { precondition(bias.shape == [shape[0]], "Linear bias \(bias.shape) for weight \(shape)") }
        if let lora {
            precondition(lora.a.shape[1] == shape[1] && lora.b.shape[0] == shape[0],
                         "LoRA A \(lora.a.shape), B \(lora.b.shape) do not fit a Linear weight \(shape)")
        }
        self.base = base
        self.bias = bias
        self.lora = lora
    }

    /// The base weight as Float32 [O, I]: the stored tensor, or an exact widened copy of a 16-bit weight.
    public var weight: Tensor {
        switch base {
        case .f32(let t): t
        case .half(let h): h.widened()
        }
    }

    /// The 16-bit base weight, or nil when it is Float32.
    public var halfWeight: HalfMatrix? {
        if case .half(let h) = base { return h }
        return nil
    }

    /// [O, I], without widening a 16-bit weight.
    public var weightShape: [Int] { [outFeatures, inFeatures] }

    public var inFeatures: Int {
        switch base {
        case .f32(let t): t.shape[1]
        case .half(let h): h.cols
        }
    }

    public var outFeatures: Int {
        switch base {
        case .f32(let t): t.shape[0]
        case .half(let h): h.rows
        }
    }

    /// What backward needs.
    public struct Saved: Sendable {
        /// x [N, I] (any leading shape).
        public let input: Tensor
        /// drop(x) [N, I], the adapter's input; nil when no dropout was applied (then it is `input`).
        public let loraInput: Tensor?
        /// u = drop(x)·Aᵀ [N, R]; nil without an adapter.
        public let loraHidden: Tensor?
        /// The dropout mask as factors [N, I]: 1/(1 − p) where kept, 0 where dropped; nil when no dropout.
        /// (dX needs the mask itself: where x is 0, `loraInput` cannot tell a kept element from a dropped one.)
        public let loraMask: Tensor?

        /// The same with an empty `input`, for a caller that can recompute x before backward (its memory is freed).
        public func droppingInput() -> Saved {
            Saved(input: Tensor(zeros: [0]), loraInput: loraInput, loraHidden: loraHidden, loraMask: loraMask)
        }

        /// The same with `input` x restored (after `droppingInput`).
        public func with(input x: Tensor) -> Saved {
            Saved(input: x, loraInput: loraInput, loraHidden: loraHidden, loraMask: loraMask)
        }
    }

    /// Gradient buffers; nil means frozen (no buffer, and backward skips that product).
    public struct Gradients: Sendable {
        public var weight: Tensor?   // [O, I]
        public var bias: Tensor?     // [O]
        public var loraA: Tensor?    // [R, I]
        public var loraB: Tensor?    // [O, R]

        public init(weight: Tensor? = nil, bias: Tensor? = nil, loraA: Tensor? = nil, loraB: Tensor? = nil) {
            self.weight = weight
            self.bias = bias
            self.loraA = loraA
            self.loraB = loraB
        }
    }

    // MARK: - Forward

    /// x [N, I] → y [N, O] (any leading shape; the last dimension is I), without dropout (evaluation, inference).
    /// The bias is broadcast into the output first and the products accumulate onto it with beta = 1.
    public func forward(_ x: Tensor) -> (Tensor, Saved) {
        forward(x, mask: nil)
    }

    /// The training forward: when the adapter has dropout p > 0, draws one uniform u per element of x from `rng`
    /// (row-major order) and keeps the element when u ≥ p, scaled by 1/(1 − p). Without an adapter or with p = 0
    /// nothing is drawn and this equals `forward(x)`.
    public func forward(_ x: Tensor, dropoutRNG rng: inout RandomGenerator) -> (Tensor, Saved) {
        guard let lora, lora.dropout > 0 else { return forward(x, mask: nil) }
        let p = Double(lora.dropout)
        let keep = Float(1 / (1 - p))
        var mask = Tensor(zeros: x.shape)
        mask.withUnsafeMutableBufferPointer { m in
            for i in m.indices { m[i] = rng.uniform() >= p ? keep : 0 }
        }
        return forward(x, mask: mask)
    }

    private func forward(_ x: Tensor, mask: Tensor?) -> (Tensor, Saved) {
        let (n, i) = x.matrixShape
        precondition(i == inFeatures, "Linear expects last dimension \(inFeatures), got \(x.shape)")
        let o = outFeatures
        // Every element is written: the bias rows below, or the product with beta = 0 (k = 0 needs zeros).
        var y = i > 0 || bias != nil ? Tensor(uninitialized: Array(x.shape.dropLast()) + [o]) : Tensor(zeros: Array(x.shape.dropLast()) + [o])
        var beta: Float = 0
        var loraInput: Tensor?
        var loraHidden: Tensor?
        y.withUnsafeMutableBufferPointer { yp in
            let out = yp.baseAddress!
            if let bias {
                bias.withUnsafeBufferPointer { bp in
                    for r in 0..<n { (out + r * o).update(from: bp.baseAddress!, count: o) }
                }
                beta = 1
            }
            x.withUnsafeBufferPointer { xp in
                switch base {
                case .f32(let weight):
                    weight.withUnsafeBufferPointer { wp in
                        BLAS.gemm(.normal, .transposed, m: n, n: o, k: i, a: xp.baseAddress!, lda: max(i, 1),
                                  b: wp.baseAddress!, ldb: max(i, 1), beta: beta, c: out, ldc: max(o, 1))
                    }
                case .half(let h):
                    h.multiply(xp.baseAddress!, rows: n, into: out, accumulate: beta == 1)
                }
            }
            guard let lora else { return }
            // u = drop(x)·Aᵀ [N, R]; y += scale·u·Bᵀ.
            let r = lora.rank
            let dropped = mask.map { x * $0 }
            let adapterInput = dropped ?? x
            var u = Tensor(zeros: Array(x.shape.dropLast()) + [r])
            u.withUnsafeMutableBufferPointer { up in
                adapterInput.withUnsafeBufferPointer { xp in
                    lora.a.withUnsafeBufferPointer { ap in
                        BLAS.gemm(.normal, .transposed, m: n, n: r, k: i, a: xp.baseAddress!, lda: max(i, 1),
                                  b: ap.baseAddress!, ldb: max(i, 1), c: up.baseAddress!, ldc: max(r, 1))
                    }
                }
                lora.b.withUnsafeBufferPointer { bp in
                    BLAS.gemm(.normal, .transposed, m: n, n: o, k: r, alpha: lora.scale, a: up.baseAddress!, lda: max(r, 1),
                              b: bp.baseAddress!, ldb: max(r, 1), beta: 1, c: out, ldc: max(o, 1))
                }
            }
            loraInput = dropped
            loraHidden = u
        }
        return (y, Saved(input: x, loraInput: loraInput, loraHidden: loraHidden, loraMask: mask))
    }

    // MARK: - Backward

    /// dOut [N, O] → dX [N, I] (the input's shape). Adds into the non-nil buffers of `grads`:
    /// dW += dOutᵀ·X, db += Σ_rows dOut, dB += scale·dOutᵀ·U, dA += dUᵀ·drop(X) with dU = scale·dOut·B;
    /// dX = dOut·W + (dU·A) ⊙ mask/(1 − p). A nil buffer skips its product; `needsInputGradient: false` skips the
    /// dX products and returns nil.
    public func backward(_ dOut: Tensor, saved: Saved, into grads: inout Gradients,
                         needsInputGradient: Bool = true) -> Tensor? {
        let x = saved.input
        let (n, i) = x.matrixShape
        let o = outFeatures
        precondition(i == inFeatures && dOut.matrixShape.cols == o && dOut.matrixShape.rows == n,
                     "Linear [\(o), \(inFeatures)] backward got dOut \(dOut.shape) for input \(x.shape)")
        precondition(lora == nil || saved.loraHidden != nil, "Linear with LoRA needs a Saved from a forward with the adapter")
        guard case .f32(let weight) = base else {
            preconditionFailure("a Linear with a 16-bit weight is for inference only; build it with a Float32 weight to train")
        }
        let (ldi, ldo) = (max(i, 1), max(o, 1))
        var dX: Tensor?
        dOut.withUnsafeBufferPointer { gp in
            let g = gp.baseAddress!
            if grads.weight != nil {
                precondition(grads.weight!.shape == weight.shape, "weight gradient \(grads.weight!.shape) for weight \(weight.shape)")
                x.withUnsafeBufferPointer { xp in
                    grads.weight!.withUnsafeMutableBufferPointer { dw in
                        BLAS.gemm(.transposed, .normal, m: o, n: i, k: n, a: g, lda: ldo, b: xp.baseAddress!, ldb: ldi,
                                  beta: 1, c: dw.baseAddress!, ldc: ldi)
                    }
                }
            }
            if grads.bias != nil {
                precondition(bias != nil && grads.bias!.shape == [o], "bias gradient \(grads.bias!.shape) for bias \(bias?.shape ?? [])")
                // Column sums as a product with a row of ones (one sgemv).
                let ones = [Float](repeating: 1, count: max(n, 1))
                ones.withUnsafeBufferPointer { onesp in
                    grads.bias!.withUnsafeMutableBufferPointer { db in
                        BLAS.gemm(.normal, .normal, m: 1, n: o, k: n, a: onesp.baseAddress!, lda: max(n, 1), b: g, ldb: ldo,
                                  beta: 1, c: db.baseAddress!, ldc: ldo)
                    }
                }
            }
            if needsInputGradient {
                var dx = o > 0 ? Tensor(uninitialized: x.shape) : Tensor(zeros: x.shape)   // beta 0 writes it whole
                dx.withUnsafeMutableBufferPointer { dxp in
                    weight.withUnsafeBufferPointer { wp in
                        BLAS.gemm(.normal, .normal, m: n, n: i, k: o, a: g, lda: ldo, b: wp.baseAddress!, ldb: ldi,
                                  c: dxp.baseAddress!, ldc: ldi)
                    }
                }
                dX = dx
            }
            guard let lora, let u = saved.loraHidden else { return }
            let r = lora.rank, ldr = max(r, 1)
            if grads.loraB != nil {
                precondition(grads.loraB!.shape == lora.b.shape, "LoRA B gradient \(grads.loraB!.shape) for B \(lora.b.shape)")
                u.withUnsafeBufferPointer { up in
                    grads.loraB!.withUnsafeMutableBufferPointer { dB in
                        BLAS.gemm(.transposed, .normal, m: o, n: r, k: n, alpha: lora.scale, a: g, lda: ldo,
                                  b: up.baseAddress!, ldb: ldr, beta: 1, c: dB.baseAddress!, ldc: ldr)
                    }
                }
            }
            guard grads.loraA != nil || needsInputGradient else { return }
            // dU = scale·dOut·B [N, R].
            var dU = Tensor(zeros: [n, r])
            dU.withUnsafeMutableBufferPointer { dup in
                lora.b.withUnsafeBufferPointer { bp in
                    BLAS.gemm(.normal, .normal, m: n, n: r, k: o, alpha: lora.scale, a: g, lda: ldo, b: bp.baseAddress!,
                              ldb: ldr, c: dup.baseAddress!, ldc: ldr)
                }
            }
            dU.withUnsafeBufferPointer { dup in
                let du = dup.baseAddress!
                if grads.loraA != nil {
                    precondition(grads.loraA!.shape == lora.a.shape, "LoRA A gradient \(grads.loraA!.shape) for A \(lora.a.shape)")
                    (saved.loraInput ?? x).withUnsafeBufferPointer { xp in
                        grads.loraA!.withUnsafeMutableBufferPointer { dA in
                            BLAS.gemm(.transposed, .normal, m: r, n: i, k: n, a: du, lda: ldr, b: xp.baseAddress!, ldb: ldi,
                                      beta: 1, c: dA.baseAddress!, ldc: ldi)
                        }
                    }
                }
                guard needsInputGradient else { return }
                lora.a.withUnsafeBufferPointer { ap in
                    if let mask = saved.loraMask {
                        // Through the dropout: dX += (dU·A) ⊙ mask/(1 − p).
                        var t = Tensor(zeros: x.shape)
                        t.withUnsafeMutableBufferPointer { tp in
                            BLAS.gemm(.normal, .normal, m: n, n: i, k: r, a: du, lda: ldr, b: ap.baseAddress!, ldb: ldi,
                                      c: tp.baseAddress!, ldc: ldi)
                        }
                        dX!.addProduct(t, mask)
                    } else {
                        dX!.withUnsafeMutableBufferPointer { dxp in
                            BLAS.gemm(.normal, .normal, m: n, n: i, k: r, a: du, lda: ldr, b: ap.baseAddress!, ldb: ldi,
                                      beta: 1, c: dxp.baseAddress!, ldc: ldi)
                        }
                    }
                }
            }
        }
        return dX
    }
}

extension Tensor {
    /// `self += a ⊙ b` (same shapes), 16 lanes, split over the pool.
    mutating func addProduct(_ a: Tensor, _ b: Tensor) {
        precondition(shape == a.shape && shape == b.shape, "addProduct shapes \(shape), \(a.shape), \(b.shape)")
        let count = self.count
        withUnsafeMutableBufferPointer { yp in
            a.withUnsafeBufferPointer { ap in
                b.withUnsafeBufferPointer { bp in
                    let y = yp.baseAddress!, pa = ap.baseAddress!, pb = bp.baseAddress!
                    ThreadPool.shared.parallelFor(count, grain: Kernels.parallelGrain) { range in
                        var j = range.lowerBound
                        while j + 16 <= range.upperBound { store16(load16(y + j) + load16(pa + j) * load16(pb + j), y + j); j += 16 }
                        while j < range.upperBound { y[j] += pa[j] * pb[j]; j += 1 }
                    }
                }
            }
        }
    }
}
