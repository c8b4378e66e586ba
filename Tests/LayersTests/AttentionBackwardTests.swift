import Layers
import Tensors
import TestSupport
import Testing

/// The training attention (`CausalAttention.forward(queries:keys:values:scale:segmentStarts:)` and `backward`).
@Suite struct AttentionBackwardTests {
    /// q [B, T, H, D], k and v [B, T, K, D], an upstream gradient [B, T, H·D] and segment starts [B·T].
    struct Case {
        let b: Int, t: Int, h: Int, kh: Int, d: Int
        var q: [Float], k: [Float], v: [Float]
        let dOut: [Float]
        let starts: [Int32]
        var scale: Float { 1 / Float(d).squareRoot() }
        var qShape: [Int] { [b, t, h, d] }
        var kvShape: [Int] { [b, t, kh, d] }

        /// Values in [-1, 1) (scores of moderate size, so gradients are not so small that a Float32 central
        /// difference drowns them); `documents[b]` lists the lengths of the documents packed into batch row b.
        init(b: Int, t: Int, h: Int, kh: Int, d: Int, documents: [[Int]], seed: UInt64) {
            (self.b, self.t, self.h, self.kh, self.d) = (b, t, h, kh, d)
            q = randomArray(b * t * h * d, seed: seed)
            k = randomArray(b * t * kh * d, seed: seed + 1)
            v = randomArray(b * t * kh * d, seed: seed + 2)
            dOut = randomArray(b * t * h * d, seed: seed + 3)
            starts = documents.flatMap { AttentionBackwardTests.segmentStarts($0) }
            precondition(starts.count == b * t)
        }

        init(fixture c: JSON) {
            (b, t, h, kh, d) = (c["b"].int, c["t"].int, c["h"].int, c["kh"].int, c["d"].int)
            q = c["q"].floats; k = c["k"].floats; v = c["v"].floats; dOut = c["dout"].floats
            starts = c["segment_starts"].array.map { Int32($0.int) }
        }

        func forward(q: [Float]? = nil, k: [Float]? = nil, v: [Float]? = nil) -> (Tensor, CausalAttention.TrainingSaved) {
            CausalAttention.forward(queries: Tensor(shape: qShape, data: q ?? self.q),
                                    keys: Tensor(shape: kvShape, data: k ?? self.k),
                                    values: Tensor(shape: kvShape, data: v ?? self.v), scale: scale, segmentStarts: starts)
        }

        func backward() -> (out: Tensor, dq: Tensor, dk: Tensor, dv: Tensor) {
            let (out, saved) = forward()
            let (dq, dk, dv) = CausalAttention.backward(Tensor(shape: [b, t, h * d], data: dOut), saved: saved, scale: scale)
            return (out, dq, dk, dv)
        }
    }

    static func segmentStarts(_ lengths: [Int]) -> [Int32] {
        var starts: [Int32] = [], at = 0
        for n in lengths { starts += Array(repeating: Int32(at), count: n); at += n }
        return starts
    }

    // MARK: - Against PyTorch

    /// Fixture `layers/attention` (Tests/Reference/gen_layers_attention.py): B 2, T 7, H 6, D 5 with K 2 and K 3,
    /// plain causal and packed (rows of 3+4, 2+1+4 documents), and B 1, T 130, H 2, K 1, D 3 with documents of
    /// 50+40+40 crossing the 64-row blocks; torch SDPA with the boolean block-diagonal causal mask and repeat_kv
    /// in float64, gradients by autograd from a random dOut.
    /// Criteria per element: output |Δ| ≤ 1e-6 + 1e-5·|ref|; dQ, dK, dV |Δ| ≤ 2e-6 + 1e-4·|ref| (observed: at most
    /// 4e-7 and 7e-7 absolute on values of order 1).
    @Test func matchesPyTorch() throws {
        let cases = try loadFixture("layers/attention.json")["cases"].array
        #expect(cases.count == 5)
        for c in cases {
            let name = c["name"].string
            let x = Case(fixture: c)
            let (out, dq, dk, dv) = x.backward()
            #expect(out.shape == [x.b, x.t, x.h * x.d] && dq.shape == x.qShape && dk.shape == x.kvShape && dv.shape == x.kvShape)
            expectClose(out.scalars, c["out"].doubles, rtol: 1e-5, atol: 1e-6, "\(name) output")
            expectClose(dq.scalars, c["dq"].doubles, rtol: 1e-4, atol: 2e-6, "\(name) dQ")
            expectClose(dk.scalars, c["dk"].doubles, rtol: 1e-4, atol: 2e-6, "\(name) dK")
            expectClose(dv.scalars, c["dv"].doubles, rtol: 1e-4, atol: 2e-6, "\(name) dV")
        }
    }

