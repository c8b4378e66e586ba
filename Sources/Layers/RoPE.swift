#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Tensors

/// How rotary frequencies are rescaled for long contexts (transformers `modeling_rope_utils.py`).
public enum RoPEScaling: Sendable, Equatable {
    case none
    /// `inv_freq /= factor`.
    case linear(factor: Double)
    /// Llama 3.x: low frequencies divided by `factor`, high ones kept, a smooth blend in between.
    case llama3(factor: Double, lowFreqFactor: Double, highFreqFactor: Double, originalMaxPositions: Int)
}

/// Rotary position embedding in Hugging Face's rotate-half layout: element j of a head is paired with j + D/2,
/// `y_j = x_j cos θ_j − x_{j+D/2} sin θ_j`, `y_{j+D/2} = x_{j+D/2} cos θ_j + x_j sin θ_j`, θ_j = p · inv_freq_j.
///
/// `inv_freq` is computed as transformers computes it, in Float32: `1 / theta^(2j/D)` (the exponent a Float32
/// quotient), then the scaling rule, all in Float32; angles are `Float(p) · inv_freq_j` and cos/sin are Float32.
public struct RoPE: Sendable {
    public let headDim: Int
    public let invFreq: [Float]

    public init(headDim: Int, theta: Double, scaling: RoPEScaling = .none) {
        precondition(headDim > 0 && headDim % 2 == 0, "RoPE head width must be even, got \(headDim)")
        self.headDim = headDim
        let base = Float(theta)
        var inv = (0..<(headDim / 2)).map { j -> Float in 1 / powf(base, Float(2 * j) / Float(headDim)) }
        switch scaling {
        case .none: break
        case .linear(let factor):
            inv = inv.map { $0 / Float(factor) }
        case .llama3(let factorD, let lowD, let highD, let orig):
            let factor = Float(factorD), low = Float(lowD), high = Float(highD), old = Float(orig)
            let lowWavelen = old / low, highWavelen = old / high
            inv = inv.map { f in
                let wavelen = 2 * Float.pi / f
                let scaled = wavelen > lowWavelen ? f / factor : f
                let isMedium = !(wavelen < highWavelen) && !(wavelen > lowWavelen)
                if !isMedium { return scaled }
                let smooth = (old / wavelen - low) / (high - low)
                return (1 - smooth) * scaled / factor + smooth * scaled
            }
        }
        invFreq = inv
    }

    /// What backward needs: the position of each row (the rotation is linear; its backward rotates by −θ).
    public struct Saved: Sendable { public let positions: [Int] }

    /// x [N, heads, D] with `positions[n]` the position of row n → rotated [N, heads, D].
    public func forward(_ x: Tensor, positions: [Int]) -> (Tensor, Saved) {
        precondition(x.rank == 3 && x.shape[2] == headDim && x.shape[0] == positions.count,
                     "RoPE expects [N, heads, \(headDim)] with N = \(positions.count) positions, got \(x.shape)")
        let n = x.shape[0], heads = x.shape[1], d = headDim, half = d / 2
        var y = Tensor(zeros: x.shape)
        y.withUnsafeMutableBufferPointer { yp in
            x.withUnsafeBufferPointer { xp in
                invFreq.withUnsafeBufferPointer { fp in
                    let yb = yp.baseAddress!, xb = xp.baseAddress!, f = fp.baseAddress!
                    positions.withUnsafeBufferPointer { pp in
                        ThreadPool.shared.parallelFor(n, grain: rowGrain(heads * d)) { rows in
                            var cosv = [Float](repeating: 0, count: half), sinv = cosv
                            for row in rows {
                                let p = Float(pp[row])
                                for j in 0..<half { let a = p * f[j]; cosv[j] = cosf(a); sinv[j] = sinf(a) }
                                for h in 0..<heads {
                                    let xr = xb + (row * heads + h) * d, yr = yb + (row * heads + h) * d
                                    for j in 0..<half {
                                        let x1 = xr[j], x2 = xr[j + half]
                                        yr[j] = x1 * cosv[j] - x2 * sinv[j]
                                        yr[j + half] = x2 * cosv[j] + x1 * sinv[j]
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return (y, Saved(positions: positions))
    }
}
