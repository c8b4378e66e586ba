import Layers
import Tensors
import TestSupport
import Testing

/// SwiGLU (transformers LlamaMLP, silu) and the GPT-2 MLP (GPT2MLP, gelu_new) backward against PyTorch autograd
/// (fixture `layers/dense_backward`: N 7, C 37, F 23; tolerances in `Tolerance`), directional checks with LoRA
/// dropout on every Linear, the dropout draw order, and frozen buffers.
@Suite struct MLPBackwardTests {
    let fx: JSON

    init() throws { fx = try denseBackwardFixture.get() }

    static func fullGrads(_ l: Linear) -> Linear.Gradients {
        Linear.Gradients(weight: Tensor(zeros: l.weight.shape), bias: l.bias.map { Tensor(zeros: $0.shape) },
                         loraA: l.lora.map { Tensor(zeros: $0.a.shape) }, loraB: l.lora.map { Tensor(zeros: $0.b.shape) })
    }

    // MARK: - Against PyTorch

    @Test func swiGLUMatchesPyTorch() {
        let c = fx["swiglu"]
        let (n, d, f) = (c["n"].int, c["c"].int, c["f"].int)
        let mlp = SwiGLU(gate: Linear(weight: c.tensor("gate", [f, d])), up: Linear(weight: c.tensor("up", [f, d])),
                         down: Linear(weight: c.tensor("down", [d, f])))
        let (y, saved) = mlp.forward(c.tensor("x", [n, d]))
        expectForward(y, c["y"], "swiglu y")
        var grads = SwiGLU.Gradients(gate: Self.fullGrads(mlp.gate), up: Self.fullGrads(mlp.up), down: Self.fullGrads(mlp.down))
        let dX = mlp.backward(c.tensor("dout", [n, d]), saved: saved, into: &grads)
        expectGradient(dX, c["dx"], "swiglu dX")
        expectGradient(grads.gate.weight, c["dgate"], "swiglu dGate")
        expectGradient(grads.up.weight, c["dup"], "swiglu dUp")
        expectGradient(grads.down.weight, c["ddown"], "swiglu dDown")
    }

    @Test func geluMLPMatchesPyTorch() {
        let c = fx["gelu_mlp"]
        let (n, d, f) = (c["n"].int, c["c"].int, c["f"].int)
        let mlp = GELUMLP(fc: Linear(weight: c.tensor("fc", [f, d]), bias: c.tensor("fc_bias", [f])),
                          proj: Linear(weight: c.tensor("proj", [d, f]), bias: c.tensor("proj_bias", [d])))
        let (y, saved) = mlp.forward(c.tensor("x", [n, d]))
        expectForward(y, c["y"], "gelu mlp y")
        var grads = GELUMLP.Gradients(fc: Self.fullGrads(mlp.fc), proj: Self.fullGrads(mlp.proj))
        let dX = mlp.backward(c.tensor("dout", [n, d]), saved: saved, into: &grads)
        expectGradient(dX, c["dx"], "gelu mlp dX")
        expectGradient(grads.fc.weight, c["dfc"], "gelu mlp dFC")
        expectGradient(grads.fc.bias, c["dfc_bias"], "gelu mlp dFC bias")
        expectGradient(grads.proj.weight, c["dproj"], "gelu mlp dProj")
        expectGradient(grads.proj.bias, c["dproj_bias"], "gelu mlp dProj bias")
    }

    // MARK: - Directional checks with LoRA dropout

    static let (n, d, f, r) = (7, 37, 23, 3)

    /// A Linear [o, i] with bias and a LoRA adapter (dropout 0.2) from the values named `prefix.*` in `p`.
    static func linear(_ p: [String: [Float]], _ prefix: String, _ o: Int, _ i: Int) -> Linear {
        Linear(weight: Tensor(shape: [o, i], data: p[prefix + ".W"]!), bias: Tensor(shape: [o], data: p[prefix + ".b"]!),
               lora: LoRA(a: Tensor(shape: [r, i], data: p[prefix + ".A"]!), b: Tensor(shape: [o, r], data: p[prefix + ".B"]!),
                          scale: 1.5, dropout: 0.2))
    }

    static func parameters(_ prefix: String, _ o: Int, _ i: Int, seed: UInt64) -> [String: [Float]] {
        [prefix + ".W": randomArray(o * i, seed: seed, scale: 0.4), prefix + ".b": randomArray(o, seed: seed + 1, scale: 0.2),
         prefix + ".A": randomArray(r * i, seed: seed + 2, scale: 0.4), prefix + ".B": randomArray(o * r, seed: seed + 3, scale: 0.4)]
    }

