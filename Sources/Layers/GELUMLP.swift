import Tensors

/// The GPT-2 MLP: `proj( gelu_tanh(fc(x)) )` (transformers "gelu_new"); fc [F, C], proj [C, F]. LoRA adapters,
/// when the Linears carry them, flow through `Linear`.
public struct GELUMLP: Sendable {
    public var fc: Linear
    public var proj: Linear

    public init(fc: Linear, proj: Linear) {
        precondition(proj.inFeatures == fc.outFeatures && proj.outFeatures == fc.inFeatures,
                     "GELU MLP shapes fc \(fc.weightShape), proj \(proj.weightShape)")
        self.fc = fc
        self.proj = proj
    }

    /// What backward needs: each Linear's Saved (proj's input is the activation) and the pre-activation [N, F].
    public struct Saved: Sendable {
        public let fc: Linear.Saved, proj: Linear.Saved
        public let preActivation: Tensor

        /// Without the input x (fc's), for a caller that recomputes it before backward.
        public func droppingInput() -> Saved { Saved(fc: fc.droppingInput(), proj: proj, preActivation: preActivation) }

        /// With the input x restored (after `droppingInput`).
        public func with(input x: Tensor) -> Saved { Saved(fc: fc.with(input: x), proj: proj, preActivation: preActivation) }
    }

    /// Gradient buffers of the two Linears (nil buffers inside are frozen).
    public struct Gradients: Sendable {
        public var fc: Linear.Gradients, proj: Linear.Gradients
        public init(fc: Linear.Gradients = .init(), proj: Linear.Gradients = .init()) {
            self.fc = fc
            self.proj = proj
        }
    }

    /// x [N, C] → [N, C], without dropout.
    public func forward(_ x: Tensor) -> (Tensor, Saved) {
        let (h, fs) = fc.forward(x)
        let (y, ps) = proj.forward(h.geluTanh())
        return (y, Saved(fc: fs, proj: ps, preActivation: h))
    }

    /// The training forward: LoRA dropout masks are drawn from `rng` in the order fc, proj.
    public func forward(_ x: Tensor, dropoutRNG rng: inout RandomGenerator) -> (Tensor, Saved) {
        let (h, fs) = fc.forward(x, dropoutRNG: &rng)
        let (y, ps) = proj.forward(h.geluTanh(), dropoutRNG: &rng)
        return (y, Saved(fc: fs, proj: ps, preActivation: h))
    }

    /// dOut [N, C] → dX [N, C] (nil when `needsInputGradient` is false): proj, then dH = dA ⊙ gelu'(h), then fc.
    public func backward(_ dOut: Tensor, saved: Saved, into grads: inout Gradients,
                         needsInputGradient: Bool = true) -> Tensor? {
        var dH = proj.backward(dOut, saved: saved.proj, into: &grads.proj)!
        let h = saved.preActivation
        precondition(h.shape == dH.shape, "GELU MLP backward: activation gradient \(dH.shape) for \(h.shape)")
        let count = h.count
        h.withUnsafeBufferPointer { hp in
            dH.withUnsafeMutableBufferPointer { dp in    // in place: dH ← dA ⊙ gelu'(h)
                Kernels.geluTanhBackward(hp.baseAddress!, dp.baseAddress!, into: dp.baseAddress!, count: count)
            }
        }
        return fc.backward(dH, saved: saved.fc, into: &grads.fc, needsInputGradient: needsInputGradient)
    }
}
