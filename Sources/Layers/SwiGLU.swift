import Tensors

/// The Llama MLP: `down( silu(gate(x)) ⊙ up(x) )`; gate and up [F, C], down [C, F]. LoRA adapters, when the
/// Linears carry them, flow through `Linear`.
public struct SwiGLU: Sendable {
    public var gate: Linear
    public var up: Linear
    public var down: Linear

    public init(gate: Linear, up: Linear, down: Linear) {
        precondition(gate.weightShape == up.weightShape && down.inFeatures == gate.outFeatures,
                     "SwiGLU shapes gate \(gate.weightShape), up \(up.weightShape), down \(down.weightShape)")
        self.gate = gate
        self.up = up
        self.down = down
    }

    /// What backward needs: each Linear's Saved and the gate and up outputs g, u [N, F]. Down's input, the hidden
    /// silu(g) ⊙ u [N, F], is not kept: backward recomputes it from g and u with the forward's kernels (same bits),
    /// which saves F floats per token per layer (a third of a Llama block's activations) for one element-wise pass.
    public struct Saved: Sendable {
        public let gate: Linear.Saved, up: Linear.Saved, down: Linear.Saved
        public let gateOut: Tensor, upOut: Tensor

        /// Without the input x (gate's and up's), for a caller that recomputes it before backward.
        public func droppingInput() -> Saved {
            Saved(gate: gate.droppingInput(), up: up.droppingInput(), down: down, gateOut: gateOut, upOut: upOut)
        }

        /// With the input x restored (after `droppingInput`).
        public func with(input x: Tensor) -> Saved {
            Saved(gate: gate.with(input: x), up: up.with(input: x), down: down, gateOut: gateOut, upOut: upOut)
        }
    }

    /// Gradient buffers of the three Linears (nil buffers inside are frozen).
    public struct Gradients: Sendable {
        public var gate: Linear.Gradients, up: Linear.Gradients, down: Linear.Gradients
        public init(gate: Linear.Gradients = .init(), up: Linear.Gradients = .init(), down: Linear.Gradients = .init()) {
            self.gate = gate
            self.up = up
            self.down = down
        }
    }

    /// x [N, C] → [N, C], without dropout.
    public func forward(_ x: Tensor) -> (Tensor, Saved) {
        let (g, gs) = gate.forward(x)
        let (u, us) = up.forward(x)
        let (y, ds) = down.forward(g.silu() * u)
        return (y, Saved(gate: gs, up: us, down: ds.droppingInput(), gateOut: g, upOut: u))
    }

    /// The training forward: LoRA dropout masks are drawn from `rng` in the order gate, up, down.
    public func forward(_ x: Tensor, dropoutRNG rng: inout RandomGenerator) -> (Tensor, Saved) {
        let (g, gs) = gate.forward(x, dropoutRNG: &rng)
        let (u, us) = up.forward(x, dropoutRNG: &rng)
        let (y, ds) = down.forward(g.silu() * u, dropoutRNG: &rng)
        return (y, Saved(gate: gs, up: us, down: ds.droppingInput(), gateOut: g, upOut: u))
    }

    /// dOut [N, C] → dX [N, C] (nil when `needsInputGradient` is false). Linears run in reverse order (down, up,
    /// gate); with dH the hidden's gradient, dG = dH ⊙ u ⊙ silu'(g) and dU = dH ⊙ silu(g).
    public func backward(_ dOut: Tensor, saved: Saved, into grads: inout Gradients,
                         needsInputGradient: Bool = true) -> Tensor? {
        let dH = down.backward(dOut, saved: saved.down.with(input: saved.gateOut.silu() * saved.upOut), into: &grads.down)!
        let (dG, dU) = Self.gatedBackward(dH, gate: saved.gateOut, up: saved.upOut)
        let dXUp = up.backward(dU, saved: saved.up, into: &grads.up, needsInputGradient: needsInputGradient)
        let dXGate = gate.backward(dG, saved: saved.gate, into: &grads.gate, needsInputGradient: needsInputGradient)
        guard var dX = dXUp, let dXGate else { return nil }
        dX.addScaled(dXGate)
        return dX
    }

    /// One fused pass over [N, F]: dG = dH ⊙ u ⊙ silu'(g), dU = dH ⊙ silu(g) (silu through `vsilu`, as forward).
    static func gatedBackward(_ dH: Tensor, gate g: Tensor, up u: Tensor) -> (Tensor, Tensor) {
        precondition(dH.shape == g.shape && u.shape == g.shape, "SwiGLU backward shapes \(dH.shape), \(g.shape), \(u.shape)")
        var dG = Tensor(uninitialized: g.shape), dU = Tensor(uninitialized: g.shape)   // every element written below
        let count = g.count
        dG.withUnsafeMutableBufferPointer { dgp in
            dU.withUnsafeMutableBufferPointer { dup in
                dH.withUnsafeBufferPointer { dhp in
                    g.withUnsafeBufferPointer { gp in
                        u.withUnsafeBufferPointer { up in
                            let dgb = dgp.baseAddress!, dub = dup.baseAddress!, dhb = dhp.baseAddress!
                            let gb = gp.baseAddress!, ub = up.baseAddress!
                            @inline(__always) func step(_ dh: Vec16, _ gv: Vec16, _ uv: Vec16) -> (Vec16, Vec16) {
                                (dh * uv * vsiluDerivative(gv), dh * vsilu(gv))
                            }
                            ThreadPool.shared.parallelFor(count, grain: Kernels.parallelGrain) { range in
                                var j = range.lowerBound
                                let end = range.upperBound
                                while j + 16 <= end {
                                    let (a, b) = step(load16(dhb + j), load16(gb + j), load16(ub + j))
                                    store16(a, dgb + j); store16(b, dub + j); j += 16
                                }
                                if j < end {
                                    let r = end - j
                                    let (a, b) = step(loadPartial16(dhb + j, r), loadPartial16(gb + j, r), loadPartial16(ub + j, r))
                                    storePartial16(a, dgb + j, r); storePartial16(b, dub + j, r)
                                }
                            }
                        }
                    }
                }
            }
        }
        return (dG, dU)
    }
}