    static func named(_ prefix: String, _ g: Linear.Gradients) -> [String: [Float]] {
        [prefix + ".W": g.weight!.scalars, prefix + ".b": g.bias!.scalars, prefix + ".A": g.loraA!.scalars, prefix + ".B": g.loraB!.scalars]
    }

    @Test func swiGLUDirectionalWithLoRADropout() {
        let (n, d, f) = (Self.n, Self.d, Self.f)
        var point = ["x": randomArray(n * d, seed: 60, scale: 1.5)]
        point.merge(Self.parameters("gate", f, d, seed: 61)) { a, _ in a }
        point.merge(Self.parameters("up", f, d, seed: 65)) { a, _ in a }
        point.merge(Self.parameters("down", d, f, seed: 69)) { a, _ in a }
        let g = randomArray(n * d, seed: 73)
        func mlp(_ p: [String: [Float]]) -> SwiGLU {
            SwiGLU(gate: Self.linear(p, "gate", f, d), up: Self.linear(p, "up", f, d), down: Self.linear(p, "down", d, f))
        }
        func run(_ p: [String: [Float]]) -> (Tensor, SwiGLU.Saved) {
            var rng = RandomGenerator(seed: 74)
            return mlp(p).forward(Tensor(shape: [n, d], data: p["x"]!), dropoutRNG: &rng)
        }
        let m = mlp(point)
        var grads = SwiGLU.Gradients(gate: Self.fullGrads(m.gate), up: Self.fullGrads(m.up), down: Self.fullGrads(m.down))
        let dX = m.backward(Tensor(shape: [n, d], data: g), saved: run(point).1, into: &grads)!
        var gradients = ["x": dX.scalars]
        for (k, v) in [("gate", grads.gate), ("up", grads.up), ("down", grads.down)] {
            gradients.merge(Self.named(k, v)) { a, _ in a }
        }
        expectDirectionalGradients(point, gradients, seed: 80, epsilon: 3e-3, "swiglu + lora dropout") { p in
            weightedSum(run(p).0, g)
        }
    }

    @Test func geluMLPDirectionalWithLoRADropout() {
        let (n, d, f) = (Self.n, Self.d, Self.f)
        var point = ["x": randomArray(n * d, seed: 90, scale: 1.5)]
        point.merge(Self.parameters("fc", f, d, seed: 91)) { a, _ in a }
        point.merge(Self.parameters("proj", d, f, seed: 95)) { a, _ in a }
        let g = randomArray(n * d, seed: 99)
        func mlp(_ p: [String: [Float]]) -> GELUMLP { GELUMLP(fc: Self.linear(p, "fc", f, d), proj: Self.linear(p, "proj", d, f)) }
        func run(_ p: [String: [Float]]) -> (Tensor, GELUMLP.Saved) {
            var rng = RandomGenerator(seed: 100)
            return mlp(p).forward(Tensor(shape: [n, d], data: p["x"]!), dropoutRNG: &rng)
        }
        let m = mlp(point)
        var grads = GELUMLP.Gradients(fc: Self.fullGrads(m.fc), proj: Self.fullGrads(m.proj))
        let dX = m.backward(Tensor(shape: [n, d], data: g), saved: run(point).1, into: &grads)!
        var gradients = ["x": dX.scalars]
        gradients.merge(Self.named("fc", grads.fc)) { a, _ in a }
        gradients.merge(Self.named("proj", grads.proj)) { a, _ in a }
        expectDirectionalGradients(point, gradients, seed: 110, epsilon: 3e-3, "gelu mlp + lora dropout") { p in
            weightedSum(run(p).0, g)
        }
    }

    // MARK: - Dropout order and frozen buffers

