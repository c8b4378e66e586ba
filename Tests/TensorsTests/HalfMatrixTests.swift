import Testing
import Tensors
import TestSupport

/// `HalfMatrix.multiply` (16-bit GEMV for N ≤ 4, widened blocks + sgemm above) against its Double twin on the exactly
/// widened weights, at awkward shapes, both kinds, with and without accumulation.
@Suite struct HalfMatrixTests {
    static func matrix(rows: Int, cols: Int, kind: HalfKind, seed: UInt64) -> HalfMatrix {
        HalfMatrix(narrowing: Tensor(shape: [rows, cols], data: randomArray(rows * cols, seed: seed)), kind: kind)
    }

    func check(_ w: HalfMatrix, n: Int, accumulate: Bool) {
        let x = randomArray(n * w.cols, seed: UInt64(n * 31 + w.cols))
        let y0 = randomArray(n * w.rows, seed: UInt64(n * 37 + w.rows))
        var fast = y0, slow = y0
        x.withUnsafeBufferPointer { xp in
            fast.withUnsafeMutableBufferPointer { w.multiply(xp.baseAddress!, rows: n, into: $0.baseAddress!, accumulate: accumulate) }
            slow.withUnsafeMutableBufferPointer {
                NaiveKernels.halfProduct(w, xp.baseAddress!, rows: n, into: $0.baseAddress!, accumulate: accumulate)
            }
        }
        expectClose(fast, slow.map(Double.init), rtol: 1e-5, atol: 2e-6 * Double(w.cols),
                    "\(w.kind) O=\(w.rows) I=\(w.cols) N=\(n) accumulate=\(accumulate)")
    }

    @Test(arguments: HalfKind.allCases)
    func productMatchesWidenedTwin(_ kind: HalfKind) {
        // I = 136: four blocks of 32 plus an 8-element tail; O = 301: a partial last group of four rows.
        // N = 5 takes the widened-block GEMM path.
        for (o, i) in [(301, 136), (301, 7), (5, 64), (3, 33), (97, 576)] {
            let w = Self.matrix(rows: o, cols: i, kind: kind, seed: UInt64(o * 1000 + i))
            for n in 1...5 {
                check(w, n: n, accumulate: false)
                check(w, n: n, accumulate: true)
            }
        }
    }

    /// The GEMM path in several row blocks (more rows than one 8 MB block holds).
    @Test func blockedPathCoversManyBlocks() {
        let w = Self.matrix(rows: 70_000, cols: 33, kind: .bf16, seed: 9)
        check(w, n: 6, accumulate: false)
    }

    /// The GEMV's lane conversion is exact for every finite f16 and every bf16 pattern: W·eⱼ is column j, bit for bit
    /// as Float (up to the sign of zero), compared with the scalar `HalfPrecision` conversion.
    @Test(arguments: HalfKind.allCases)
    func laneConversionIsExact(_ kind: HalfKind) {
        let patterns = (0..<65_536).map(UInt16.init).filter { h in
            let f = kind.widen(h)
            return f.isFinite && abs(f) < 1e30   // products with 0 must stay 0
        }
        let cols = 64, rows = (patterns.count + cols - 1) / cols
        let w = HalfMatrix(rows: rows, cols: cols, kind: kind) { p in
            for k in 0..<(rows * cols) { p[k] = patterns[k % patterns.count] }
        }
        var x = [Float](repeating: 0, count: cols)
        var y = [Float](repeating: 0, count: rows)
        for j in 0..<cols {
            x[j] = 1
            x.withUnsafeBufferPointer { xp in
                y.withUnsafeMutableBufferPointer { w.multiply(xp.baseAddress!, rows: 1, into: $0.baseAddress!, accumulate: false) }
            }
            x[j] = 0
            for r in 0..<rows where y[r] != kind.widen(w[r, j]) {
                Issue.record("\(kind) pattern \(w[r, j]) widened to \(y[r]), expected \(kind.widen(w[r, j]))")
                return
            }
        }
    }

    /// Infinities and NaN survive the lane conversion.
    @Test(arguments: HalfKind.allCases)
    func infinitiesAndNaN(_ kind: HalfKind) {
        let inf = kind.narrow(.infinity), nan = kind.narrow(.nan)
        let w = HalfMatrix(rows: 2, cols: 40, kind: kind) { p in
            for k in 0..<40 { p[k] = inf; p[40 + k] = nan }
        }
        let x = [Float](repeating: 1, count: 40)
        var y = [Float](repeating: 0, count: 2)
        x.withUnsafeBufferPointer { xp in
            y.withUnsafeMutableBufferPointer { w.multiply(xp.baseAddress!, rows: 1, into: $0.baseAddress!, accumulate: false) }
        }
        #expect(y[0] == .infinity)
        #expect(y[1].isNaN)
    }

    /// Narrowing rounds to nearest even and widening is exact.
    @Test(arguments: HalfKind.allCases)
    func narrowAndWiden(_ kind: HalfKind) {
        let values = randomArray(301 * 7, seed: 3, scale: 100)
        let w = HalfMatrix(narrowing: Tensor(shape: [301, 7], data: values), kind: kind)
        #expect(w.byteCount == 301 * 7 * 2)
        let back = w.widened().scalars
        for k in values.indices where back[k] != kind.widen(kind.narrow(values[k])) {
            Issue.record("element \(k): \(back[k]) vs \(kind.widen(kind.narrow(values[k])))")
            return
        }
        var row = [Float](repeating: 0, count: 7)
        row.withUnsafeMutableBufferPointer { w.widenRow(300, into: $0.baseAddress!) }
        #expect(row == Array(back[(300 * 7)...]))
    }
}
