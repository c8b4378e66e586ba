import Testing
import Tensors
import TestSupport

/// Every BLAS path against its naive twin, at awkward sizes and every transpose flag.
@Suite struct GEMMTests {
    static let sizes = [1, 3, 7, 33, 65]

    /// OpenBLAS runs the kernel family the CPU supports: an OpenBLAS older than the CPU falls back to Prescott
    /// (SSE3, ~4.5× slower on AVX-512 machines) unless `BLASKernels` re-selects, and AMD Zen 4 runs Haswell's.
    /// Checks nothing when the user chose the family (`OPENBLAS_CORETYPE`) or the CPU has no AVX2 + FMA.
    @Test func openBLASUsesKernelsTheCPUSupports() {
        guard BLASKernels.userCoreType == nil, let cpu = BLASKernels.cpuInfo(),
              cpu.flags.isSuperset(of: ["avx2", "fma"]) else { return }
        let core = BLASKernels.core.lowercased()
        #expect(core != "prescott", "OpenBLAS runs \(core) kernels on a CPU with AVX2 + FMA")
        if cpu.vendor == "AuthenticAMD" && cpu.family == 25 {
            #expect(core == "haswell", "OpenBLAS runs \(core) kernels on AMD family 25 (Zen 3/4)")
        } else if cpu.flags.isSuperset(of: ["avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512cd"]) {
            #expect(["skylakex", "cooperlake", "sapphirerapids", "zen"].contains(core), "OpenBLAS runs \(core) kernels on an AVX-512 CPU")
        }
    }

    /// The re-selection rule, on CPUs this machine is not.
    @Test func kernelFamilyRule() {
        let avx512: Set<String> = ["avx2", "fma", "avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"]
        let intel = BLASKernels.CPU(vendor: "GenuineIntel", family: 6, flags: avx512)
        let intelBF16 = BLASKernels.CPU(vendor: "GenuineIntel", family: 6, flags: avx512.union(["avx512_bf16"]))
        let zen4 = BLASKernels.CPU(vendor: "AuthenticAMD", family: 25, flags: avx512.union(["avx512_bf16"]))
        let zen5 = BLASKernels.CPU(vendor: "AuthenticAMD", family: 26, flags: avx512.union(["avx512_bf16"]))
        let avx2 = BLASKernels.CPU(vendor: "GenuineIntel", family: 6, flags: ["avx2", "fma"])
        let sse = BLASKernels.CPU(vendor: "GenuineIntel", family: 6, flags: ["sse3"])
        #expect(BLASKernels.preferredCore(detected: "Prescott", cpu: intel) == "SkylakeX")
        #expect(BLASKernels.preferredCore(detected: "Prescott", cpu: intelBF16) == "Cooperlake")
        #expect(BLASKernels.preferredCore(detected: "Prescott", cpu: zen4) == "Haswell")
        #expect(BLASKernels.preferredCore(detected: "Prescott", cpu: avx2) == "Haswell")
        #expect(BLASKernels.preferredCore(detected: "Prescott", cpu: sse) == nil)
        #expect(BLASKernels.preferredCore(detected: "Cooperlake", cpu: zen4) == "Haswell")
        #expect(BLASKernels.preferredCore(detected: "SkylakeX", cpu: zen4) == "Haswell")
        #expect(BLASKernels.preferredCore(detected: "Cooperlake", cpu: zen5) == nil)
        #expect(BLASKernels.preferredCore(detected: "Cooperlake", cpu: intelBF16) == nil)
        #expect(BLASKernels.preferredCore(detected: "Haswell", cpu: zen4) == nil)
    }

