import Layers
import Tensors
import TestSupport
import Testing

/// Linear and LoRA backward: against PyTorch autograd and peft (fixture `layers/dense_backward`, shapes N 7 / 5,
/// I 37, O 11, R 3; tolerances in `Tolerance`), directional checks, frozen buffers and LoRA dropout.
@Suite struct LinearBackwardTests {
    let fx: JSON

    init() throws { fx = try denseBackwardFixture.get() }

    // MARK: - Against PyTorch

    /// Gradient buffers prefilled with random values: backward must add (+=), not overwrite.
    @Test(arguments: ["linear_bias", "linear_nobias"])
    func plainMatchesPyTorch(_ key: String) {
        let c = fx[key]
        let (n, i, o) = (c["n"].int, c["i"].int, c["o"].int)
        let hasBias = c["bias"].array.count > 0
        let lin = Linear(weight: c.tensor("weight", [o, i]), bias: hasBias ? c.tensor("bias", [o]) : nil)
        let (y, saved) = lin.forward(c.tensor("x", [n, i]))
        expectForward(y, c["y"], "\(key) y")
        let w0 = randomTensor([o, i], seed: 1), b0 = randomTensor([o], seed: 2)
        var grads = Linear.Gradients(weight: w0, bias: hasBias ? b0 : nil)
        let dX = lin.backward(c.tensor("dout", [n, o]), saved: saved, into: &grads)
        expectGradient(dX, c["dx"], "\(key) dX")
        expectClose(grads.weight!.scalars, plus(w0.scalars, c["dweight"]), rtol: Tolerance.backward.rtol,
                    atol: Tolerance.backward.atol, "\(key) W + dW")
        if hasBias {
            expectClose(grads.bias!.scalars, plus(b0.scalars, c["dbias"]), rtol: Tolerance.backward.rtol,
                        atol: Tolerance.backward.atol, "\(key) b + db")
        }
    }

    func loraLayer(_ c: JSON, dropout: Float = 0) -> Linear {
        let (i, o, r) = (c["i"].int, c["o"].int, c["r"].int)
        let lora = LoRA(a: c.tensor("lora_a", [r, i]), b: c.tensor("lora_b", [o, r]),
                        scale: Float(c["alpha"].double / Double(r)), dropout: dropout)
        return Linear(weight: c.tensor("weight", [o, i]), bias: c.tensor("bias", [o]), lora: lora)
    }

    /// Linear + LoRA (scale 16/3, no dropout) against autograd of the formula and against a peft `lora.Linear`
    /// (forward, dX, dA, dB; the generator also asserts the two agree).
    @Test func loraMatchesPyTorchAndPEFT() {
        let c = fx["linear_lora"]
        let (n, i, o, r) = (c["n"].int, c["i"].int, c["o"].int, c["r"].int)
        let lin = loraLayer(c)
        let (y, saved) = lin.forward(c.tensor("x", [n, i]))
        expectForward(y, c["y"], "lora y")
        expectForward(y, c["peft"]["y"], "lora y vs peft")
        #expect(saved.loraInput == nil && saved.loraMask == nil && saved.loraHidden?.shape == [n, r])
        var grads = Linear.Gradients(weight: Tensor(zeros: [o, i]), bias: Tensor(zeros: [o]),
                                     loraA: Tensor(zeros: [r, i]), loraB: Tensor(zeros: [o, r]))
        let dX = lin.backward(c.tensor("dout", [n, o]), saved: saved, into: &grads)
        expectGradient(dX, c["dx"], "lora dX")
        expectGradient(grads.weight, c["dweight"], "lora dW")
        expectGradient(grads.bias, c["dbias"], "lora db")
        expectGradient(grads.loraA, c["dlora_a"], "lora dA")
        expectGradient(grads.loraB, c["dlora_b"], "lora dB")
        expectGradient(dX, c["peft"]["dx"], "lora dX vs peft")
        expectGradient(grads.loraA, c["peft"]["dlora_a"], "lora dA vs peft")
        expectGradient(grads.loraB, c["peft"]["dlora_b"], "lora dB vs peft")
    }

