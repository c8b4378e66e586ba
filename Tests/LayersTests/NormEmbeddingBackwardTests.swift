import Layers
import Tensors
import TestSupport
import Testing

/// Embedding, RMSNorm and LayerNorm backward: against PyTorch autograd (fixture `layers/dense_backward`: V 29,
/// C 37, N 7, eps 1e-5; tolerances in `Tolerance`), directional checks, frozen buffers, and shapes large enough
/// for several row chunks / column blocks against Double sums written out here.
@Suite struct NormEmbeddingBackwardTests {
    let fx: JSON

    init() throws { fx = try denseBackwardFixture.get() }

    // MARK: - Embedding

    /// Repeated ids accumulate; the buffer is prefilled, so backward must add.
    @Test func embeddingMatchesPyTorch() {
        let c = fx["embedding"]
        let (v, d) = (c["v"].int, c["c"].int)
        let ids = c["ids"].array.map(\.int)
        let emb = Embedding(weight: c.tensor("weight", [v, d]))
        let (y, saved) = emb.forward(ids)
        expectForward(y, c["y"], "embedding y")
        let g0 = randomTensor([v, d], seed: 1)
        var grad = g0
        emb.backward(c.tensor("dout", [ids.count, d]), saved: saved, into: &grad)
        expectClose(grad.scalars, plus(g0.scalars, c["dweight"]), rtol: Tolerance.backward.rtol,
                    atol: Tolerance.backward.atol, "embedding W + dW")
    }

    @Test func embeddingDirectional() {
        let (v, d) = (29, 37)
        let ids = [3, 17, 3, 0, 28, 17, 3, 9]
        let g = randomArray(ids.count * d, seed: 2)
        let w = randomArray(v * d, seed: 3)
        let emb = Embedding(weight: Tensor(shape: [v, d], data: w))
        var grad = Tensor(zeros: [v, d])
        emb.backward(Tensor(shape: [ids.count, d], data: g), saved: emb.forward(ids).1, into: &grad)
        expectDirectionalGradient(at: w, gradient: grad.scalars, seed: 4, "embedding d/dW") { p in
            weightedSum(Embedding(weight: Tensor(shape: [v, d], data: p)).forward(ids).0, g)
        }
    }

    /// Many rows and 33 column blocks (split over the pool): equal to a scalar scatter-add in row order.
    @Test func embeddingColumnBlocksMatchScalarScatter() {
        let (v, d, n) = (50, 520, 300)
        let ids = (0..<n).map { ($0 * 7919) % v }
        let dOut = randomArray(n * d, seed: 5)
        let emb = Embedding(weight: Tensor(zeros: [v, d]))
        var grad = Tensor(zeros: [v, d])
        emb.backward(Tensor(shape: [n, d], data: dOut), saved: emb.forward(ids).1, into: &grad)
        var expected = [Float](repeating: 0, count: v * d)
        for (row, id) in ids.enumerated() { for j in 0..<d { expected[id * d + j] += dOut[row * d + j] } }
        #expect(grad.scalars == expected)
    }

    // MARK: - RMSNorm

    @Test func rmsNormMatchesPyTorch() {
        let c = fx["rmsnorm"]
        let (n, d) = (c["n"].int, c["c"].int)
        let norm = RMSNorm(weight: c.tensor("weight", [d]), eps: c["eps"].double)
        let (y, saved) = norm.forward(c.tensor("x", [n, d]))
        expectForward(y, c["y"], "rmsnorm y")
        let w0 = randomTensor([d], seed: 6)
        var grads = RMSNorm.Gradients(weight: w0)
        let dX = norm.backward(c.tensor("dout", [n, d]), saved: saved, into: &grads)
        expectGradient(dX, c["dx"], "rmsnorm dX")
        expectClose(grads.weight!.scalars, plus(w0.scalars, c["dweight"]), rtol: Tolerance.backward.rtol,
                    atol: Tolerance.backward.atol, "rmsnorm w + dw")
        var frozen = RMSNorm.Gradients()
        #expect(norm.backward(c.tensor("dout", [n, d]), saved: saved, into: &frozen).scalars == dX.scalars)
        #expect(frozen.weight == nil)
    }

