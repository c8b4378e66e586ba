#if canImport(Glibc)
import Glibc
#endif

/// Scalar, obviously-correct twins of the BLAS and vectorized kernels, accumulating in Double.
/// Tests compare every fast path with its twin; nothing on a hot path calls these.
public enum NaiveKernels {
    /// Same contract as `BLAS.gemm`.
    public static func gemm(
        _ transA: Transpose, _ transB: Transpose,
        m: Int, n: Int, k: Int,
        alpha: Float = 1,
        a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0,
        c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        for i in 0..<m {
            for j in 0..<n {
                var acc = 0.0
                for p in 0..<k {
                    let av = transA == .normal ? a[i * lda + p] : a[p * lda + i]
                    let bv = transB == .normal ? b[p * ldb + j] : b[j * ldb + p]
                    acc += Double(av) * Double(bv)
                }
                let prior = beta == 0 ? 0 : Double(beta) * Double(c[i * ldc + j])
                c[i * ldc + j] = Float(Double(alpha) * acc + prior)
            }
        }
    }

    /// Same contract as `BLAS.batchedGEMM`.
    public static func batchedGEMM(
        _ transA: Transpose, _ transB: Transpose,
        batch: Int, m: Int, n: Int, k: Int,
        alpha: Float = 1,
        a: UnsafePointer<Float>, lda: Int, strideA: Int,
        b: UnsafePointer<Float>, ldb: Int, strideB: Int,
        beta: Float = 0,
        c: UnsafeMutablePointer<Float>, ldc: Int, strideC: Int
    ) {
        for i in 0..<batch {
            gemm(transA, transB, m: m, n: n, k: k, alpha: alpha, a: a + i * strideA, lda: lda,
                 b: b + i * strideB, ldb: ldb, beta: beta, c: c + i * strideC, ldc: ldc)
        }
    }

    public static func exp(_ x: Float) -> Float { Float(Glibc.exp(Double(x))) }
    public static func silu(_ x: Float) -> Float { Float(Double(x) / (1 + Glibc.exp(-Double(x)))) }
    public static func geluTanh(_ x: Float) -> Float {
        let d = Double(x)
        return Float(0.5 * d * (1 + tanh((2 / Double.pi).squareRoot() * (d + 0.044715 * d * d * d))))
    }

    /// silu'(x) = σ(x)(1 + x(1 − σ(x))), in Double.
    public static func siluDerivative(_ x: Float) -> Double {
        let d = Double(x), s = 1 / (1 + Glibc.exp(-d))
        return s * (1 + d * (1 - s))
    }
    /// d/dx of 0.5·x·(1 + tanh(√(2/π)(x + 0.044715x³))), in Double, in the textbook tanh form.
    public static func geluTanhDerivative(_ x: Float) -> Double {
        let d = Double(x), k = (2 / Double.pi).squareRoot()
        let t = tanh(k * (d + 0.044715 * d * d * d))
        return 0.5 * (1 + t) + 0.5 * d * (1 - t * t) * k * (1 + 3 * 0.044715 * d * d)
    }

    public static func sum(_ x: UnsafePointer<Float>, count: Int) -> Double {
        var s = 0.0
        for i in 0..<count { s += Double(x[i]) }
        return s
    }

    public static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Double {
        var s = 0.0
        for i in 0..<count { s += Double(a[i]) * Double(b[i]) }
        return s
    }

    public static func max(_ x: UnsafePointer<Float>, count: Int) -> Float {
        var m = -Float.infinity
        for i in 0..<count {
            if x[i].isNaN { return .nan }
            m = Swift.max(m, x[i])
        }
        return m
    }

    public static func softmaxRows(_ x: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, rows: Int, cols: Int) {
        for r in 0..<rows {
            let m = Double(max(x + r * cols, count: cols))
            var s = 0.0
            for j in 0..<cols { s += Glibc.exp(Double(x[r * cols + j]) - m) }
            for j in 0..<cols { out[r * cols + j] = Float(Glibc.exp(Double(x[r * cols + j]) - m) / s) }
        }
    }

    public static func logSoftmaxRows(_ x: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, rows: Int, cols: Int) {
        for r in 0..<rows {
            let m = Double(max(x + r * cols, count: cols))
            var s = 0.0
            for j in 0..<cols { s += Glibc.exp(Double(x[r * cols + j]) - m) }
            for j in 0..<cols { out[r * cols + j] = Float(Double(x[r * cols + j]) - m - Glibc.log(s)) }
        }
    }
}

extension NaiveKernels {
    /// Same contract as `HalfMatrix.multiply`: `y[N, O] (+)= x[N, I]·Wᵀ` over the exactly widened weights, in Double.
    public static func halfProduct(_ w: HalfMatrix, _ x: UnsafePointer<Float>, rows n: Int,
                                   into y: UnsafeMutablePointer<Float>, accumulate: Bool) {
        for r in 0..<n {
            for o in 0..<w.rows {
                var acc = 0.0
                for i in 0..<w.cols { acc += Double(w.kind.widen(w[o, i])) * Double(x[r * w.cols + i]) }
                y[r * w.rows + o] = accumulate ? Float(Double(y[r * w.rows + o]) + acc) : Float(acc)
            }
        }
    }
}
