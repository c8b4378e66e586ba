import COpenBLAS

/// Whether a GEMM operand is used as stored or transposed.
public enum Transpose: Sendable, CaseIterable, CustomStringConvertible {
    case normal
    case transposed

    @usableFromInline var cblas: CBLAS_TRANSPOSE { self == .normal ? CblasNoTrans : CblasTrans }
    public var description: String { self == .normal ? "N" : "T" }
}

/// Matrix products through OpenBLAS `cblas_sgemm` (one-row products, decode's matrix-vector products, through
/// `FloatGEMV` or `cblas_sgemv`). Every path here has a naive twin in `NaiveKernels`.
///
/// OpenBLAS always runs on one thread; Whittle's pool does the threading. A product of at least 2²⁰ multiply-adds
/// is cut into one block of C per pool thread, each block a single-threaded `cblas_sgemm` on its own thread,
/// with block edges on multiples of 16 rows (or columns). So a product's bits depend on the thread count only,
/// never on timing or on who else is calling: concurrent callers and calls from inside pool jobs run the same
/// blocks one after another. (OpenBLAS's own threading, on top of a global thread count that attention had to
/// switch to 1 around its per-head products, made the bits depend on which calls overlapped that switch.)
/// Measured against OpenBLAS's own threading on the same kernels at 2 threads (`whittle bench gemm`): 1.01× median
/// (0.94–1.09) over SmolLM2-135M's products; whole training updates unchanged within noise.
///
/// All matrices are row-major. `op(A)` is M×K and `op(B)` is K×N; a transposed operand is stored the other
/// way round (A as K×M, B as N×K), which is how backward-pass products look:
/// forward `Y = X·Wᵀ` (W stored [out, in]), `dX = dY·W`, `dW = dYᵀ·X`.
public enum BLAS {
    /// `C[M×N] = alpha·op(A)·op(B) + beta·C`. `beta = 1` accumulates into `C` (gradient sums).
    /// Leading dimensions are the row strides of the matrices as stored.
    @inlinable
    public static func gemm(
        _ transA: Transpose, _ transB: Transpose,
        m: Int, n: Int, k: Int,
        alpha: Float = 1,
        a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0,
        c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        precondition(m >= 0 && n >= 0 && k >= 0, "negative GEMM size \(m)×\(n)×\(k)")
        _ = BLASKernels.selection
        precondition(lda >= max(1, transA == .normal ? k : m), "lda \(lda) too small for \(transA) A of \(m)×\(k)")
        precondition(ldb >= max(1, transB == .normal ? n : k), "ldb \(ldb) too small for \(transB) B of \(k)×\(n)")
        precondition(ldc >= max(1, n), "ldc \(ldc) too small for C of \(m)×\(n)")
        if m == 0 || n == 0 { return }
        if m == 1 && k > 0 {
            // One row (decode: one token through a Linear): a matrix-vector product. OpenBLAS's sgemm pays its
            // blocking and packing for nothing here; sgemv streams the weights once.
            let incA = transA == .normal ? 1 : lda
            if transB == .transposed && (incA == 1 || k == 1) && alpha == 1 && (beta == 0 || beta == 1) {
                // The decode case, y = W·x with W stored [N×K]: Whittle's bandwidth-bound loop (see FloatGEMV).
                FloatGEMV.multiply(b, rows: n, cols: k, ldw: ldb, x: a, into: c, accumulate: beta == 1)
            } else if transB == .transposed {
                // C[1×N] = a·Bᵀ with B stored [N×K]: y = B·a.
                cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(n), Int32(k), alpha, b, Int32(ldb), a, Int32(incA), beta, c, 1)
            } else {
                // C[1×N] = a·B with B stored [K×N]: y = Bᵀ·a.
                cblas_sgemv(CblasRowMajor, CblasTrans, Int32(k), Int32(n), alpha, b, Int32(ldb), a, Int32(incA), beta, c, 1)
            }
            return
        }
        if m * n * k >= splitThreshold, case let parts = Threading.threadCount, parts > 1 {
            // One block of C per thread. Split M (each block packs all of op(B)) unless N is larger (then each
            // packs all of op(A)): the smaller operand is the one packed twice. Edges on multiples of `splitAlign`.
            let splitRows = m >= n
            let extent = splitRows ? m : n
            if extent >= 2 * splitAlign {
                func edge(_ i: Int) -> Int {
                    i == parts ? extent : min(extent, (extent * i / parts + splitAlign / 2) / splitAlign * splitAlign)
                }
                ThreadPool.shared.run(chunks: parts) { p in
                    let lo = edge(p), hi = edge(p + 1)
                    if hi <= lo { return }
                    if splitRows {
                        let ap = transA == .normal ? a + lo * lda : a + lo
                        cblas_sgemm(CblasRowMajor, transA.cblas, transB.cblas, Int32(hi - lo), Int32(n), Int32(k), alpha,
                                    ap, Int32(lda), b, Int32(ldb), beta, c + lo * ldc, Int32(ldc))
                    } else {
                        let bp = transB == .normal ? b + lo : b + lo * ldb
                        cblas_sgemm(CblasRowMajor, transA.cblas, transB.cblas, Int32(m), Int32(hi - lo), Int32(k), alpha,
                                    a, Int32(lda), bp, Int32(ldb), beta, c + lo, Int32(ldc))
                    }
                }
                return
            }
        }
        cblas_sgemm(CblasRowMajor, transA.cblas, transB.cblas,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// Products of at least this many multiply-adds (M·N·K) are split over the pool's threads.
    @usableFromInline static let splitThreshold = 1 << 20
    /// Block edges of a split product fall on multiples of this many rows or columns.
    /// (16: SmolLM2-135M's 576, 192 and 1536 halve exactly; 64 split 576 as 320 + 256 and 192 as 128 + 64.)
    @usableFromInline static let splitAlign = 16

    /// A batch of independent GEMMs (for example one per attention head): matrix `i` of A, B and C starts
    /// `i·strideA`, `i·strideB`, `i·strideC` elements after the base pointers.
    /// The products run one after another, each as `gemm` runs it (large ones split over the pool).
    public static func batchedGEMM(
        _ transA: Transpose, _ transB: Transpose,
        batch: Int, m: Int, n: Int, k: Int,
        alpha: Float = 1,
        a: UnsafePointer<Float>, lda: Int, strideA: Int,
        b: UnsafePointer<Float>, ldb: Int, strideB: Int,
        beta: Float = 0,
        c: UnsafeMutablePointer<Float>, ldc: Int, strideC: Int
    ) {
        precondition(batch >= 0, "negative batch \(batch)")
        for i in 0..<batch {
            gemm(transA, transB, m: m, n: n, k: k, alpha: alpha,
                 a: a + i * strideA, lda: lda, b: b + i * strideB, ldb: ldb,
                 beta: beta, c: c + i * strideC, ldc: ldc)
        }
    }
}

// MARK: - Tensor-level products

extension Tensor {
    /// `op(self)·op(other)` as a new [M, N] tensor.
    ///
    /// Without transposition `self` may have any rank ≥ 1 and is read as [rows, last dim] (so [B, T, C]·W works);
    /// a transposed operand must be 2-D. The result keeps `self`'s leading dimensions when `self` is not transposed.
    public func matmul(_ transA: Transpose = .normal, _ other: Tensor, _ transB: Transpose = .normal) -> Tensor {
        let (_, k, outShape) = Self.gemmLeft(self, transA, other, transB)
        let n = transB == .normal ? other.shape[1] : other.shape[0]
        var out = Tensor(zeros: outShape + [n])
        Tensor.gemm(self, transA, other, transB, into: &out, k: k, beta: 0)
        return out
    }

