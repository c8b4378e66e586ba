import CBenchSupport
import Foundation
import Tensors

/// `whittle bench gemm`: GFLOP/s of Whittle's GEMM path beside the same `cblas_sgemm` calls made from C,
/// interleaved in one run, for square 1024 and the products of a SmolLM2-135M-sized model at 512 tokens.
public enum GEMMBenchmark {
    /// One product: `op(A)[M×K] · op(B)[K×N]`.
    public struct Shape: Codable, Sendable {
        public var name: String
        public var m: Int, n: Int, k: Int
        public var transA: Bool, transB: Bool
        public var flops: Double { 2 * Double(m) * Double(n) * Double(k) }
        public var form: String {
            switch (transA, transB) {
            case (false, false): "A·B"
            case (false, true): "A·Bᵀ"
            case (true, false): "Aᵀ·B"
            case (true, true): "Aᵀ·Bᵀ"
            }
        }
    }

    public struct Row: Codable, Sendable {
        public var name: String
        public var form: String
        public var m: Int, n: Int, k: Int
        public var threads: Int
        public var calls: Int
        /// Median over all timed calls, GFLOP/s.
        public var swiftGFLOPS: Double
        public var cGFLOPS: Double
        /// Swift ÷ C speed: the median over rounds of (C time ÷ Swift time) in the same round; 1.0 = no overhead.
        public var ratio: Double
        /// swift ÷ the machine's theoretical peak at this thread count.
        public var fractionOfPeak: Double
    }

    public struct Report: Codable, Sendable {
        public var benchmark = "gemm"
        public var whittleVersion: String
        public var machine: [MachineProbe]
        public var rows: [Row]
        /// Machine probes after the run: a clock far below the first probe's means the host changed mode mid-run.
        public var machineAfter: [MachineProbe]
        /// Whether 2-thread figures count: "fast" when every multi-thread probe ran at ≥ 80% of the 1-thread
        /// clock before and after the run; otherwise the host was time-slicing the vCPUs ("slow") and only the
        /// 1-thread rows are a fair comparison (see ../shared/bench/README.md).
        public var hostMode: String
    }

    /// Square 1024, then each SmolLM2-135M product at T = 512 in the three forms training uses
    /// (as listed: A·B; A·Bᵀ, as in forward with W stored [out, in]; Aᵀ·B, as in weight gradients).
    public static let defaultShapes: [Shape] = {
        var shapes = [Shape(name: "square 1024", m: 1024, n: 1024, k: 1024, transA: false, transB: false)]
        let products: [(String, Int, Int, Int)] = [
            ("attn q/o [512×576]·[576×576]", 512, 576, 576),
            ("mlp up/gate [512×576]·[576×1536]", 512, 576, 1536),
            ("mlp down [512×1536]·[1536×576]", 512, 1536, 576),
            ("lm head [512×576]·[576×49152]", 512, 576, 49152),
        ]
        for (name, m, k, n) in products {
            for (ta, tb) in [(false, false), (false, true), (true, false)] {
                shapes.append(Shape(name: name, m: m, n: n, k: k, transA: ta, transB: tb))
            }
        }
        return shapes
    }()

