import Tensors

/// AdamW hyperparameters (PyTorch's names and defaults, except weight decay, whose default is Whittle's).
/// Hyperparameters are Double, as in PyTorch, so schedules and bias corrections do not drift.
public struct AdamWConfig: Codable, Sendable, Equatable {
    public var beta1: Double = 0.9
    public var beta2: Double = 0.999
    public var epsilon: Double = 1e-8
    /// Decoupled weight decay, applied only to parameters for which `decays` says so (matrices by default).
    public var weightDecay: Double = 0.0

    public init(beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Double = 1e-8, weightDecay: Double = 0) {
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
    }
}

/// AdamW (Loshchilov & Hutter) in PyTorch's exact order of operations (`torch.optim.AdamW`, single-tensor path):
///
///     θ ← θ·(1 − lr·λ)                       decoupled decay (only where it applies)
///     m ← m + (1 − β₁)·(g − m)               (lerp)
///     v ← v·β₂ + (1 − β₂)·g²
///     θ ← θ − (lr / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε)
///
/// Bias corrections are computed in Double from the step count; element updates in Float32.
/// State (step and both moments per parameter name) is a plain value, saved and restored by the run state.
public struct AdamW: ElementwiseOptimizer, Sendable {
    public var config: AdamWConfig
    public var state: State

    /// The optimizer's resumable state.
    public struct State: Sendable {
        /// Completed steps (t in the bias corrections).
        public var step: Int = 0
        /// First and second moments per parameter name, created (zeroed) at a parameter's first update.
        public var moments: [String: (m: Tensor, v: Tensor)] = [:]
        public init() {}
    }

    public init(config: AdamWConfig = AdamWConfig()) {
        self.config = config
        state = State()
    }

    /// Whittle's default decay rule: matrices decay; vectors (norm weights, biases) do not — as Hugging Face's
    /// Trainer excludes biases and LayerNorm weights.
    public static func decays(parameterShape shape: [Int]) -> Bool { shape.count >= 2 }

    /// Starts a step: every `update` until the next `beginStep` uses step t = previous + 1.
    public mutating func beginStep() { state.step += 1 }

    /// One parameter's update from its gradient, at learning rate `lr` (the schedule's value this step), on its
    /// elements (`ElementwiseOptimizer` provides the Tensor forms).
    public mutating func update(name: String, elements p: UnsafeMutableBufferPointer<Float>, shape: [Int], gradient: Tensor,
                                learningRate lr: Double, applyWeightDecay: Bool) {
        precondition(state.step >= 1, "call beginStep() before update()")
        precondition(shape == gradient.shape, "gradient of \(name) has shape \(gradient.shape), parameter \(shape)")
        var moments = state.moments.removeValue(forKey: name) ?? (Tensor(zeros: shape), Tensor(zeros: shape))
        precondition(moments.m.shape == shape, "optimizer state of \(name) has shape \(moments.m.shape)")
        let t = Double(state.step)
        let bc1 = 1 - pow(config.beta1, t)
        let bc2 = 1 - pow(config.beta2, t)
        let decay = applyWeightDecay && config.weightDecay != 0 ? Float(1 - lr * config.weightDecay) : 1
        let b1 = Float(1 - config.beta1), beta2 = Float(config.beta2), b2 = Float(1 - config.beta2)
        let stepSize = Float(-(lr / bc1)), bc2Sqrt = Float(bc2.squareRoot()), eps = Float(config.epsilon)
        let n = p.count
        gradient.withUnsafeBufferPointer { g in
            do {
                moments.m.withUnsafeMutableBufferPointer { m in
                    moments.v.withUnsafeMutableBufferPointer { v in
                        let P = p.baseAddress!, G = g.baseAddress!, M = m.baseAddress!, V = v.baseAddress!
                        ThreadPool.shared.parallelFor(n, grain: Kernels.parallelGrain) { range in
                            // 16 lanes at a time, each lane the scalar formula below (same operations in the same
                            // order, IEEE per lane: the same bits as the scalar loop).
                            var i = range.lowerBound
                            let vb1 = Vec16(repeating: b1), vbeta2 = Vec16(repeating: beta2), vb2 = Vec16(repeating: b2)
                            let vstep = Vec16(repeating: stepSize), vbc2 = Vec16(repeating: bc2Sqrt)
                            let veps = Vec16(repeating: eps), vdecay = Vec16(repeating: decay)
                            while i + 16 <= range.upperBound {
                                let gi = load16(G + i), m0 = load16(M + i)
                                var pi = load16(P + i)
                                if decay != 1 { pi = pi * vdecay }
                                let mi = m0 + vb1 * (gi - m0)
                                let vi = load16(V + i) * vbeta2 + vb2 * (gi * gi)
                                store16(mi, M + i)
                                store16(vi, V + i)
                                store16(pi + vstep * (mi / (vi.squareRoot() / vbc2 + veps)), P + i)
                                i += 16
                            }
                            while i < range.upperBound {
                                let gi = G[i]
                                var pi = P[i]
                                if decay != 1 { pi = pi * decay }
                                let mi = M[i] + b1 * (gi - M[i])
                                let vi = V[i] * beta2 + b2 * (gi * gi)
                                M[i] = mi
                                V[i] = vi
                                P[i] = pi + stepSize * (mi / (vi.squareRoot() / bc2Sqrt + eps))
                                i += 1
                            }
                        }
                    }
                }
            }
        }
        state.moments[name] = moments
    }
}

/// An optimizer whose update of one parameter reads only that parameter's elements, gradient and state.
public protocol ElementwiseOptimizer {
    mutating func update(name: String, elements: UnsafeMutableBufferPointer<Float>, shape: [Int], gradient: Tensor,
                         learningRate: Double, applyWeightDecay: Bool)
}

extension ElementwiseOptimizer {
    /// Updates one parameter in place (copy on write first if its storage is shared).
    public mutating func update(name: String, parameter: inout Tensor, gradient: Tensor, learningRate lr: Double,
                                applyWeightDecay: Bool) {
        let shape = parameter.shape
        parameter.withUnsafeMutableBufferPointer { p in
            update(name: name, elements: p, shape: shape, gradient: gradient, learningRate: lr,
                   applyWeightDecay: applyWeightDecay)
        }
    }

    /// The same update, written through `parameter`'s storage even while other tensors share it (see
    /// `Tensor.withUnsafeSharedMutableBufferPointer`): for the optimizer in backward.
    public mutating func updateShared(name: String, parameter: Tensor, gradient: Tensor, learningRate lr: Double,
                                      applyWeightDecay: Bool) {
        parameter.withUnsafeSharedMutableBufferPointer { p in
            update(name: name, elements: p, shape: parameter.shape, gradient: gradient, learningRate: lr,
                   applyWeightDecay: applyWeightDecay)
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