    /// Saved probabilities [B, H, T, T]: exactly 0 outside each row's document prefix, rows summing to 1.
    @Test func probabilitiesAreMaskedExactly() {
        let x = Case(b: 2, t: 75, h: 3, kh: 1, d: 4, documents: [[10, 60, 5], [75]], seed: 70)
        let (_, saved) = x.forward()
        let probabilities = CausalAttention.probabilities(saved, scale: x.scale)
        #expect(probabilities.shape == [x.b, x.h, x.t, x.t])
        let p = probabilities.scalars
        for bi in 0..<x.b { for hi in 0..<x.h { for ti in 0..<x.t {
            let row = ((bi * x.h + hi) * x.t + ti) * x.t, s = Int(x.starts[bi * x.t + ti])
            var sum = 0.0, leaked = 0
            for j in 0..<x.t {
                if j < s || j > ti { if p[row + j] != 0 { leaked += 1 } } else { sum += Double(p[row + j]) }
            }
            #expect(leaked == 0, "b \(bi) h \(hi) t \(ti): \(leaked) masked probabilities are not 0")
            #expect(abs(sum - 1) < 1e-5, "b \(bi) h \(hi) t \(ti): visible probabilities sum to \(sum)")
        } } }
    }

    // MARK: - Directional checks

    /// Σ grad ⊙ dir against the central difference of Σ out ⊙ G (Double) for dQ, dK and dV: on a fixture-sized
    /// packed GQA case and on T 150 with documents crossing the 64-row blocks (K 2 of H 4). Criterion: the
    /// helper's default |Δ| ≤ 1e-4 + 2e-3·|value| (ε 1e-2, Float32 forwards).
    @Test(arguments: [
        (2, 7, 6, 3, 5, [[2, 1, 4], [3, 4]]),
        (2, 150, 4, 2, 8, [[70, 1, 79], [150]]),
    ])
    func directionalGradients(_ b: Int, _ t: Int, _ h: Int, _ kh: Int, _ d: Int, _ documents: [[Int]]) {
        let x = Case(b: b, t: t, h: h, kh: kh, d: d, documents: documents, seed: UInt64(100 + t))
        let (_, dq, dk, dv) = x.backward()
        let what = "B \(b) T \(t) H \(h) K \(kh) D \(d)"
        expectDirectionalGradient(at: x.q, gradient: dq.scalars, seed: 81, "\(what) dQ") { p in
            weightedSum(x.forward(q: p).0, x.dOut)
        }
        expectDirectionalGradient(at: x.k, gradient: dk.scalars, seed: 82, "\(what) dK") { p in
            weightedSum(x.forward(k: p).0, x.dOut)
        }
        expectDirectionalGradient(at: x.v, gradient: dv.scalars, seed: 83, "\(what) dV") { p in
            weightedSum(x.forward(v: p).0, x.dOut)
        }
    }

    // MARK: - Packing and the inference path

    /// Documents packed into one row (segment starts marking them; RoPE, applied by the caller, is not involved)
    /// give the rows — outputs and dQ, dK, dV — of each document run alone.
    /// Criterion: |Δ| ≤ 1e-6 + 1e-5·|alone| (the GEMMs are blocked differently, so sums round differently).
    @Test func packedDocumentsEqualDocumentsAlone() {
        let (h, kh, d) = (4, 2, 8)
        let lengths = [70, 9, 51]
        let packed = Case(b: 1, t: lengths.reduce(0, +), h: h, kh: kh, d: d, documents: [lengths], seed: 90)
        let whole = packed.backward()
        var at = 0
        for (i, n) in lengths.enumerated() {
            func rows(_ values: [Float], width: Int) -> [Float] { Array(values[(at * width)..<((at + n) * width)]) }
            var alone = Case(b: 1, t: n, h: h, kh: kh, d: d, documents: [[n]], seed: 0)
            alone.q = rows(packed.q, width: h * d); alone.k = rows(packed.k, width: kh * d); alone.v = rows(packed.v, width: kh * d)
            let aloneDOut = rows(packed.dOut, width: h * d)
            let (out, saved) = alone.forward()
            let (dq, dk, dv) = CausalAttention.backward(Tensor(shape: [1, n, h * d], data: aloneDOut), saved: saved, scale: alone.scale)
            for (what, mine, ref, width) in [("output", whole.out, out, h * d), ("dQ", whole.dq, dq, h * d),
                                             ("dK", whole.dk, dk, kh * d), ("dV", whole.dv, dv, kh * d)] {
                expectClose(rows(mine.scalars, width: width), ref.scalars.map(Double.init), rtol: 1e-5, atol: 1e-6,
                            "document \(i) (\(n) positions) \(what)")
            }
            at += n
        }
    }

