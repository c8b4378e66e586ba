import Layers
import Tensors
import TestSupport
import Testing

/// Tolerances of the backward fixtures (tests/Reference/gen_layers_dense.py, PyTorch float32):
/// forward outputs |Δ| ≤ 1e-6 + 1e-5·|ref|; gradients |Δ| ≤ 1e-5 + 1e-4·|ref| (sums over rows in another order,
/// and for the MLPs two more layers of float32 rounding).
enum Tolerance {
    static let forward = (rtol: 1e-5, atol: 1e-6)
    static let backward = (rtol: 1e-4, atol: 1e-5)
}

/// The backward fixture, decoded once per test process (every test builds its suite anew).
let denseBackwardFixture = Result { try loadFixture("layers/dense_backward.json") }

extension JSON {
    /// The float array under `key` as a tensor of `shape`.
    func tensor(_ key: String, _ shape: [Int]) -> Tensor { Tensor(shape: shape, data: self[key].floats) }
}

func expectForward(_ t: Tensor, _ expected: JSON, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
    expectClose(t.scalars, expected.doubles, rtol: Tolerance.forward.rtol, atol: Tolerance.forward.atol, what,
                sourceLocation: sourceLocation)
}

func expectGradient(_ t: Tensor?, _ expected: JSON, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
    guard let t else { Issue.record("\(what): no gradient", sourceLocation: sourceLocation); return }
    expectClose(t.scalars, expected.doubles, rtol: Tolerance.backward.rtol, atol: Tolerance.backward.atol, what,
                sourceLocation: sourceLocation)
}

/// `base + Δ` in Double, for checking that a backward added Δ onto a prefilled buffer.
func plus(_ base: [Float], _ delta: JSON) -> [Double] { zip(base, delta.doubles).map { Double($0) + $1 } }

/// A directional gradient check for every named value: the loss is evaluated with one value moved along a
/// random direction while the others stay at `point`. Seeds differ per name.
func expectDirectionalGradients(_ point: [String: [Float]], _ gradients: [String: [Float]], seed: UInt64,
                                epsilon: Double = 1e-2, rtol: Double = 2e-3, atol: Double = 1e-4, _ what: String,
                                sourceLocation: SourceLocation = #_sourceLocation,
                                loss: ([String: [Float]]) -> Double) {
    #expect(Set(point.keys) == Set(gradients.keys), "\(what): values \(point.keys.sorted()), gradients \(gradients.keys.sorted())",
            sourceLocation: sourceLocation)
    for (k, name) in point.keys.sorted().enumerated() {
        guard let p = point[name], let g = gradients[name] else { continue }
        expectDirectionalGradient(at: p, gradient: g, seed: seed + UInt64(k), epsilon: epsilon, rtol: rtol, atol: atol,
                                  "\(what) d/d\(name)", sourceLocation: sourceLocation) { moved in
            var q = point
            q[name] = moved
            return loss(q)
        }
    }
}

/// Deterministic test tensor with values in [-scale, scale).
func randomTensor(_ shape: [Int], seed: UInt64, scale: Double = 1) -> Tensor {
    Tensor(shape: shape, data: randomArray(shape.reduce(1, *), seed: seed, scale: scale))
}
