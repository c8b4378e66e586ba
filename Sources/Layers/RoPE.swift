#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization
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
    /// cos/sin per position, filled on first use (shared by copies; see `RoPEAngles`).
    private let angles = RoPEAngles()

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
        (rotate(x, positions: positions, inverse: false), Saved(positions: positions))
    }

    /// dOut [N, heads, D] → dX [N, heads, D]: the transpose of the forward rotation, which is the rotation by −θ
    /// (`dx_j = dy_j cos θ_j + dy_{j+D/2} sin θ_j`, `dx_{j+D/2} = dy_{j+D/2} cos θ_j − dy_j sin θ_j`).
    public func backward(_ dOut: Tensor, saved: Saved) -> Tensor {
        rotate(dOut, positions: saved.positions, inverse: true)
    }

    // MARK: - Rotation

    /// Rotates every head of row n by θ = positions[n]·inv_freq (by −θ when `inverse`). sin is negated for the
    /// inverse (exact), so forward and backward share the arithmetic.
    private func rotate(_ x: Tensor, positions: [Int], inverse: Bool) -> Tensor {
        precondition(x.rank == 3 && x.shape[2] == headDim && x.shape[0] == positions.count,
                     "RoPE expects [N, heads, \(headDim)] with N = \(positions.count) positions, got \(x.shape)")
        let n = x.shape[0], heads = x.shape[1], d = headDim, half = d / 2
        let table = angles.covering(positions.max() ?? -1, invFreq: invFreq)
        var y = Tensor(zeros: x.shape)
        y.withUnsafeMutableBufferPointer { yp in
            x.withUnsafeBufferPointer { xp in
                invFreq.withUnsafeBufferPointer { fp in
                    table.cos.withUnsafeBufferPointer { tc in
                        table.sin.withUnsafeBufferPointer { ts in
                            positions.withUnsafeBufferPointer { pp in
                                let yb = yp.baseAddress!, xb = xp.baseAddress!, f = fp.baseAddress!
                                let cosTable = tc.baseAddress!, sinTable = ts.baseAddress!
                                ThreadPool.shared.parallelFor(n, grain: rowGrain(heads * d)) { rows in
                                    // cos, sin of positions outside the table; −sin for the inverse.
                                    let scratch = UnsafeMutablePointer<Float>.allocate(capacity: 3 * half)
                                    defer { scratch.deallocate() }
                                    for row in rows {
                                        let p = pp[row]
                                        var c: UnsafePointer<Float>, s: UnsafePointer<Float>
                                        if p >= 0 && p < table.positions {
                                            c = cosTable + p * half; s = sinTable + p * half
                                        } else {
                                            RoPEAngles.fill(position: p, invFreq: f, half: half, cos: scratch, sin: scratch + half)
                                            c = UnsafePointer(scratch); s = UnsafePointer(scratch + half)
                                        }
                                        if inverse {
                                            let negated = scratch + 2 * half
                                            for j in 0..<half { negated[j] = -s[j] }
                                            s = UnsafePointer(negated)
                                        }
                                        for h in 0..<heads {
                                            let o = (row * heads + h) * d
                                            Self.rotateHead(xb + o, into: yb + o, cos: c, sin: s, half: half)
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return y
    }

    /// `y_j = x_j c_j − x_{j+half} s_j`, `y_{j+half} = x_{j+half} c_j + x_j s_j` (16 lanes, then a scalar tail;
    /// the same IEEE operations per element either way).
    @inline(__always)
    private static func rotateHead(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>,
                                   cos c: UnsafePointer<Float>, sin s: UnsafePointer<Float>, half: Int) {
        var j = 0
        while j + 16 <= half {
            let x1 = load16(x + j), x2 = load16(x + half + j), cv = load16(c + j), sv = load16(s + j)
            store16(x1 * cv - x2 * sv, y + j)
            store16(x2 * cv + x1 * sv, y + half + j)
            j += 16
        }
        while j < half {
            let x1 = x[j], x2 = x[j + half]
            y[j] = x1 * c[j] - x2 * s[j]
            y[j + half] = x2 * c[j] + x1 * s[j]
            j += 1
        }
    }
}

// MARK: - cos/sin table

/// cos θ and sin θ per position, [positions, D/2] each, grown on demand up to `maxPositions` and shared by copies
/// of a `RoPE` value (forward of q and k, backward, every layer and step). Entries are computed exactly as
/// the rotation used to compute them per row: `a = Float(p) · inv_freq_j` (Float32), then `cosf(a)`, `sinf(a)`.
final class RoPEAngles: Sendable {
    struct Table: Sendable { var positions = 0; var cos: [Float] = []; var sin: [Float] = [] }

    /// Positions beyond this are computed per row instead (a 128-wide head's table stops at 16 MB).
    static let maxPositions = 1 << 15

    private let state = Mutex(Table())

    /// The table (never empty), grown to a power of two of at least 256 positions so it covers `maxPosition`
    /// when that is below `maxPositions`.
    func covering(_ maxPosition: Int, invFreq: [Float]) -> Table {
        state.withLock { table in
            let wanted = maxPosition >= Self.maxPositions ? Self.maxPositions : max(1, maxPosition + 1)
            if wanted <= table.positions { return table }
            let half = invFreq.count
            let newCount = min(Self.maxPositions, max(256, table.positions * 2, wanted.nextPowerOfTwo))
            var cos = table.cos, sin = table.sin
            cos.reserveCapacity(newCount * half); sin.reserveCapacity(newCount * half)
            for p in table.positions..<newCount {
                for j in 0..<half { let a = Float(p) * invFreq[j]; cos.append(cosf(a)); sin.append(sinf(a)) }
            }
            table = Table(positions: newCount, cos: cos, sin: sin)
            return table
        }
    }

    /// cos/sin of one position (for positions outside the table).
    @inline(__always)
    static func fill(position p: Int, invFreq f: UnsafePointer<Float>, half: Int,
                     cos: UnsafeMutablePointer<Float>, sin: UnsafeMutablePointer<Float>) {
        let fp = Float(p)
        for j in 0..<half { let a = fp * f[j]; cos[j] = cosf(a); sin[j] = sinf(a) }
    }
}

private extension Int {
    var nextPowerOfTwo: Int { self <= 1 ? 1 : 1 << (Int.bitWidth - (self - 1).leadingZeroBitCount) }
}
