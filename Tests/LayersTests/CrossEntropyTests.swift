import Foundation
import Layers
import Tensors
import TestSupport
import Testing

/// Softmax cross-entropy with ignored rows against `F.cross_entropy(..., ignore_index=-100, reduction="sum")`
/// (fixture `layers/dense_backward` → `cross_entropy`: N 9, V 29, three ignored rows, one sharply peaked row).
/// Criteria: loss sum |Δ| ≤ 1e-9 + 1e-6·|ref| against PyTorch in float64 (our sum is Double over Float logits),
/// 1e-5 relative against PyTorch's float32; dLogits |Δ| ≤ 1e-7 + 1e-5·|ref|; ignored rows exactly 0.
@Suite struct CrossEntropyTests {
    let fx: JSON

    init() throws { fx = try denseBackwardFixture.get() }

    @Test func matchesPyTorch() {
        let c = fx["cross_entropy"]
        let (n, v) = (c["n"].int, c["v"].int)
        let targets = c["targets"].array.map { Int32($0.int) }
        let (loss, count, saved) = SoftmaxCrossEntropy.forward(logits: c.tensor("logits", [n, v]), targets: targets)
        #expect(count == c["count"].int)
        let ref64 = c["loss_sum_f64"].double, ref32 = c["loss_sum"].double
        #expect(abs(loss - ref64) <= 1e-9 + 1e-6 * abs(ref64), "loss sum \(loss), PyTorch float64 \(ref64)")
        #expect(abs(loss - ref32) <= 1e-5 * abs(ref32), "loss sum \(loss), PyTorch float32 \(ref32)")
        let grad = SoftmaxCrossEntropy.backward(saved: saved, scale: Float(c["scale"].double))
        expectClose(grad.scalars, c["dlogits"].doubles, rtol: 1e-5, atol: 1e-7, "dLogits")
        for (row, t) in targets.enumerated() where t == -1 {
            #expect(grad.scalars[(row * v)..<((row + 1) * v)].allSatisfy { $0 == 0 }, "ignored row \(row) has a gradient")
        }
    }

    /// d(scale·lossSum)/dlogits along a random direction (ignored rows included: their gradient must be 0).
    @Test func directional() {
        let (n, v) = (6, 29)
        let targets: [Int32] = [3, -1, 28, 0, -1, 17]
        let logits = randomArray(n * v, seed: 1, scale: 3)
        let scale: Float = 0.125
        let (_, _, saved) = SoftmaxCrossEntropy.forward(logits: Tensor(shape: [n, v], data: logits), targets: targets)
        let grad = SoftmaxCrossEntropy.backward(saved: saved, scale: scale)
        expectDirectionalGradient(at: logits, gradient: grad.scalars, seed: 2, epsilon: 1e-3, "cross-entropy d/dlogits") { p in
            Double(scale) * SoftmaxCrossEntropy.forward(logits: Tensor(shape: [n, v], data: p), targets: targets).lossSum
        }
    }

    /// Many rows over several parallel chunks and a wide vocabulary: the loss equals a Double log-sum-exp written
    /// out here, and the gradient rows equal scale·(softmax − onehot) in Double.
    @Test func wideRowsMatchDoubleReference() {
        let (n, v) = (64, 1000)
        let logits = randomArray(n * v, seed: 3, scale: 8)
        let targets = (0..<n).map { Int32($0 % 5 == 0 ? -1 : ($0 * 37) % v) }
        let (loss, count, saved) = SoftmaxCrossEntropy.forward(logits: Tensor(shape: [n, v], data: logits), targets: targets)
        let grad = SoftmaxCrossEntropy.backward(saved: saved, scale: 0.5).scalars
        var expectedLoss = 0.0
        var expectedGrad = [Double](repeating: 0, count: n * v)
        for r in 0..<n where targets[r] != -1 {
            let row = logits[(r * v)..<((r + 1) * v)].map(Double.init)
            let m = row.max()!
            let s = row.reduce(0) { $0 + exp($1 - m) }
            expectedLoss += log(s) - (row[Int(targets[r])] - m)
            for j in 0..<v { expectedGrad[r * v + j] = 0.5 * (exp(row[j] - m) / s - (j == Int(targets[r]) ? 1 : 0)) }
        }
        #expect(count == targets.filter { $0 != -1 }.count)
        #expect(abs(loss - expectedLoss) <= 1e-6 * expectedLoss, "loss \(loss), expected \(expectedLoss)")
        expectClose(grad, expectedGrad, rtol: 1e-5, atol: 1e-8, "wide dLogits")
    }

    /// Logits 1e4 apart: finite loss (no overflow of e^x), probabilities 0/1, gradient scale·(p − onehot).
    @Test func extremeLogitsStayFinite() {
        let logits = Tensor(shape: [2, 3], data: [0, 1e4, -1e4, 5e3, 5e3, -1e4])
        let (loss, count, saved) = SoftmaxCrossEntropy.forward(logits: logits, targets: [0, 1])
        #expect(count == 2)
        #expect(abs(loss - (1e4 + log(2.0))) <= 1e-6 * 1e4, "loss \(loss)")
        #expect(saved.probabilities.scalars == [0, 1, 0, 0.5, 0.5, 0])
        let grad = SoftmaxCrossEntropy.backward(saved: saved, scale: 2).scalars
        #expect(grad == [-2, 2, 0, 1, -1, 0])
    }

    @Test func allIgnored() {
        let (loss, count, saved) = SoftmaxCrossEntropy.forward(logits: randomTensor([3, 5], seed: 4), targets: [-1, -1, -1])
        #expect(loss == 0 && count == 0)
        #expect(SoftmaxCrossEntropy.backward(saved: saved, scale: 1).scalars.allSatisfy { $0 == 0 })
    }

    /// Backward writes into the probabilities' storage when it holds the only reference.
    @Test func backwardReusesTheProbabilitiesStorage() {
        let (_, _, saved) = SoftmaxCrossEntropy.forward(logits: randomTensor([4, 7], seed: 5), targets: [1, 2, -1, 6])
        let storage = saved.probabilities.storage.pointer
        let grad = SoftmaxCrossEntropy.backward(saved: consume saved, scale: 1)
        #expect(grad.storage.pointer == storage)
    }
}