    /// Masks are drawn gate, up, down (fc, proj): the MLP equals its Linears run in that order on one generator.
    @Test func dropoutMasksAreDrawnInForwardOrder() {
        let (n, d, f) = (Self.n, Self.d, Self.f)
        var p = ["x": randomArray(n * d, seed: 120)]
        for (k, o, i, s) in [("gate", f, d, 121), ("up", f, d, 125), ("down", d, f, 129), ("fc", f, d, 133), ("proj", d, f, 137)] {
            p.merge(Self.parameters(k, o, i, seed: UInt64(s))) { a, _ in a }
        }
        let x = Tensor(shape: [n, d], data: p["x"]!)
        let swiglu = SwiGLU(gate: Self.linear(p, "gate", f, d), up: Self.linear(p, "up", f, d), down: Self.linear(p, "down", d, f))
        var rng = RandomGenerator(seed: 140), manual = rng
        let (y, saved) = swiglu.forward(x, dropoutRNG: &rng)
        let (gOut, gs) = swiglu.gate.forward(x, dropoutRNG: &manual)
        let (uOut, us) = swiglu.up.forward(x, dropoutRNG: &manual)
        let (yManual, ds) = swiglu.down.forward(gOut.silu() * uOut, dropoutRNG: &manual)
        #expect(rng == manual)
        #expect(y.scalars == yManual.scalars)
        #expect(saved.gate.loraMask?.scalars == gs.loraMask?.scalars && saved.up.loraMask?.scalars == us.loraMask?.scalars
                && saved.down.loraMask?.scalars == ds.loraMask?.scalars)
        #expect(gs.loraMask?.scalars != us.loraMask?.scalars, "gate and up draw different masks")

        let gelu = GELUMLP(fc: Self.linear(p, "fc", f, d), proj: Self.linear(p, "proj", d, f))
        let (y2, _) = gelu.forward(x, dropoutRNG: &rng)
        let (h, _) = gelu.fc.forward(x, dropoutRNG: &manual)
        let (y2Manual, _) = gelu.proj.forward(h.geluTanh(), dropoutRNG: &manual)
        #expect(rng == manual)
        #expect(y2.scalars == y2Manual.scalars)
    }

    /// `needsInputGradient: false` returns nil with the same parameter gradients; all-nil buffers stay nil and
    /// give the same dX.
    @Test func frozenBuffers() {
        let c = fx["swiglu"]
        let (n, d, f) = (c["n"].int, c["c"].int, c["f"].int)
        let mlp = SwiGLU(gate: Linear(weight: c.tensor("gate", [f, d])), up: Linear(weight: c.tensor("up", [f, d])),
                         down: Linear(weight: c.tensor("down", [d, f])))
        let (_, saved) = mlp.forward(c.tensor("x", [n, d]))
        let dOut = c.tensor("dout", [n, d])
        var full = SwiGLU.Gradients(gate: Self.fullGrads(mlp.gate), up: Self.fullGrads(mlp.up), down: Self.fullGrads(mlp.down))
        let dX = mlp.backward(dOut, saved: saved, into: &full)!
        var noInput = SwiGLU.Gradients(gate: Self.fullGrads(mlp.gate), up: Self.fullGrads(mlp.up), down: Self.fullGrads(mlp.down))
        #expect(mlp.backward(dOut, saved: saved, into: &noInput, needsInputGradient: false) == nil)
        #expect(noInput.gate.weight!.scalars == full.gate.weight!.scalars && noInput.up.weight!.scalars == full.up.weight!.scalars
                && noInput.down.weight!.scalars == full.down.weight!.scalars)
        var none = SwiGLU.Gradients()
        #expect(mlp.backward(dOut, saved: saved, into: &none)?.scalars == dX.scalars)
        #expect(none.gate.weight == nil && none.up.weight == nil && none.down.weight == nil)

        let g = fx["gelu_mlp"]
        let gelu = GELUMLP(fc: Linear(weight: g.tensor("fc", [f, d]), bias: g.tensor("fc_bias", [f])),
                           proj: Linear(weight: g.tensor("proj", [d, f]), bias: g.tensor("proj_bias", [d])))
        let (_, gsaved) = gelu.forward(g.tensor("x", [n, d]))
        var gfull = GELUMLP.Gradients(fc: Self.fullGrads(gelu.fc), proj: Self.fullGrads(gelu.proj))
        let gdX = gelu.backward(g.tensor("dout", [n, d]), saved: gsaved, into: &gfull)!
        var gNoInput = GELUMLP.Gradients(fc: Self.fullGrads(gelu.fc), proj: Self.fullGrads(gelu.proj))
        #expect(gelu.backward(g.tensor("dout", [n, d]), saved: gsaved, into: &gNoInput, needsInputGradient: false) == nil)
        #expect(gNoInput.fc.weight!.scalars == gfull.fc.weight!.scalars && gNoInput.fc.bias!.scalars == gfull.fc.bias!.scalars)
        var gNone = GELUMLP.Gradients()
        #expect(gelu.backward(g.tensor("dout", [n, d]), saved: gsaved, into: &gNone)?.scalars == gdX.scalars)
        #expect(gNone.fc.weight == nil && gNone.proj.bias == nil)
    }
}
