import Layers
import Tensors
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// RoPE forward and backward against transformers, a directional check, and the cos/sin table's bit-exactness.
@Suite struct RoPEBackwardTests {
    static func rope(_ c: JSON) -> RoPE {
        var scaling = RoPEScaling.none
        let s = c["rope_scaling"]
        if s["rope_type"].string == "llama3" {
            scaling = .llama3(factor: s["factor"].double, lowFreqFactor: s["low_freq_factor"].double,
                              highFreqFactor: s["high_freq_factor"].double,
                              originalMaxPositions: s["original_max_position_embeddings"].int)
        }
        return RoPE(headDim: c["d"].int, theta: c["rope_theta"].double, scaling: scaling)
    }

    /// Fixture `layers/rope` (Tests/Reference/gen_layers_attention.py): [N 5, heads 3, D 10] at positions 3…7,
    /// llama3-scaled at 2, 9, 4, 31, 100, and at 32767, 32768, 40000, 5, 70001 (past the cos/sin table);
    /// transformers' LlamaRotaryEmbedding + apply_rotary_pos_emb in float32, dX by autograd from a random dY.
    /// Criteria per element: forward and backward |Δ| ≤ 1e-6 + 1e-5·|ref| (both are Float32 rotations with the
    /// same angles; the slack is for libm's cosf/sinf against PyTorch's).
    @Test func matchesTransformers() throws {
        let cases = try loadFixture("layers/rope.json")["cases"].array
        #expect(cases.count == 3)
        for c in cases {
            let name = c["name"].string
            let rope = Self.rope(c)
            let shape = [c["n"].int, c["heads"].int, c["d"].int]
            expectClose(rope.invFreq, c["inv_freq"].doubles, rtol: 2.5e-7, atol: 0, "\(name) inv_freq")
            let (y, saved) = rope.forward(Tensor(shape: shape, data: c["x"].floats), positions: c["positions"].array.map(\.int))
            expectClose(y.scalars, c["y"].doubles, rtol: 1e-5, atol: 1e-6, "\(name) forward")
            let dx = rope.backward(Tensor(shape: shape, data: c["dy"].floats), saved: saved)
            #expect(dx.shape == shape)
            expectClose(dx.scalars, c["dx"].doubles, rtol: 1e-5, atol: 1e-6, "\(name) backward")
        }
    }

    /// Σ backward(G) ⊙ dir against the central difference of Σ forward(x) ⊙ G (the rotation is linear, so only
    /// Float32 rounding separates them), at positions inside and past the cos/sin table.
    @Test func directionalGradient() {
        let rope = RoPE(headDim: 18, theta: 10000, scaling: .linear(factor: 2))
        let positions = [0, 7, 3, 40000, 1, 12, 33000]
        let shape = [positions.count, 4, 18]
        let count = shape.reduce(1, *)
        let x = randomArray(count, seed: 61), g = randomArray(count, seed: 62)
        let (_, saved) = rope.forward(Tensor(shape: shape, data: x), positions: positions)
        let dx = rope.backward(Tensor(shape: shape, data: g), saved: saved)
        expectDirectionalGradient(at: x, gradient: dx.scalars, seed: 63, "RoPE dX") { p in
            weightedSum(rope.forward(Tensor(shape: shape, data: p), positions: positions).0, g)
        }
    }

    /// The backward is the inverse rotation: backward(forward(x)) = x up to rounding (|Δ| ≤ 1e-6 + 1e-6·|x|).
    @Test func backwardUndoesForward() {
        let rope = RoPE(headDim: 40, theta: 500000)
        let positions = Array(0..<9).map { $0 * 997 }
        let x = randomArray(9 * 2 * 40, seed: 64)
        let (y, saved) = rope.forward(Tensor(shape: [9, 2, 40], data: x), positions: positions)
        let back = rope.backward(y, saved: saved)
        expectClose(back.scalars, x.map(Double.init), rtol: 1e-6, atol: 1e-6, "backward ∘ forward")
    }

    /// The cached cos/sin table changes no bit: forward equals the per-row formula `Float(p)·inv_freq_j`,
    /// `cosf`, `sinf`, `x1·c − x2·s`, `x2·c + x1·s` exactly, at positions inside and past the table, for a head
    /// width with both 16-lane and scalar parts (D/2 = 19), and the backward equals the same with −sin.
    @Test func tableIsBitIdenticalToPerRowAngles() {
        let d = 38, heads = 3, half = d / 2
        let rope = RoPE(headDim: d, theta: 10000)
        let positions = [5, 0, 255, 256, 1000, 32767, 32768, 123457]
        let x = randomArray(positions.count * heads * d, seed: 65)
        let (y, saved) = rope.forward(Tensor(shape: [positions.count, heads, d], data: x), positions: positions)
        let back = rope.backward(Tensor(shape: [positions.count, heads, d], data: x), saved: saved)
        var expected = [Float](repeating: 0, count: x.count), expectedBack = expected
        for (row, p) in positions.enumerated() {
            for j in 0..<half {
                let a = Float(p) * rope.invFreq[j]
                let c = cosf(a), s = sinf(a)
                for h in 0..<heads {
                    let o = (row * heads + h) * d
                    let x1 = x[o + j], x2 = x[o + j + half]
                    expected[o + j] = x1 * c - x2 * s
                    expected[o + j + half] = x2 * c + x1 * s
                    expectedBack[o + j] = x1 * c - x2 * -s
                    expectedBack[o + j + half] = x2 * c + x1 * -s
                }
            }
        }
        #expect(y.scalars == expected)
        #expect(back.scalars == expectedBack)
    }
}