    /// Runs BLAS.gemm and NaiveKernels.gemm on the same operands (optionally with padded leading dimensions)
    /// and compares C with a tolerance scaled by K (fp32 accumulation order differs from the Double twin).
    func check(_ ta: Transpose, _ tb: Transpose, m: Int, n: Int, k: Int, alpha: Float, beta: Float, pad: Int) {
        let rowsA = ta == .normal ? m : k, colsA = ta == .normal ? k : m
        let rowsB = tb == .normal ? k : n, colsB = tb == .normal ? n : k
        let lda = colsA + pad, ldb = colsB + pad, ldc = n + pad
        let a = randomArray(rowsA * lda, seed: UInt64(m * 10_007 + k))
        let b = randomArray(rowsB * ldb, seed: UInt64(n * 10_009 + k + 1))
        let c0 = randomArray(m * ldc, seed: UInt64(m * n + 7))
        var fast = c0, slow = c0
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                fast.withUnsafeMutableBufferPointer { pc in
                    BLAS.gemm(ta, tb, m: m, n: n, k: k, alpha: alpha, a: pa.baseAddress!, lda: lda,
                              b: pb.baseAddress!, ldb: ldb, beta: beta, c: pc.baseAddress!, ldc: ldc)
                }
                slow.withUnsafeMutableBufferPointer { pc in
                    NaiveKernels.gemm(ta, tb, m: m, n: n, k: k, alpha: alpha, a: pa.baseAddress!, lda: lda,
                                      b: pb.baseAddress!, ldb: ldb, beta: beta, c: pc.baseAddress!, ldc: ldc)
                }
            }
        }
        // Padding columns of C must be untouched.
        for i in 0..<m { for j in n..<ldc { #expect(fast[i * ldc + j] == c0[i * ldc + j], "padding of C written at \(i),\(j)") } }
        expectClose(fast, slow.map(Double.init), rtol: 1e-5, atol: 2e-6 * Double(k),
                    "gemm \(ta)\(tb) m=\(m) n=\(n) k=\(k) alpha=\(alpha) beta=\(beta) pad=\(pad)")
    }

    @Test(arguments: Transpose.allCases, Transpose.allCases)
    func gemmMatchesNaiveTwin(_ ta: Transpose, _ tb: Transpose) {
        for m in Self.sizes { for n in Self.sizes { for k in Self.sizes {
            check(ta, tb, m: m, n: n, k: k, alpha: 1, beta: 0, pad: 0)
        } } }
    }

    /// beta = 1 accumulates into C (gradient sums); alpha scales; padded leading dimensions are honoured.
    @Test(arguments: Transpose.allCases, Transpose.allCases)
    func accumulateScaleAndStrides(_ ta: Transpose, _ tb: Transpose) {
        for m in [1, 7, 65] { for n in [3, 33] { for k in [1, 7, 65] {
            check(ta, tb, m: m, n: n, k: k, alpha: 1, beta: 1, pad: 0)
            check(ta, tb, m: m, n: n, k: k, alpha: 0.5, beta: 1, pad: 3)
            check(ta, tb, m: m, n: n, k: k, alpha: -2, beta: 0.25, pad: 1)
        } } }
    }

    /// One-row products (decode): A·Bᵀ runs Whittle's FloatGEMV — several pool chunks, each cut in four quarters with
    /// leftover rows, row lengths off the 32-lane step, padded rows, accumulation — the rest sgemv.
    @Test(arguments: Transpose.allCases, Transpose.allCases)
    func oneRowProductsMatchNaiveTwin(_ ta: Transpose, _ tb: Transpose) {
        for (n, k) in [(1, 1), (5, 33), (259, 70), (3001, 576), (4099, 97)] {
            for (beta, pad) in [(Float(0), 0), (1, 3)] { check(ta, tb, m: 1, n: n, k: k, alpha: 1, beta: beta, pad: pad) }
        }
    }

    /// Large enough for OpenBLAS to use several threads and its blocked kernels.
    @Test func largeProductMatchesNaiveTwin() {
        check(.normal, .transposed, m: 130, n: 257, k: 300, alpha: 1, beta: 0, pad: 0)
        check(.transposed, .normal, m: 257, n: 65, k: 130, alpha: 1, beta: 1, pad: 0)
    }

    /// Products big enough to be split over the pool's threads: by rows (M ≥ N) and by columns, with edges off
    /// the 64 grid, accumulation, scaling and padded strides; and an extent too short to split.
    @Test(arguments: Transpose.allCases, Transpose.allCases)
    func splitProductsMatchNaiveTwin(_ ta: Transpose, _ tb: Transpose) {
        for (m, n, k) in [(301, 70, 64), (70, 301, 64), (129, 128, 80), (100, 110, 128)] {
            check(ta, tb, m: m, n: n, k: k, alpha: 1, beta: 0, pad: 0)
            check(ta, tb, m: m, n: n, k: k, alpha: -0.5, beta: 1, pad: 3)
        }
    }

    /// A split product gives the same bits from inside a pool job (its blocks then run one after another on that
    /// thread) as from outside (blocks in parallel): the blocks depend on the thread count only.
    @Test func splitProductIsTheSameFromInsideAPoolJob() {
        let (m, n, k) = (301, 257, 96)
        let a = randomArray(m * k, seed: 21), b = randomArray(k * n, seed: 22)
        var outside = [Float](repeating: 0, count: m * n)
        var inside = [Float](repeating: 0, count: 2 * m * n)
        a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in
            outside.withUnsafeMutableBufferPointer { pc in
                BLAS.gemm(.normal, .normal, m: m, n: n, k: k, a: pa.baseAddress!, lda: k, b: pb.baseAddress!, ldb: n,
                          c: pc.baseAddress!, ldc: n)
            }
            inside.withUnsafeMutableBufferPointer { pc in
                let base = pc.baseAddress!
                Threading.forEachUnit(2) { _, u in
                    BLAS.gemm(.normal, .normal, m: m, n: n, k: k, a: pa.baseAddress!, lda: k, b: pb.baseAddress!, ldb: n,
                              c: base + u * m * n, ldc: n)
                }
            }
        } }
        #expect(Array(inside[0..<(m * n)]) == outside)
        #expect(Array(inside[(m * n)...]) == outside)
    }

    @Test(arguments: Transpose.allCases, Transpose.allCases)
    func batchedGEMMMatchesNaiveTwin(_ ta: Transpose, _ tb: Transpose) {
        for (batch, m, n, k) in [(1, 1, 1, 1), (3, 7, 33, 3), (5, 33, 7, 65), (2, 65, 65, 7)] {
            let sa = m * k + 5, sb = k * n + 3, sc = m * n + 1
            let a = randomArray(batch * sa, seed: 11), b = randomArray(batch * sb, seed: 12)
            let c0 = randomArray(batch * sc, seed: 13)
            var fast = c0, slow = c0
            let lda = ta == .normal ? k : m, ldb = tb == .normal ? n : k
            a.withUnsafeBufferPointer { pa in
                b.withUnsafeBufferPointer { pb in
                    fast.withUnsafeMutableBufferPointer { pc in
                        BLAS.batchedGEMM(ta, tb, batch: batch, m: m, n: n, k: k, a: pa.baseAddress!, lda: lda, strideA: sa,
                                         b: pb.baseAddress!, ldb: ldb, strideB: sb, beta: 1, c: pc.baseAddress!, ldc: n, strideC: sc)
                    }
                    slow.withUnsafeMutableBufferPointer { pc in
                        NaiveKernels.batchedGEMM(ta, tb, batch: batch, m: m, n: n, k: k, a: pa.baseAddress!, lda: lda, strideA: sa,
                                                 b: pb.baseAddress!, ldb: ldb, strideB: sb, beta: 1, c: pc.baseAddress!, ldc: n, strideC: sc)
                    }
                }
            }
            expectClose(fast, slow.map(Double.init), rtol: 1e-5, atol: 2e-6 * Double(k), "batched \(ta)\(tb) \(batch)×\(m)×\(n)×\(k)")
        }
    }

    /// The Tensor API reads [B, T, C] as a [B·T, C] matrix and keeps the leading dimensions.
    @Test func tensorMatmulShapesAndValues() {
        let x = Tensor(shape: [2, 3, 7], data: randomArray(42, seed: 21))
        let w = Tensor(shape: [5, 7], data: randomArray(35, seed: 22))   // [out, in]
        let y = x.matmul(.normal, w, .transposed)
        #expect(y.shape == [2, 3, 5])
        var expected = [Float](repeating: 0, count: 30)
        x.withUnsafeBufferPointer { px in
            w.withUnsafeBufferPointer { pw in
                expected.withUnsafeMutableBufferPointer { pe in
                    NaiveKernels.gemm(.normal, .transposed, m: 6, n: 5, k: 7, a: px.baseAddress!, lda: 7,
                                      b: pw.baseAddress!, ldb: 7, c: pe.baseAddress!, ldc: 5)
                }
            }
        }
        expectClose(y.scalars, expected.map(Double.init), rtol: 1e-6, atol: 1e-6, "matmul [2,3,7]·[5,7]ᵀ")

        // dW = dYᵀ·X accumulated twice equals 2× one product.
        let dy = y.reshaped([6, 5]), x2 = x.reshaped([6, 7])
        var dw = Tensor(zeros: [5, 7])
        Tensor.gemm(dy, .transposed, x2, .normal, into: &dw, beta: 1)
        let once = dw.scalars
        Tensor.gemm(dy, .transposed, x2, .normal, into: &dw, beta: 1)
        expectClose(dw.scalars, once.map { 2 * Double($0) }, rtol: 1e-6, atol: 1e-6, "accumulated dW")
    }
}
