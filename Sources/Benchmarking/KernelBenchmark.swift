import Foundation
import Tensors
import COpenBLAS

/// `whittle bench kernels`: throughput of the non-BLAS kernels (elementwise, softmax, reductions, bf16), the loops
/// Whittle vectorizes itself, as GB/s of memory touched and elements per second; medians of repeated runs.
public enum KernelBenchmark {
    public struct Row: Codable, Sendable {
        public var kernel: String
        public var elements: Int
        public var threads: Int
        public var medianMicroseconds: Double
        /// Bytes read plus written per call ÷ median time.
        public var gigabytesPerSecond: Double
        public var gigaElementsPerSecond: Double
    }

    public struct Report: Codable, Sendable {
        public var benchmark = "kernels"
        public var whittleVersion: String
        public var rows: [Row]
    }

    /// One decode-step product of a tied SmolLM2-135M head, W [49152, 576] · x: `BLAS.gemm`'s one-row path
    /// (`FloatGEMV`) and OpenBLAS's own sgemv on Float32 weights, beside `HalfMatrix.multiply` on bf16 and f16 weights
    /// (GB/s counts the weights read).
    static func gemvRows(threads: Int, repeats: Int) -> [Row] {
        let o = 49152, i = 576
        var rng = RandomGenerator(seed: 6)
        var w = Tensor(zeros: [o, i]), x = Tensor(zeros: [i]), y = Tensor(zeros: [o])
        rng.fillNormal(&w, mean: 0, std: 0.02)
        rng.fillUniform(&x, low: -1, high: 1)
        let bf16 = HalfMatrix(narrowing: w, kind: .bf16), f16 = HalfMatrix(narrowing: w, kind: .f16)
        var rows: [Row] = []
        w.withUnsafeBufferPointer { pw in x.withUnsafeBufferPointer { px in y.withUnsafeMutableBufferPointer { py in
            let W = pw.baseAddress!, X = px.baseAddress!, Y = py.baseAddress!
            let cases: [(String, Int, () -> Void)] = [
                ("gemv f32 49152×576", 4, { BLAS.gemm(.normal, .transposed, m: 1, n: o, k: i, a: X, lda: i, b: W, ldb: i, c: Y, ldc: o) }),
                ("gemv f32 49152×576 sgemv", 4, {
                    cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(o), Int32(i), 1, W, Int32(i), X, 1, 0, Y, 1)
                }),
                ("gemv bf16 49152×576", 2, { bf16.multiply(X, rows: 1, into: Y, accumulate: false) }),
                ("gemv f16 49152×576", 2, { f16.multiply(X, rows: 1, into: Y, accumulate: false) }),
            ]
            for (name, bytes, call) in cases {
                call(); call()
                let med = median((0..<repeats).map { _ in let t0 = now(); call(); return now() - t0 })
                rows.append(Row(kernel: name, elements: o * i, threads: threads, medianMicroseconds: med * 1e6,
                                gigabytesPerSecond: Double(o * i * bytes) / med / 1e9, gigaElementsPerSecond: Double(o * i) / med / 1e9))
            }
        } } }
        rows += decodeSweepRows(threads: threads, repeats: max(5, repeats / 2))
        return rows
    }

    /// Every matrix product of one SmolLM2-135M decode step (30 layers of q, k, v, o, gate, up, down, then the tied
    /// head), one input row each, as Float32 (`BLAS.gemm`: `FloatGEMV`) and as bf16 / f16 `HalfMatrix`: the GEMV part of a
    /// decoded token, alone. Elements per second count weights; GB/s the weight bytes.
    static func decodeSweepRows(threads: Int, repeats: Int) -> [Row] {
        let c = 576, f = 1536, kv = 192
        let shapes = (0..<30).flatMap { _ in [(c, c), (kv, c), (kv, c), (c, c), (f, c), (f, c), (c, f)] } + [(49152, c)]
        let total = shapes.reduce(0) { $0 + $1.0 * $1.1 }
        var rng = RandomGenerator(seed: 7)
        var x = Tensor(zeros: [f]), y = Tensor(zeros: [49152])
        rng.fillUniform(&x, low: -1, high: 1)
        var rows: [Row] = []
        func time(_ name: String, bytes: Int, _ call: () -> Void) {
            call()
            let med = median((0..<repeats).map { _ in let t0 = now(); call(); return now() - t0 })
            rows.append(Row(kernel: name, elements: total, threads: threads, medianMicroseconds: med * 1e6,
                            gigabytesPerSecond: Double(total * bytes) / med / 1e9, gigaElementsPerSecond: Double(total) / med / 1e9))
        }
        do {
            let mats: [Tensor] = shapes.map { o, i in var t = Tensor(zeros: [o, i]); rng.fillNormal(&t, mean: 0, std: 0.02); return t }
            x.withUnsafeBufferPointer { px in y.withUnsafeMutableBufferPointer { py in
                time("decode sweep f32 (135M)", bytes: 4) {
                    for (m, (o, i)) in zip(mats, shapes) {
                        m.withUnsafeBufferPointer { pw in
                            BLAS.gemm(.normal, .transposed, m: 1, n: o, k: i, a: px.baseAddress!, lda: i, b: pw.baseAddress!, ldb: i,
                                      c: py.baseAddress!, ldc: o)
                        }
                    }
                }
            } }
        }
        for kind in HalfKind.allCases {
            let mats: [HalfMatrix] = shapes.map { o, i in
                var t = Tensor(zeros: [o, i]); rng.fillNormal(&t, mean: 0, std: 0.02); return HalfMatrix(narrowing: t, kind: kind)
            }
            x.withUnsafeBufferPointer { px in y.withUnsafeMutableBufferPointer { py in
                time("decode sweep \(kind) (135M)", bytes: 2) {
                    for m in mats { m.multiply(px.baseAddress!, rows: 1, into: py.baseAddress!, accumulate: false) }
                }
            } }
        }
        return rows
    }

    public static func run(threadCounts: [Int], elements: Int = 1 << 22, repeats: Int = 21, version: String) -> Report {
        var rows: [Row] = []
        var rng = RandomGenerator(seed: 5)
        var a = Tensor(zeros: [elements]), b = Tensor(zeros: [elements]), out = Tensor(zeros: [elements])
        rng.fillUniform(&a, low: -8, high: 8)
        rng.fillUniform(&b, low: -8, high: 8)
        var half = [UInt16](repeating: 0, count: elements)
        let vocab = 49152, rowsCount = elements / vocab
        for t in threadCounts {
            Threading.configure(threads: t)
            a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in out.withUnsafeMutableBufferPointer { po in
                half.withUnsafeMutableBufferPointer { ph in
                    let A = pa.baseAddress!, B = pb.baseAddress!, O = po.baseAddress!, H = ph.baseAddress!
                    let n = elements, f = MemoryLayout<Float>.size
                    let cases: [(String, Int, () -> Void)] = [
                        ("add", 3 * f, { Kernels.add(A, B, into: O, count: n) }),
                        ("mul", 3 * f, { Kernels.mul(A, B, into: O, count: n) }),
                        ("addScaled (axpy)", 3 * f, { Kernels.addScaled(A, by: 0.5, to: O, count: n) }),
                        ("exp", 2 * f, { Kernels.exp(A, into: O, count: n) }),
                        ("silu", 2 * f, { Kernels.silu(A, into: O, count: n) }),
                        ("gelu tanh", 2 * f, { Kernels.geluTanh(A, into: O, count: n) }),
                        ("softmax rows ×49152", 2 * f, { Kernels.softmaxRows(A, into: O, rows: rowsCount, cols: vocab) }),
                        ("log-softmax rows ×49152", 2 * f, { Kernels.logSoftmaxRows(A, into: O, rows: rowsCount, cols: vocab) }),
                        ("sum", f, { _ = Kernels.sum(A, count: n) }),
                        ("dot", 2 * f, { _ = Kernels.dot(A, B, count: n) }),
                        ("f32 → bf16", f + 2, { HalfPrecision.floatToBF16(A, H, count: n) }),
                        ("bf16 → f32", f + 2, { HalfPrecision.bf16ToFloat(H, O, count: n) }),
                        ("f16 → f32", f + 2, { HalfPrecision.f16ToFloat(H, O, count: n) }),
                    ]
                    for (name, bytesPerElement, call) in cases {
                        let counted = name.hasPrefix("softmax") || name.hasPrefix("log-softmax") ? rowsCount * vocab : n
                        call(); call()
                        let times = (0..<repeats).map { _ in
                            let t0 = now(); call(); return now() - t0
                        }
                        let med = median(times)
                        rows.append(Row(kernel: name, elements: counted, threads: t, medianMicroseconds: med * 1e6,
                                        gigabytesPerSecond: Double(counted * bytesPerElement) / med / 1e9,
                                        gigaElementsPerSecond: Double(counted) / med / 1e9))
                    }
                }
            } } }
            rows += gemvRows(threads: t, repeats: repeats)
        }
        return Report(whittleVersion: version, rows: rows)
    }
}