    // MARK: - Directional checks

    /// Every gradient of Linear + bias + LoRA (and of a plain Linear) along a random direction, with a
    /// leading batch shape [2, 3, I] to cover the any-leading-shape path.
    @Test(arguments: [false, true])
    func directional(lora withLoRA: Bool) {
        let (i, o, r) = (37, 11, 3)
        let shape = [2, 3]
        let g = randomArray(6 * o, seed: 10)
        let point: [String: [Float]] = [
            "x": randomArray(6 * i, seed: 11), "W": randomArray(o * i, seed: 12, scale: 0.3),
            "b": randomArray(o, seed: 13), "A": randomArray(r * i, seed: 14, scale: 0.3), "B": randomArray(o * r, seed: 15, scale: 0.3),
        ]
        func layer(_ p: [String: [Float]]) -> Linear {
            Linear(weight: Tensor(shape: [o, i], data: p["W"]!), bias: Tensor(shape: [o], data: p["b"]!),
                   lora: withLoRA ? LoRA(a: Tensor(shape: [r, i], data: p["A"]!), b: Tensor(shape: [o, r], data: p["B"]!), scale: 2.5) : nil)
        }
        func input(_ p: [String: [Float]]) -> Tensor { Tensor(shape: shape + [i], data: p["x"]!) }
        let lin = layer(point)
        let (y, saved) = lin.forward(input(point))
        #expect(y.shape == shape + [o])
        var grads = Linear.Gradients(weight: Tensor(zeros: [o, i]), bias: Tensor(zeros: [o]),
                                     loraA: withLoRA ? Tensor(zeros: [r, i]) : nil, loraB: withLoRA ? Tensor(zeros: [o, r]) : nil)
        let dX = lin.backward(Tensor(shape: shape + [o], data: g), saved: saved, into: &grads)!
        #expect(dX.shape == shape + [i])
        var gradients = ["x": dX.scalars, "W": grads.weight!.scalars, "b": grads.bias!.scalars]
        var at = point
        if withLoRA {
            gradients["A"] = grads.loraA!.scalars
            gradients["B"] = grads.loraB!.scalars
        } else {
            at["A"] = nil; at["B"] = nil
        }
        expectDirectionalGradients(at, gradients, seed: 20, "Linear lora=\(withLoRA)") { p in
            var q = point
            for (k, v) in p { q[k] = v }
            return weightedSum(layer(q).forward(input(q)).0, g)
        }
    }

    // MARK: - Frozen buffers

    /// nil buffers stay nil and do not change the rest; `needsInputGradient: false` returns nil and leaves the
    /// parameter gradients as they are with it; a LoRA-only run (the base frozen) gives the same dA, dB.
    @Test func frozenBuffers() {
        let c = fx["linear_lora"]
        let (n, i, o, r) = (c["n"].int, c["i"].int, c["o"].int, c["r"].int)
        let lin = loraLayer(c)
        let (_, saved) = lin.forward(c.tensor("x", [n, i]))
        let dOut = c.tensor("dout", [n, o])
        var full = Linear.Gradients(weight: Tensor(zeros: [o, i]), bias: Tensor(zeros: [o]),
                                    loraA: Tensor(zeros: [r, i]), loraB: Tensor(zeros: [o, r]))
        let dXFull = lin.backward(dOut, saved: saved, into: &full)!

        var none = Linear.Gradients()
        let dXNone = lin.backward(dOut, saved: saved, into: &none)
        #expect(dXNone?.scalars == dXFull.scalars)
        #expect(none.weight == nil && none.bias == nil && none.loraA == nil && none.loraB == nil)

        var noInput = Linear.Gradients(weight: Tensor(zeros: [o, i]), bias: Tensor(zeros: [o]),
                                       loraA: Tensor(zeros: [r, i]), loraB: Tensor(zeros: [o, r]))
        #expect(lin.backward(dOut, saved: saved, into: &noInput, needsInputGradient: false) == nil)
        #expect(noInput.weight!.scalars == full.weight!.scalars && noInput.bias!.scalars == full.bias!.scalars)
        #expect(noInput.loraA!.scalars == full.loraA!.scalars && noInput.loraB!.scalars == full.loraB!.scalars)

        var loraOnly = Linear.Gradients(loraA: Tensor(zeros: [r, i]), loraB: Tensor(zeros: [o, r]))
        #expect(lin.backward(dOut, saved: saved, into: &loraOnly, needsInputGradient: false) == nil)
        #expect(loraOnly.weight == nil && loraOnly.bias == nil)
        #expect(loraOnly.loraA!.scalars == full.loraA!.scalars && loraOnly.loraB!.scalars == full.loraB!.scalars)

        var nothing = Linear.Gradients()
        #expect(lin.backward(dOut, saved: saved, into: &nothing, needsInputGradient: false) == nil)
    }

