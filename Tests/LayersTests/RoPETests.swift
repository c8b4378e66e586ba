import Foundation
import Layers
import Tensors
import TestSupport
import Testing

@Suite struct RoPETests {
    /// inv_freq equals transformers' LlamaRotaryEmbedding.inv_freq (Float32) for default, linear and llama3 RoPE.
    /// Criterion: per element |Δ| ≤ 2.5e-7·|ref| (about 2 ulp, room for a different libm `powf`).
    @Test func invFreqMatchesTransformers() throws {
        let cases = try loadFixture("models/rope_inv_freq.json").array
        #expect(cases.count == 4)
        for c in cases {
            var scaling = RoPEScaling.none
            let s = c["rope_scaling"]
            switch s["rope_type"].string {
            case "linear": scaling = .linear(factor: s["factor"].double)
            case "llama3":
                scaling = .llama3(factor: s["factor"].double, lowFreqFactor: s["low_freq_factor"].double,
                                  highFreqFactor: s["high_freq_factor"].double,
                                  originalMaxPositions: s["original_max_position_embeddings"].int)
            default: break
            }
            let rope = RoPE(headDim: c["head_dim"].int, theta: c["rope_theta"].double, scaling: scaling)
            expectClose(rope.invFreq, c["inv_freq"].doubles, rtol: 2.5e-7, atol: 0, c["name"].string)
        }
    }

    /// Position 0 is the identity; a rotation keeps each (j, j + D/2) pair's length.
    @Test func rotateHalfPairs() {
        let rope = RoPE(headDim: 6, theta: 10000)
        let x = Tensor(shape: [2, 1, 6], data: randomArray(12, seed: 4))
        let (y, _) = rope.forward(x, positions: [0, 5])
        #expect(Array(y.scalars[0..<6]) == Array(x.scalars[0..<6]))
        for j in 0..<3 {
            let a = x[1, 0, j] * x[1, 0, j] + x[1, 0, j + 3] * x[1, 0, j + 3]
            let b = y[1, 0, j] * y[1, 0, j] + y[1, 0, j + 3] * y[1, 0, j + 3]
            #expect(abs(a - b) <= 1e-6 * max(a, 1))
        }
    }
}
