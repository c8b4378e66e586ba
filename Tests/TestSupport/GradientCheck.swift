import Testing
import Tensors

/// A directional gradient check (architecture.md §4.4): for a scalar loss `L(p)` and the analytic gradient `g`
/// at `p`, compares `Σ g ⊙ dir` with the central difference `(L(p + ε·dir) − L(p − ε·dir)) / 2ε` along a random
/// direction. `loss` should accumulate in Double (e.g. `Σ out ⊙ G` for a random upstream gradient G).
///
/// Float32 forwards limit the accuracy of the difference; with ε ≈ 1e-2 and O(1) values a relative agreement of
/// ~1e-3 is typical, while a wrong backward is off by O(1).
public func expectDirectionalGradient(at point: [Float], gradient: [Float], seed: UInt64, epsilon: Double = 1e-2,
                                      rtol: Double = 2e-3, atol: Double = 1e-4, _ what: String,
                                      sourceLocation: SourceLocation = #_sourceLocation,
                                      loss: ([Float]) -> Double) {
    #expect(point.count == gradient.count, "\(what): point has \(point.count) values, gradient \(gradient.count)",
            sourceLocation: sourceLocation)
    let direction = randomArray(point.count, seed: seed)
    var analytic = 0.0
    for i in 0..<min(point.count, gradient.count) { analytic += Double(gradient[i]) * Double(direction[i]) }
    func shifted(_ s: Double) -> [Float] { zip(point, direction).map { Float(Double($0) + s * Double($1)) } }
    let numeric = (loss(shifted(epsilon)) - loss(shifted(-epsilon))) / (2 * epsilon)
    let error = abs(analytic - numeric)
    #expect(error <= atol + rtol * max(abs(analytic), abs(numeric)),
            "\(what): directional derivative \(analytic) (backward) vs \(numeric) (central difference), |Δ| = \(error)",
            sourceLocation: sourceLocation)
}

/// `Σ a ⊙ g` in Double: the scalar loss whose upstream gradient is `g`.
public func weightedSum(_ a: Tensor, _ g: [Float]) -> Double {
    precondition(a.count == g.count, "weighted sum of \(a.count) values with \(g.count) weights")
    return a.withUnsafeBufferPointer { p in
        var s = 0.0
        for i in 0..<g.count { s += Double(p[i]) * Double(g[i]) }
        return s
    }
}