    // MARK: - LoRA dropout

    /// p = 0 draws nothing and equals the evaluation forward; without an adapter nothing is drawn either.
    @Test func zeroDropoutIsTheEvalForward() {
        let c = fx["linear_lora"]
        let x = c.tensor("x", [c["n"].int, c["i"].int])
        for lin in [loraLayer(c), Linear(weight: c.tensor("weight", [c["o"].int, c["i"].int]))] {
            var rng = RandomGenerator(seed: 5)
            let before = rng.state
            let (yTrain, saved) = lin.forward(x, dropoutRNG: &rng)
            #expect(rng.state == before)
            #expect(yTrain.scalars == lin.forward(x).0.scalars)
            #expect(saved.loraInput == nil && saved.loraMask == nil)
        }
    }

    /// p > 0: one uniform per input element in row-major order, kept when u ≥ p and scaled by 1/(1 − p); the
    /// output is x·Wᵀ + b + scale·(drop(x)·Aᵀ)·Bᵀ; the base path sees the undropped x.
    @Test func dropoutMaskSemantics() {
        let c = fx["linear_lora"]
        let (n, i, o, r) = (c["n"].int, c["i"].int, c["o"].int, c["r"].int)
        let p: Float = 0.3
        let lin = loraLayer(c, dropout: p)
        let x = c.tensor("x", [n, i])
        var rng = RandomGenerator(seed: 9)
        var replay = rng
        let (y, saved) = lin.forward(x, dropoutRNG: &rng)
        let keep = Float(1 / (1 - Double(p)))
        let kept = (0..<(n * i)).map { _ in replay.uniform() >= Double(p) }
        #expect(rng == replay, "the forward drew exactly one uniform per input element")
        #expect(saved.loraMask?.scalars == kept.map { $0 ? keep : 0 })
        let dropped = zip(x.scalars, kept).map { $1 ? $0 * keep : 0 }
        #expect(saved.loraInput?.scalars == dropped)
        let keptCount = kept.filter { $0 }.count
        #expect(keptCount > 0 && keptCount < n * i)
        let plain = Linear(weight: lin.weight, bias: lin.bias).forward(x).0
        let u = Tensor(shape: [n, i], data: dropped).matmul(.normal, lin.lora!.a, .transposed)
        let adapter = (u.matmul(.normal, lin.lora!.b, .transposed) * lin.lora!.scale).scalars
        let expected: [Double] = zip(plain.scalars, adapter).map { Double($0) + Double($1) }
        expectClose(y.scalars, expected, rtol: 1e-5, atol: 1e-6, "dropout forward")
        #expect(saved.loraHidden?.shape == [n, r] && y.shape == [n, o])
    }

