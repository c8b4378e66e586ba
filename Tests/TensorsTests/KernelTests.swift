import Foundation
import Testing
import Tensors
import TestSupport

/// Lengths that exercise the 16-lane body, its tail, and the parallel split.
let awkwardLengths = [1, 3, 7, 15, 16, 17, 33, 65, 1000, 100_003]

@Suite struct ElementwiseTests {
    func apply(_ x: [Float], _ f: (UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void) -> [Float] {
        var out = [Float](repeating: .nan, count: x.count)
        x.withUnsafeBufferPointer { px in out.withUnsafeMutableBufferPointer { po in f(px.baseAddress!, po.baseAddress!, x.count) } }
        return out
    }

    @Test func activationsMatchNaiveTwins() {
        for n in awkwardLengths {
            let x = randomArray(n, seed: UInt64(n), scale: 12)
            expectClose(apply(x) { Kernels.exp($0, into: $1, count: $2) }, x.map { Double(NaiveKernels.exp($0)) },
                        rtol: 3e-7, atol: 0, "exp n=\(n)")
            expectClose(apply(x) { Kernels.silu($0, into: $1, count: $2) }, x.map { Double(NaiveKernels.silu($0)) },
                        rtol: 1e-6, atol: 1e-7, "silu n=\(n)")
            expectClose(apply(x) { Kernels.geluTanh($0, into: $1, count: $2) }, x.map { Double(NaiveKernels.geluTanh($0)) },
                        rtol: 1e-6, atol: 1e-7, "gelu n=\(n)")
        }
    }

    /// `dy · f'(x)` for SiLU and GELU-tanh against the Double twins (GELU's in the textbook tanh form), on the
    /// awkward lengths, a wide spread and the far tails where `e^(−x)` overflows.
    /// Criterion: |Δ| ≤ 1e-7 + 2e-6·|ref| (the derivatives are O(1); the floor covers their zero crossings).
    @Test func activationGradientsMatchNaiveTwins() {
        for n in awkwardLengths {
            var x = randomArray(n, seed: UInt64(n) + 100, scale: 12)
            if n >= 17 { x.replaceSubrange(0..<9, with: [-1e4, -200, -90, -87, 0, 87, 90, 200, 1e4]) }
            let dy = randomArray(n, seed: UInt64(n) + 200, scale: 2)
            var dx = [Float](repeating: .nan, count: n)
            x.withUnsafeBufferPointer { px in dy.withUnsafeBufferPointer { pd in dx.withUnsafeMutableBufferPointer { po in
                Kernels.siluBackward(px.baseAddress!, pd.baseAddress!, into: po.baseAddress!, count: n)
            } } }
            expectClose(dx, zip(x, dy).map { NaiveKernels.siluDerivative($0) * Double($1) }, rtol: 2e-6, atol: 1e-7,
                        "silu backward n=\(n)")
            x.withUnsafeBufferPointer { px in dy.withUnsafeBufferPointer { pd in dx.withUnsafeMutableBufferPointer { po in
                Kernels.geluTanhBackward(px.baseAddress!, pd.baseAddress!, into: po.baseAddress!, count: n)
            } } }
            expectClose(dx, zip(x, dy).map { NaiveKernels.geluTanhDerivative($0) * Double($1) }, rtol: 2e-6, atol: 1e-7,
                        "gelu backward n=\(n)")
        }
    }

    @Test func arithmeticMatchesNaiveTwins() {
        for n in awkwardLengths {
            let a = randomArray(n, seed: 1), b = randomArray(n, seed: 2)
            var out = [Float](repeating: 0, count: n)
            a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in out.withUnsafeMutableBufferPointer { po in
                Kernels.add(pa.baseAddress!, pb.baseAddress!, into: po.baseAddress!, count: n)
            } } }
            #expect(out == zip(a, b).map { $0 + $1 }, "add n=\(n)")
            a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in out.withUnsafeMutableBufferPointer { po in
                Kernels.mul(pa.baseAddress!, pb.baseAddress!, into: po.baseAddress!, count: n)
            } } }
            #expect(out == zip(a, b).map { $0 * $1 }, "mul n=\(n)")
            #expect(apply(a) { Kernels.scale($0, by: -1.5, into: $1, count: $2) } == a.map { $0 * -1.5 }, "scale n=\(n)")
            var y = b
            a.withUnsafeBufferPointer { pa in y.withUnsafeMutableBufferPointer { py in
                Kernels.addScaled(pa.baseAddress!, by: 0.25, to: py.baseAddress!, count: n)
            } }
            expectClose(y, zip(a, b).map { Double($1) + 0.25 * Double($0) }, rtol: 1e-7, atol: 1e-7, "addScaled n=\(n)")
        }
    }

    /// Against PyTorch (float64 reference) at edge values: large |x|, overflow and underflow of exp.
    @Test func activationsMatchPyTorch() throws {
        let f = try loadFixture("kernels/activations.json")
        let x = f["x"].floats
        let expRef = f["exp_f64"].doubles
        let e = apply(x) { Kernels.exp($0, into: $1, count: $2) }
        for i in x.indices {
            let ref = expRef[i]
            if ref > Double(Float.greatestFiniteMagnitude) { #expect(e[i] == .infinity, "exp(\(x[i])) = \(e[i]), expected inf") }
            else if ref < Double(Float.leastNormalMagnitude) { #expect(e[i] >= 0 && Double(e[i]) <= Double(Float.leastNormalMagnitude), "exp(\(x[i])) = \(e[i])") }
            else { #expect(abs(Double(e[i]) - ref) <= 3e-7 * ref, "exp(\(x[i])) = \(e[i]), expected \(ref)") }
        }
        // Relative error grows in the far negative tail (e^(−2u) amplifies u's rounding); there the values are
        // below 1e-3, so an absolute floor of 1e-8 keeps the check strict where activations matter.
        let silu = apply(x) { Kernels.silu($0, into: $1, count: $2) }, gelu = apply(x) { Kernels.geluTanh($0, into: $1, count: $2) }
        expectClose(silu, f["silu_f64"].doubles, rtol: 1e-6, atol: 1e-8, "silu vs torch float64")
        expectClose(gelu, f["gelu_tanh_f64"].doubles, rtol: 1e-6, atol: 1e-8, "gelu vs torch float64")
        // PyTorch's own float32 GELU cancels in 1 + tanh(u) for u ≪ 0 (it returns −0 where the value is −1e-7),
        // so against it the floor is its rounding, not ours.
        expectClose(silu, f["silu_f32"].doubles, rtol: 1e-6, atol: 1e-7, "silu vs torch float32")
        expectClose(gelu, f["gelu_tanh_f32"].doubles, rtol: 1e-6, atol: 3e-7, "gelu vs torch float32")
    }

    @Test func expSpecialValues() {
        let x: [Float] = [.nan, .infinity, -.infinity, 0, -0.0, 88.72, 89, -87.3, -104]
        let e = apply(x) { Kernels.exp($0, into: $1, count: $2) }
        #expect(e[0].isNaN)
        #expect(e[1] == .infinity && e[2] == 0 && e[3] == 1 && e[4] == 1)
        #expect(e[5].isFinite && e[5] > 3.3e38, "exp(88.72) = \(e[5])")
        #expect(e[6] == .infinity && e[8] == 0)
        expectClose([e[7]], [exp(Double(Float(-87.3)))], rtol: 3e-7, atol: 0, "exp(-87.3)")
    }
}

@Suite struct SoftmaxAndReductionTests {
    @Test func softmaxMatchesPyTorch() throws {
        let f = try loadFixture("kernels/softmax.json")
        for c in f["cases"].array {
            let rows = c["rows"].int, cols = c["cols"].int
            let x = Tensor(shape: [rows, cols], data: c["x"].floats)
            expectClose(x.softmax().scalars, c["softmax"].doubles, rtol: 2e-6, atol: 1e-9, "softmax \(rows)×\(cols)")
            expectClose(x.logSoftmax().scalars, c["log_softmax"].doubles, rtol: 1e-6, atol: 2e-6, "log_softmax \(rows)×\(cols)")
        }
    }

    @Test func softmaxMatchesNaiveTwin() {
        for (rows, cols) in [(1, 1), (3, 7), (7, 33), (65, 65), (33, 4099)] {
            let x = randomArray(rows * cols, seed: UInt64(cols), scale: 20)
            var fast = [Float](repeating: 0, count: x.count), slow = fast
            x.withUnsafeBufferPointer { px in
                fast.withUnsafeMutableBufferPointer { Kernels.softmaxRows(px.baseAddress!, into: $0.baseAddress!, rows: rows, cols: cols) }
                slow.withUnsafeMutableBufferPointer { NaiveKernels.softmaxRows(px.baseAddress!, into: $0.baseAddress!, rows: rows, cols: cols) }
            }
            expectClose(fast, slow.map(Double.init), rtol: 2e-6, atol: 1e-9, "softmax \(rows)×\(cols)")
            x.withUnsafeBufferPointer { px in
                fast.withUnsafeMutableBufferPointer { Kernels.logSoftmaxRows(px.baseAddress!, into: $0.baseAddress!, rows: rows, cols: cols) }
                slow.withUnsafeMutableBufferPointer { NaiveKernels.logSoftmaxRows(px.baseAddress!, into: $0.baseAddress!, rows: rows, cols: cols) }
            }
            expectClose(fast, slow.map(Double.init), rtol: 1e-6, atol: 2e-6, "log_softmax \(rows)×\(cols)")
        }
    }

    @Test func reductionsMatchNaiveTwins() {
        for n in awkwardLengths + [1 << 20] {
            let a = randomArray(n, seed: UInt64(n) + 5, scale: 3), b = randomArray(n, seed: UInt64(n) + 6)
            let absSum = a.reduce(0.0) { $0 + abs(Double($1)) }
            a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in
                let s = Kernels.sum(pa.baseAddress!, count: n), sRef = NaiveKernels.sum(pa.baseAddress!, count: n)
                #expect(abs(Double(s) - sRef) <= 1e-6 * absSum + 1e-6, "sum n=\(n): \(s) vs \(sRef)")
                let d = Kernels.dot(pa.baseAddress!, pb.baseAddress!, count: n), dRef = NaiveKernels.dot(pa.baseAddress!, pb.baseAddress!, count: n)
                #expect(abs(Double(d) - dRef) <= 1e-6 * absSum + 1e-6, "dot n=\(n): \(d) vs \(dRef)")
                let q = Kernels.sumOfSquares(pa.baseAddress!, count: n), qRef = NaiveKernels.dot(pa.baseAddress!, pa.baseAddress!, count: n)
                #expect(abs(Double(q) - qRef) <= 1e-6 * qRef, "sumOfSquares n=\(n): \(q) vs \(qRef)")
                #expect(Kernels.max(pa.baseAddress!, count: n) == NaiveKernels.max(pa.baseAddress!, count: n), "max n=\(n)")
            } }
        }
        let withNaN: [Float] = [1, 2, .nan, 3]
        withNaN.withUnsafeBufferPointer { #expect(Kernels.max($0.baseAddress!, count: 4).isNaN) }
    }
}

@Suite struct HalfPrecisionTests {
    @Test func roundingMatchesPyTorch() throws {
        let f = try loadFixture("kernels/half_precision.json")
        let bits = f["f32_bits"].array.map { UInt32($0.int) }
        let bf16 = f["bf16_bits"].array.map { UInt16($0.int) }
        let f16 = f["f16_bits"].array.map { UInt16($0.int) }
        let x = bits.map { Float(bitPattern: $0) }
        var outB = [UInt16](repeating: 0, count: x.count), outH = outB
        x.withUnsafeBufferPointer { px in
            outB.withUnsafeMutableBufferPointer { HalfPrecision.floatToBF16(px.baseAddress!, $0.baseAddress!, count: x.count) }
            outH.withUnsafeMutableBufferPointer { HalfPrecision.floatToF16(px.baseAddress!, $0.baseAddress!, count: x.count) }
        }
        for i in x.indices {
            #expect(outB[i] == bf16[i], "bf16(\(x[i]) bits \(String(bits[i], radix: 16))) = \(String(outB[i], radix: 16)), torch \(String(bf16[i], radix: 16))")
            #expect(outH[i] == f16[i], "f16(\(x[i])) = \(String(outH[i], radix: 16)), torch \(String(f16[i], radix: 16))")
        }
        #expect(HalfPrecision.bf16ToFloat(HalfPrecision.floatToBF16(.nan)).isNaN)
        #expect(HalfPrecision.f16ToFloat(HalfPrecision.floatToF16(.nan)).isNaN)
    }

    /// Widening then narrowing gives back every 16-bit pattern that is not NaN (both formats, all 65536 values).
    @Test func everyPatternRoundTrips() {
        let all = (0...UInt16.max).map { $0 }
        var wide = [Float](repeating: 0, count: all.count), back = [UInt16](repeating: 0, count: all.count)
        for (widen, narrow, name) in [(HalfPrecision.bf16ToFloat as (UnsafePointer<UInt16>, UnsafeMutablePointer<Float>, Int) -> Void,
                                       HalfPrecision.floatToBF16 as (UnsafePointer<Float>, UnsafeMutablePointer<UInt16>, Int) -> Void, "bf16"),
                                      (HalfPrecision.f16ToFloat, HalfPrecision.floatToF16, "f16")] {
            all.withUnsafeBufferPointer { pa in wide.withUnsafeMutableBufferPointer { widen(pa.baseAddress!, $0.baseAddress!, all.count) } }
            wide.withUnsafeBufferPointer { pw in back.withUnsafeMutableBufferPointer { narrow(pw.baseAddress!, $0.baseAddress!, all.count) } }
            var failures = 0
            for i in all.indices where !wide[i].isNaN && back[i] != all[i] { failures += 1 }
            #expect(failures == 0, "\(name): \(failures) patterns do not round-trip")
        }
    }
}