    /// At N 7 (one chunk) and N 200 × C 520 (four row chunks of partial weight sums).
    @Test(arguments: [(7, 37), (200, 520)])
    func rmsNormDirectional(_ shape: (Int, Int)) {
        let (n, d) = shape
        let g = randomArray(n * d, seed: 7)
        let point = ["x": randomArray(n * d, seed: 8, scale: 2), "w": randomArray(d, seed: 9).map { 1 + 0.2 * $0 }]
        func run(_ p: [String: [Float]]) -> (Tensor, RMSNorm.Saved) {
            RMSNorm(weight: Tensor(shape: [d], data: p["w"]!), eps: 1e-5).forward(Tensor(shape: [n, d], data: p["x"]!))
        }
        var grads = RMSNorm.Gradients(weight: Tensor(zeros: [d]))
        let dX = RMSNorm(weight: Tensor(shape: [d], data: point["w"]!), eps: 1e-5)
            .backward(Tensor(shape: [n, d], data: g), saved: run(point).1, into: &grads)
        expectDirectionalGradients(point, ["x": dX.scalars, "w": grads.weight!.scalars], seed: 10, epsilon: 1e-3,
                                   "rmsnorm \(n)×\(d)") { p in weightedSum(run(p).0, g) }
    }

    /// The chunked weight gradient equals Σ_rows dOut ⊙ x·rstd summed in Double.
    @Test func rmsNormWeightGradientOverChunks() {
        let (n, d) = (200, 520)
        let x = randomArray(n * d, seed: 11), g = randomArray(n * d, seed: 12)
        let norm = RMSNorm(weight: randomTensor([d], seed: 13), eps: 1e-5)
        let (_, saved) = norm.forward(Tensor(shape: [n, d], data: x))
        var grads = RMSNorm.Gradients(weight: Tensor(zeros: [d]))
        _ = norm.backward(Tensor(shape: [n, d], data: g), saved: saved, into: &grads)
        var expected = [Double](repeating: 0, count: d)
        for r in 0..<n {
            var ss = 0.0
            for j in 0..<d { ss += Double(x[r * d + j]) * Double(x[r * d + j]) }
            let s = 1 / (ss / Double(d) + 1e-5).squareRoot()
            for j in 0..<d { expected[j] += Double(g[r * d + j]) * Double(x[r * d + j]) * s }
        }
        expectClose(grads.weight!.scalars, expected, rtol: 1e-5, atol: 1e-5, "rmsnorm dw over chunks")
    }

    // MARK: - LayerNorm

    @Test func layerNormMatchesPyTorch() {
        let c = fx["layernorm"]
        let (n, d) = (c["n"].int, c["c"].int)
        let norm = LayerNorm(weight: c.tensor("weight", [d]), bias: c.tensor("bias", [d]), eps: c["eps"].double)
        let (y, saved) = norm.forward(c.tensor("x", [n, d]))
        expectForward(y, c["y"], "layernorm y")
        let w0 = randomTensor([d], seed: 14), b0 = randomTensor([d], seed: 15)
        var grads = LayerNorm.Gradients(weight: w0, bias: b0)
        let dX = norm.backward(c.tensor("dout", [n, d]), saved: saved, into: &grads)
        expectGradient(dX, c["dx"], "layernorm dX")
        expectClose(grads.weight!.scalars, plus(w0.scalars, c["dweight"]), rtol: Tolerance.backward.rtol,
                    atol: Tolerance.backward.atol, "layernorm w + dw")
        expectClose(grads.bias!.scalars, plus(b0.scalars, c["dbias"]), rtol: Tolerance.backward.rtol,
                    atol: Tolerance.backward.atol, "layernorm b + db")
        var onlyBias = LayerNorm.Gradients(bias: Tensor(zeros: [d]))
        #expect(norm.backward(c.tensor("dout", [n, d]), saved: saved, into: &onlyBias).scalars == dX.scalars)
        #expect(onlyBias.weight == nil)
        expectGradient(onlyBias.bias, c["dbias"], "layernorm db alone")
    }

    @Test(arguments: [(7, 37), (200, 520)])
    func layerNormDirectional(_ shape: (Int, Int)) {
        let (n, d) = shape
        let g = randomArray(n * d, seed: 16)
        let point = ["x": randomArray(n * d, seed: 17, scale: 2).map { $0 + 0.7 },
                     "w": randomArray(d, seed: 18).map { 1 + 0.2 * $0 }, "b": randomArray(d, seed: 19, scale: 0.1)]
        func layer(_ p: [String: [Float]]) -> LayerNorm {
            LayerNorm(weight: Tensor(shape: [d], data: p["w"]!), bias: Tensor(shape: [d], data: p["b"]!), eps: 1e-5)
        }
        let (_, saved) = layer(point).forward(Tensor(shape: [n, d], data: point["x"]!))
        var grads = LayerNorm.Gradients(weight: Tensor(zeros: [d]), bias: Tensor(zeros: [d]))
        let dX = layer(point).backward(Tensor(shape: [n, d], data: g), saved: saved, into: &grads)
        expectDirectionalGradients(point, ["x": dX.scalars, "w": grads.weight!.scalars, "b": grads.bias!.scalars],
                                   seed: 20, epsilon: 1e-3, "layernorm \(n)×\(d)") { p in
            weightedSum(layer(p).forward(Tensor(shape: [n, d], data: p["x"]!)).0, g)
        }
    }
}
