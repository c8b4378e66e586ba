import Tensors

/// The GPT-2 MLP: `proj( gelu_tanh(fc(x)) )` (transformers "gelu_new"); fc [F, C], proj [C, F].
public struct GELUMLP: Sendable {
    public var fc: Linear
    public var proj: Linear

    public init(fc: Linear, proj: Linear) {
        precondition(proj.inFeatures == fc.outFeatures && proj.outFeatures == fc.inFeatures,
                     "GELU MLP shapes fc \(fc.weight.shape), proj \(proj.weight.shape)")
        self.fc = fc
        self.proj = proj
    }

    /// What backward needs: the input, the pre-activation and the activation.
    public struct Saved: Sendable { public let input: Tensor; public let preActivation: Tensor; public let activation: Tensor }

    /// x [N, C] → [N, C].
    public func forward(_ x: Tensor) -> (Tensor, Saved) {
        let (h, _) = fc.forward(x)
        let a = h.geluTanh()
        let (y, _) = proj.forward(a)
        return (y, Saved(input: x, preActivation: h, activation: a))
    }
}