    /// Heads run in parallel and any thread may take any head; a kv head's dK, dV still sum its query heads in
    /// head order. Criterion: five runs of forward and backward are bit for bit equal (3 query heads per kv head,
    /// packed documents, several 64-row blocks).
    @Test func repeatedRunsAreBitIdentical() {
        let c = Case(b: 2, t: 150, h: 9, kh: 3, d: 8, documents: [[150], [40, 70, 40]], seed: 77)
        let first = c.backward()
        for run in 1..<5 {
            let again = c.backward()
            for (what, a, b) in [("output", first.out, again.out), ("dQ", first.dq, again.dq), ("dK", first.dk, again.dk),
                                 ("dV", first.dv, again.dv)] {
                #expect(a.scalars == b.scalars, "run \(run): \(what) differs")
            }
        }
    }

    /// With no segments the training forward equals the cached (inference) forward on an empty cache:
    /// outputs to |Δ| ≤ 1e-6·(1 + |cached|) (same products, blocked differently).
    @Test(arguments: [(2, 100, 6, 2, 8), (1, 1, 2, 1, 4), (3, 5, 4, 4, 3), (1, 64, 3, 3, 16), (1, 65, 2, 1, 5)])
    func equalsCachedForward(_ b: Int, _ t: Int, _ h: Int, _ kh: Int, _ d: Int) {
        let x = Case(b: b, t: t, h: h, kh: kh, d: d, documents: Array(repeating: [t], count: b), seed: UInt64(200 + t))
        let (out, _) = x.forward()
        var cache = KVCache(batch: b, kvHeads: kh, headDim: d, capacity: t)
        let cached = CausalAttention.forward(
            queries: Tensor(shape: x.qShape, data: x.q), keys: Tensor(shape: x.kvShape, data: x.k),
            values: Tensor(shape: x.kvShape, data: x.v), scale: x.scale, cache: &cache)
        let what = "B \(b) T \(t) H \(h) K \(kh) D \(d)"
        expectClose(out.scalars, cached.scalars.map(Double.init), rtol: 1e-6, atol: 1e-6, "\(what) output")
    }

    /// A prefill continued on a filled cache (past 30, then 100 rows: two row blocks, the second partial) gives the
    /// rows of the whole sequence run at once. Criterion as `equalsCachedForward`.
    @Test func continuedPrefillEqualsWholeSequence() {
        let (b, t, h, kh, d, past) = (2, 130, 4, 2, 8, 30)
        let x = Case(b: b, t: t, h: h, kh: kh, d: d, documents: Array(repeating: [t], count: b), seed: 300)
        let (whole, _) = x.forward()
        func rows(_ values: [Float], width: Int, _ range: Range<Int>) -> [Float] {
            (0..<b).flatMap { bi in values[((bi * t + range.lowerBound) * width)..<((bi * t + range.upperBound) * width)] }
        }
        var cache = KVCache(batch: b, kvHeads: kh, headDim: d, capacity: t)
        var outputs: [[Float]] = []
        for range in [0..<past, past..<t] {
            let n = range.count
            outputs.append(CausalAttention.forward(
                queries: Tensor(shape: [b, n, h, d], data: rows(x.q, width: h * d, range)),
                keys: Tensor(shape: [b, n, kh, d], data: rows(x.k, width: kh * d, range)),
                values: Tensor(shape: [b, n, kh, d], data: rows(x.v, width: kh * d, range)), scale: x.scale, cache: &cache).scalars)
        }
        expectClose(outputs[0], rows(whole.scalars, width: h * d, 0..<past).map(Double.init), rtol: 1e-6, atol: 1e-6, "first 30 rows")
        expectClose(outputs[1], rows(whole.scalars, width: h * d, past..<t).map(Double.init), rtol: 1e-6, atol: 1e-6, "rows 30..<130")
    }
}
