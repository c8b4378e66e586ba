import Foundation
import Tensors

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
        }
        return Report(whittleVersion: version, rows: rows)
    }
}
