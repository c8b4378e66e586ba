import Tensors

/// SGD hyperparameters (PyTorch's `torch.optim.SGD`).
public struct SGDConfig: Codable, Sendable, Equatable {
    public var momentum: Double = 0
    public var dampening: Double = 0
    public var nesterov: Bool = false
    /// L2 penalty added to the gradient (PyTorch's coupled form), where `applyWeightDecay` says so.
    public var weightDecay: Double = 0

    public init(momentum: Double = 0, dampening: Double = 0, nesterov: Bool = false, weightDecay: Double = 0) {
        self.momentum = momentum
        self.dampening = dampening
        self.nesterov = nesterov
        self.weightDecay = weightDecay
    }
}

/// Stochastic gradient descent with momentum, as `torch.optim.SGD`:
///
///     g ← g + λ·θ;  b ← g (first step) or μ·b + (1 − dampening)·g;  g ← g + μ·b (Nesterov) or b;  θ ← θ − lr·g
public struct SGD: ElementwiseOptimizer, Sendable {
    public var config: SGDConfig
    /// Momentum buffers per parameter name.
    public var buffers: [String: Tensor] = [:]

    public init(config: SGDConfig = SGDConfig()) { self.config = config }

    /// One parameter's update on its elements (`ElementwiseOptimizer` provides the Tensor forms).
    public mutating func update(name: String, elements p: UnsafeMutableBufferPointer<Float>, shape: [Int], gradient: Tensor,
                                learningRate lr: Double, applyWeightDecay: Bool) {
        precondition(shape == gradient.shape, "gradient of \(name) has shape \(gradient.shape), parameter \(shape)")
        let wd = applyWeightDecay ? Float(config.weightDecay) : 0
        let mu = Float(config.momentum), damp = Float(1 - config.dampening), rate = Float(-lr)
        let useMomentum = config.momentum != 0, nesterov = config.nesterov
        var buffer = buffers.removeValue(forKey: name)
        let first = buffer == nil
        if useMomentum && first { buffer = Tensor(zeros: shape) }
        var buf = buffer ?? Tensor(zeros: [0])
        let n = p.count
        gradient.withUnsafeBufferPointer { g in
            do {
                buf.withUnsafeMutableBufferPointer { b in
                    let P = p.baseAddress!, G = g.baseAddress!, B = b.baseAddress
                    for i in 0..<n {
                        var d = G[i]
                        if wd != 0 { d = d + wd * P[i] }
                        if useMomentum, let B {
                            B[i] = first ? d : B[i] * mu + damp * d
                            d = nesterov ? d + mu * B[i] : B[i]
                        }
                        P[i] = P[i] + rate * d
                    }
                }
            }
        }
        if useMomentum { buffers[name] = buf }
    }
}