    /// With dropout the input gradient goes through the mask, also where x is exactly 0 (where `loraInput`
    /// alone could not tell kept from dropped): dX = dOut·W + ((scale·dOut·B)·A) ⊙ mask/(1 − p).
    @Test func dropoutInputGradientUsesTheMask() {
        let (n, i, o, r) = (5, 37, 11, 3)
        var xs = randomArray(n * i, seed: 30)
        for k in stride(from: 0, to: n * i, by: 3) { xs[k] = 0 }
        let x = Tensor(shape: [n, i], data: xs)
        let lin = Linear(weight: randomTensor([o, i], seed: 31), bias: nil,
                         lora: LoRA(a: randomTensor([r, i], seed: 32), b: randomTensor([o, r], seed: 33), scale: 1.5, dropout: 0.5))
        var rng = RandomGenerator(seed: 34)
        let (_, saved) = lin.forward(x, dropoutRNG: &rng)
        let dOut = randomTensor([n, o], seed: 35)
        var grads = Linear.Gradients(loraA: Tensor(zeros: [r, i]))
        let dX = lin.backward(dOut, saved: saved, into: &grads)!
        let mask = saved.loraMask!.scalars
        #expect(zip(xs, mask).contains { $0 == 0 && $1 != 0 }, "some zero inputs are kept")
        let base = dOut.matmul(.normal, lin.weight).scalars
        let dU = dOut.matmul(.normal, lin.lora!.b) * lin.lora!.scale
        let through = dU.matmul(.normal, lin.lora!.a).scalars
        let expected: [Double] = (0..<(n * i)).map { k in Double(base[k]) + Double(through[k]) * Double(mask[k]) }
        expectClose(dX.scalars, expected, rtol: 1e-5, atol: 1e-6, "dX through the dropout mask")
        let dA = dU.matmul(.transposed, saved.loraInput!).scalars
        expectClose(grads.loraA!.scalars, dA.map(Double.init), rtol: 1e-5, atol: 1e-6, "dA from the dropped input")
    }

    /// The training forward + backward pass the directional check for a fixed dropout seed (the loss redraws the
    /// same mask every time; backward reuses it from Saved).
    @Test func dropoutDirectional() {
        let (n, i, o, r) = (7, 37, 11, 3)
        let g = randomArray(n * o, seed: 40)
        let point: [String: [Float]] = [
            "x": randomArray(n * i, seed: 41), "W": randomArray(o * i, seed: 42, scale: 0.3), "b": randomArray(o, seed: 43),
            "A": randomArray(r * i, seed: 44, scale: 0.3), "B": randomArray(o * r, seed: 45, scale: 0.3),
        ]
        func layer(_ p: [String: [Float]]) -> Linear {
            Linear(weight: Tensor(shape: [o, i], data: p["W"]!), bias: Tensor(shape: [o], data: p["b"]!),
                   lora: LoRA(a: Tensor(shape: [r, i], data: p["A"]!), b: Tensor(shape: [o, r], data: p["B"]!), scale: 2, dropout: 0.25))
        }
        func run(_ p: [String: [Float]]) -> (Tensor, Linear.Saved) {
            var rng = RandomGenerator(seed: 46)
            return layer(p).forward(Tensor(shape: [n, i], data: p["x"]!), dropoutRNG: &rng)
        }
        let (_, saved) = run(point)
        var grads = Linear.Gradients(weight: Tensor(zeros: [o, i]), bias: Tensor(zeros: [o]),
                                     loraA: Tensor(zeros: [r, i]), loraB: Tensor(zeros: [o, r]))
        let dX = layer(point).backward(Tensor(shape: [n, o], data: g), saved: saved, into: &grads)!
        let gradients = ["x": dX.scalars, "W": grads.weight!.scalars, "b": grads.bias!.scalars,
                         "A": grads.loraA!.scalars, "B": grads.loraB!.scalars]
        expectDirectionalGradients(point, gradients, seed: 50, "Linear + LoRA dropout") { p in weightedSum(run(p).0, g) }
    }
}
