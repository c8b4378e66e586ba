import Layers
import Tensors
import TestSupport
import Testing

/// Each layer's forward against PyTorch / transformers on odd shapes (N 5, C 37, F 23; RoPE H 3, T 5, D 10),
/// fixture `layers/forward` from Tests/Reference/gen_models.py.
/// Criterion: per element |Δ| ≤ 1e-6 + 1e-5·|ref|.
@Suite struct LayerTests {
    let fx: JSON
    let n: Int, c: Int, f: Int
    let x: Tensor

    init() throws {
        fx = try loadFixture("layers/forward.json")
        n = fx["n"].int; c = fx["c"].int; f = fx["f"].int
        x = Tensor(shape: [n, c], data: fx["x"].floats)
    }

    func check(_ y: Tensor, _ key: String) {
        expectClose(y.scalars, fx[key]["y"].doubles, rtol: 1e-5, atol: 1e-6, key)
    }

    @Test func rmsNorm() {
        let norm = RMSNorm(weight: Tensor(shape: [c], data: fx["rmsnorm"]["weight"].floats), eps: fx["rmsnorm"]["eps"].double)
        check(norm.forward(x).0, "rmsnorm")
    }

    @Test func layerNorm() {
        let l = fx["layernorm"]
        let norm = LayerNorm(weight: Tensor(shape: [c], data: l["weight"].floats), bias: Tensor(shape: [c], data: l["bias"].floats),
                             eps: l["eps"].double)
        check(norm.forward(x).0, "layernorm")
    }

    @Test func linearWithBias() {
        let l = fx["linear"]
        let lin = Linear(weight: Tensor(shape: [f, c], data: l["weight"].floats), bias: Tensor(shape: [f], data: l["bias"].floats))
        check(lin.forward(x).0, "linear")
    }

    @Test func swiGLU() {
        let m = fx["swiglu"]
        let mlp = SwiGLU(gate: Linear(weight: Tensor(shape: [f, c], data: m["gate"].floats)),
                         up: Linear(weight: Tensor(shape: [f, c], data: m["up"].floats)),
                         down: Linear(weight: Tensor(shape: [c, f], data: m["down"].floats)))
        check(mlp.forward(x).0, "swiglu")
    }

    @Test func geluMLP() {
        let m = fx["gelu_mlp"]
        let mlp = GELUMLP(fc: Linear(weight: Tensor(shape: [f, c], data: m["fc"].floats), bias: Tensor(shape: [f], data: m["fc_bias"].floats)),
                          proj: Linear(weight: Tensor(shape: [c, f], data: m["proj"].floats), bias: Tensor(shape: [c], data: m["proj_bias"].floats)))
        check(mlp.forward(x).0, "gelu_mlp")
    }

    @Test func ropeApply() {
        let r = fx["rope"]
        let (h, t, d) = (r["heads"].int, r["t"].int, r["d"].int)
        let rope = RoPE(headDim: d, theta: r["theta"].double)
        let q = Tensor(shape: [t, h, d], data: r["q"].floats)
        check(rope.forward(q, positions: r["positions"].array.map(\.int)).0, "rope")
    }
}