    /// Runs every shape at every thread count. Each round times `calls` Swift calls then `calls` C calls
    /// (order alternating between rounds); medians are over all calls of all rounds.
    public static func run(shapes: [Shape] = defaultShapes, threadCounts: [Int], rounds: Int = 9,
                           secondsPerRound: Double = 0.12, version: String,
                           progress: (String) -> Void = { _ in }) -> Report {
        var probes: [MachineProbe] = []
        var after: [MachineProbe] = []
        var rows: [Row] = []
        for t in threadCounts {
            Threading.configure(threads: t)
            probes.append(MachineProbe.measure(threads: t))
        }
        for shape in shapes {
            for t in threadCounts {
                Threading.configure(threads: t)
                let peak = probes.first { $0.threads == t }?.theoreticalPeakGFLOPS ?? .nan
                let row = measure(shape, threads: t, rounds: rounds, secondsPerRound: secondsPerRound, peak: peak)
                progress(String(format: "%@ %@ t=%d swift %.1f C %.1f GFLOP/s ratio %.3f",
                                row.name, row.form, t, row.swiftGFLOPS, row.cGFLOPS, row.ratio))
                rows.append(row)
            }
        }
        for t in threadCounts {
            Threading.configure(threads: t)
            after.append(MachineProbe.measure(threads: t))
        }
        let base = (probes + after).filter { $0.threads == 1 }.map(\.clockGHz).max() ?? 0
        let multi = (probes + after).filter { $0.threads > 1 }.map(\.clockGHz)
        let mode = multi.isEmpty || base == 0 ? "n/a" : (multi.allSatisfy { $0 >= 0.8 * base } ? "fast" : "slow")
        return Report(whittleVersion: version, machine: probes, rows: rows, machineAfter: after, hostMode: mode)
    }

    static func measure(_ s: Shape, threads: Int, rounds: Int, secondsPerRound: Double, peak: Double) -> Row {
        var rng = RandomGenerator(seed: 1)
        var a = Tensor(zeros: [s.m * s.k]), b = Tensor(zeros: [s.k * s.n])
        rng.fillUniform(&a, low: -0.5, high: 0.5)
        rng.fillUniform(&b, low: -0.5, high: 0.5)
        var c = Tensor(zeros: [s.m * s.n])
        let lda = s.transA ? s.m : s.k
        let ldb = s.transB ? s.k : s.n
        let ta: Transpose = s.transA ? .transposed : .normal
        let tb: Transpose = s.transB ? .transposed : .normal

        return a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                c.withUnsafeMutableBufferPointer { pc in
                    let A = pa.baseAddress!, B = pb.baseAddress!, C = pc.baseAddress!
                    func swiftCalls(_ n: Int) -> [Double] {
                        (0..<n).map { _ in
                            let t0 = now()
                            BLAS.gemm(ta, tb, m: s.m, n: s.n, k: s.k, a: A, lda: lda, b: B, ldb: ldb, c: C, ldc: s.n)
                            return now() - t0
                        }
                    }
                    func cCalls(_ n: Int) -> [Double] {
                        var times = [Double](repeating: 0, count: n)
                        whittle_c_time_sgemm(s.transA ? 1 : 0, s.transB ? 1 : 0, Int32(s.m), Int32(s.n), Int32(s.k),
                                             A, Int32(lda), B, Int32(ldb), C, Int32(s.n), Int32(threads), Int32(n), &times)
                        return times
                    }
                    // Warm up both paths; size the rounds from the warm-up.
                    let warm = swiftCalls(2) + cCalls(2)
                    let perCall = max(warm.min()!, 1e-6)
                    let calls = max(3, min(200, Int(secondsPerRound / perCall)))
                    // Paired design: each round times both paths back to back; the ratio is the median of the
                    // per-round ratios, so drift of the host (another tenant, a clock change) cancels out.
                    var swiftTimes: [Double] = [], cTimes: [Double] = [], ratios: [Double] = []
                    for r in 0..<rounds {
                        let sw: [Double], cc: [Double]
                        if r % 2 == 0 { sw = swiftCalls(calls); cc = cCalls(calls) } else { cc = cCalls(calls); sw = swiftCalls(calls) }
                        swiftTimes += sw
                        cTimes += cc
                        ratios.append(median(cc) / median(sw))
                    }
                    let sw = s.flops / median(swiftTimes) / 1e9
                    let cg = s.flops / median(cTimes) / 1e9
                    return Row(name: s.name, form: s.form, m: s.m, n: s.n, k: s.k, threads: threads,
                               calls: swiftTimes.count, swiftGFLOPS: sw, cGFLOPS: cg, ratio: median(ratios),
                               fractionOfPeak: sw / peak)
                }
            }
        }
    }
}
