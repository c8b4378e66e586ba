import Tensors

/// The Llama MLP: `down( silu(gate(x)) ⊙ up(x) )`; gate and up [F, C], down [C, F].
public struct SwiGLU: Sendable {
    public var gate: Linear
    public var up: Linear
    public var down: Linear

    public init(gate: Linear, up: Linear, down: Linear) {
        precondition(gate.weight.shape == up.weight.shape && down.inFeatures == gate.outFeatures,
                     "SwiGLU shapes gate \(gate.weight.shape), up \(up.weight.shape), down \(down.weight.shape)")
        self.gate = gate
        self.up = up
        self.down = down
    }

    /// What backward needs: the input, the gate and up pre-activations and their product.
    public struct Saved: Sendable {
        public let gate: Linear.Saved
        public let gateOut: Tensor, upOut: Tensor, hidden: Tensor
    }

    /// x [N, C] → [N, C].
    public func forward(_ x: Tensor) -> (Tensor, Saved) {
        let (g, gs) = gate.forward(x)
        let (u, _) = up.forward(x)
        let hidden = g.silu() * u
        let (y, _) = down.forward(hidden)
        return (y, Saved(gate: gs, gateOut: g, upOut: u, hidden: hidden))
    }
}