    /// `out = op(a)·op(b) + beta·out`; `beta: 1` accumulates (gradients).
    public static func gemm(_ a: Tensor, _ transA: Transpose, _ b: Tensor, _ transB: Transpose,
                            into out: inout Tensor, beta: Float = 0) {
        let (_, k, _) = gemmLeft(a, transA, b, transB)
        gemm(a, transA, b, transB, into: &out, k: k, beta: beta)
    }

    private static func gemm(_ a: Tensor, _ transA: Transpose, _ b: Tensor, _ transB: Transpose,
                             into out: inout Tensor, k: Int, beta: Float) {
        let m = transA == .normal ? a.matrixShape.rows : a.shape[1]
        let n = transB == .normal ? b.shape[1] : b.shape[0]
        precondition(out.matrixShape.rows == m && out.matrixShape.cols == n,
                     "GEMM output has shape \(out.shape), expected \(m)×\(n)")
        let lda = transA == .normal ? k : m
        let ldb = transB == .normal ? n : k
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                out.withUnsafeMutableBufferPointer { pc in
                    BLAS.gemm(transA, transB, m: m, n: n, k: k, a: pa.baseAddress!, lda: Swift.max(lda, 1),
                              b: pb.baseAddress!, ldb: Swift.max(ldb, 1), beta: beta, c: pc.baseAddress!, ldc: Swift.max(n, 1))
                }
            }
        }
    }

    /// Checks operand shapes; returns M, K and the leading output dimensions.
    private static func gemmLeft(_ a: Tensor, _ transA: Transpose, _ b: Tensor, _ transB: Transpose)
        -> (m: Int, k: Int, lead: [Int]) {
        precondition(b.rank == 2, "GEMM right operand must be 2-D, got shape \(b.shape)")
        let kb = transB == .normal ? b.shape[0] : b.shape[1]
        if transA == .normal {
            precondition(a.rank >= 1, "GEMM left operand is a scalar")
            let (rows, cols) = a.matrixShape
            precondition(cols == kb, "GEMM inner sizes differ: \(a.shape)\(transA) · \(b.shape)\(transB)")
            return (rows, cols, Array(a.shape.dropLast()))
        }
        precondition(a.rank == 2, "a transposed GEMM left operand must be 2-D, got shape \(a.shape)")
        precondition(a.shape[0] == kb, "GEMM inner sizes differ: \(a.shape)\(transA) · \(b.shape)\(transB)")
        return (a.shape[1], a.shape[0], [a.shape[1]])
    }
}
