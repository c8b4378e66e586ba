"""Backward references for the dense layers (Linear with LoRA, Embedding, RMSNorm, LayerNorm, SwiGLU, GELU MLP,
softmax cross-entropy): PyTorch autograd in float32 on odd shapes.

One file, fixtures/layers/dense_backward.json, one object per case. Every case stores its inputs and parameters,
a random upstream gradient `dout` (never ones), the forward output `y`, the input gradient `dx` and every parameter
gradient, all row-major float32 values. Parameters are drawn from a per-case seeded generator (LoRA B too: PEFT
initialises it to zero, which would hide every bug in the adapter's backward).
"""
import peft
import torch
import torch.nn.functional as F
import transformers
from transformers import GPT2Config, LlamaConfig
from transformers.models.gpt2.modeling_gpt2 import GPT2MLP
from transformers.models.llama.modeling_llama import LlamaMLP, LlamaRMSNorm

from registry import fixture, write_json

N, C, F_, O, R, V = 7, 37, 23, 11, 3, 29


def _flat(t):
    return [float(v) for v in t.detach().float().reshape(-1).tolist()]


def _gen(seed):
    g = torch.Generator().manual_seed(seed)
    return lambda *shape, scale=1.0: scale * torch.randn(*shape, generator=g)


def _grad(y, dout, *tensors):
    """Gradients of Σ y ⊙ dout with respect to `tensors` (autograd, float32)."""
    return torch.autograd.grad(y, tensors, grad_outputs=dout)


def _linear_case(seed, n, bias):
    rnd = _gen(seed)
    x = rnd(n, C).requires_grad_()
    w = rnd(O, C, scale=0.2).requires_grad_()
    b = rnd(O, scale=0.1).requires_grad_() if bias else None
    y = F.linear(x, w, b)
    dout = rnd(n, O)
    grads = _grad(y, dout, *[t for t in (x, w, b) if t is not None])
    case = {"n": n, "i": C, "o": O, "x": _flat(x), "weight": _flat(w), "dout": _flat(dout), "y": _flat(y),
            "dx": _flat(grads[0]), "dweight": _flat(grads[1])}
    if bias:
        case["bias"] = _flat(b)
        case["dbias"] = _flat(grads[2])
    return case


def _lora_case(seed):
    """Linear + LoRA (r 3, alpha 16, no dropout): the formula by autograd, cross-checked with a peft LoRA layer."""
    rnd = _gen(seed)
    alpha = 16
    scale = alpha / R
    x = rnd(N, C).requires_grad_()
    w = rnd(O, C, scale=0.2).requires_grad_()
    b = rnd(O, scale=0.1).requires_grad_()
    a = rnd(R, C, scale=0.3).requires_grad_()
    bb = rnd(O, R, scale=0.3).requires_grad_()
    dout = rnd(N, O)
    y = F.linear(x, w, b) + (x @ a.t() @ bb.t()) * scale
    dx, dw, db, da, dbb = _grad(y, dout, x, w, b, a, bb)

    # The same layer through peft: a module with one nn.Linear "proj", wrapped by get_peft_model.
    class Tiny(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.proj = torch.nn.Linear(C, O)

        def forward(self, t):
            return self.proj(t)

    tiny = Tiny()
    with torch.no_grad():
        tiny.proj.weight.copy_(w)
        tiny.proj.bias.copy_(b)
    cfg = peft.LoraConfig(r=R, lora_alpha=alpha, lora_dropout=0.0, target_modules=["proj"], bias="none")
    model = peft.get_peft_model(tiny, cfg)
    layer = model.base_model.model.proj
    assert isinstance(layer, peft.tuners.lora.Linear), type(layer)
    assert abs(layer.scaling["default"] - scale) == 0, layer.scaling
    with torch.no_grad():
        layer.lora_A["default"].weight.copy_(a)
        layer.lora_B["default"].weight.copy_(bb)
    px = x.detach().clone().requires_grad_()
    py = model(px)
    pdx, pda, pdb = _grad(py, dout, px, layer.lora_A["default"].weight, layer.lora_B["default"].weight)
    for mine, theirs, what in [(y, py, "y"), (dx, pdx, "dx"), (da, pda, "dA"), (dbb, pdb, "dB")]:
        assert torch.allclose(mine, theirs, rtol=1e-5, atol=1e-5), f"peft disagrees with the formula on {what}"
    return {"n": N, "i": C, "o": O, "r": R, "alpha": alpha, "x": _flat(x), "weight": _flat(w), "bias": _flat(b),
            "lora_a": _flat(a), "lora_b": _flat(bb), "dout": _flat(dout), "y": _flat(y), "dx": _flat(dx),
            "dweight": _flat(dw), "dbias": _flat(db), "dlora_a": _flat(da), "dlora_b": _flat(dbb),
            "peft": {"version": peft.__version__, "y": _flat(py), "dx": _flat(pdx), "dlora_a": _flat(pda),
                     "dlora_b": _flat(pdb)}}


def _embedding_case(seed):
    rnd = _gen(seed)
    ids = torch.tensor([3, 17, 3, 0, 28, 17, 3, 9, 0, 12, 28])   # repeats of 3 (×3), 17, 0 and 28 (×2)
    emb = torch.nn.Embedding(V, C)
    with torch.no_grad():
        emb.weight.copy_(rnd(V, C))
    y = emb(ids)
    dout = rnd(len(ids), C)
    (dw,) = _grad(y, dout, emb.weight)
    return {"v": V, "c": C, "ids": ids.tolist(), "weight": _flat(emb.weight), "dout": _flat(dout), "y": _flat(y),
            "dweight": _flat(dw)}


def _rmsnorm_case(seed):
    rnd = _gen(seed)
    x = rnd(N, C).requires_grad_()
    norm = LlamaRMSNorm(C, eps=1e-5)
    with torch.no_grad():
        norm.weight.copy_(1 + 0.1 * rnd(C))
    y = norm(x)
    dout = rnd(N, C)
    dx, dw = _grad(y, dout, x, norm.weight)
    return {"n": N, "c": C, "eps": 1e-5, "x": _flat(x), "weight": _flat(norm.weight), "dout": _flat(dout),
            "y": _flat(y), "dx": _flat(dx), "dweight": _flat(dw)}


def _layernorm_case(seed):
    rnd = _gen(seed)
    x = (rnd(N, C) + 0.5).requires_grad_()          # a nonzero mean, so the mean term of the backward matters
    norm = torch.nn.LayerNorm(C, eps=1e-5)
    with torch.no_grad():
        norm.weight.copy_(1 + 0.1 * rnd(C))
        norm.bias.copy_(0.1 * rnd(C))
    y = norm(x)
    dout = rnd(N, C)
    dx, dw, db = _grad(y, dout, x, norm.weight, norm.bias)
    return {"n": N, "c": C, "eps": 1e-5, "x": _flat(x), "weight": _flat(norm.weight), "bias": _flat(norm.bias),
            "dout": _flat(dout), "y": _flat(y), "dx": _flat(dx), "dweight": _flat(dw), "dbias": _flat(db)}


def _swiglu_case(seed):
    rnd = _gen(seed)
    cfg = LlamaConfig(hidden_size=C, intermediate_size=F_, num_attention_heads=1, num_key_value_heads=1, head_dim=2,
                      hidden_act="silu", mlp_bias=False)
    mlp = LlamaMLP(cfg)
    with torch.no_grad():
        for p in mlp.parameters():
            p.copy_(rnd(*p.shape, scale=0.3))
    x = rnd(N, C).requires_grad_()
    y = mlp(x)
    dout = rnd(N, C)
    dx, dg, du, dd = _grad(y, dout, x, mlp.gate_proj.weight, mlp.up_proj.weight, mlp.down_proj.weight)
    return {"n": N, "c": C, "f": F_, "x": _flat(x), "gate": _flat(mlp.gate_proj.weight),
            "up": _flat(mlp.up_proj.weight), "down": _flat(mlp.down_proj.weight), "dout": _flat(dout), "y": _flat(y),
            "dx": _flat(dx), "dgate": _flat(dg), "dup": _flat(du), "ddown": _flat(dd)}


def _gelu_mlp_case(seed):
    rnd = _gen(seed)
    cfg = GPT2Config(n_embd=C, n_head=1, n_inner=F_, activation_function="gelu_new", resid_pdrop=0.0)
    mlp = GPT2MLP(F_, cfg).eval()
    with torch.no_grad():
        for p in mlp.parameters():
            p.copy_(rnd(*p.shape, scale=0.4))
    x = rnd(N, C).requires_grad_()
    y = mlp(x)
    dout = rnd(N, C)
    dx, dfc, dfcb, dpr, dprb = _grad(y, dout, x, mlp.c_fc.weight, mlp.c_fc.bias, mlp.c_proj.weight, mlp.c_proj.bias)
    # Conv1D weights (and their gradients) are [in, out]; stored transposed into Linear's [out, in].
    return {"n": N, "c": C, "f": F_, "x": _flat(x), "fc": _flat(mlp.c_fc.weight.t()), "fc_bias": _flat(mlp.c_fc.bias),
            "proj": _flat(mlp.c_proj.weight.t()), "proj_bias": _flat(mlp.c_proj.bias), "dout": _flat(dout),
            "y": _flat(y), "dx": _flat(dx), "dfc": _flat(dfc.t()), "dfc_bias": _flat(dfcb), "dproj": _flat(dpr.t()),
            "dproj_bias": _flat(dprb)}


def _cross_entropy_case(seed):
    """Σ cross-entropy over non-ignored rows (ignore_index −100, stored as Whittle's −1) and scale·its gradient."""
    rnd = _gen(seed)
    n = 9
    logits = rnd(n, V, scale=3.0)
    logits[4] *= 10                                  # one sharply peaked row (log-softmax must stay stable)
    logits = logits.requires_grad_()
    targets = torch.tensor([5, -100, 28, 0, 11, -100, 7, 7, -100])
    # The scale is 1 / (supervised tokens of an optimizer step); a float32 value, as Whittle passes a Float.
    scale = float(torch.tensor(1 / 13, dtype=torch.float32))
    loss = F.cross_entropy(logits, targets, ignore_index=-100, reduction="sum")
    (dlogits,) = torch.autograd.grad(loss * scale, logits)
    loss64 = F.cross_entropy(logits.detach().double(), targets, ignore_index=-100, reduction="sum")
    return {"n": n, "v": V, "logits": _flat(logits), "targets": [-1 if t == -100 else t for t in targets.tolist()],
            "scale": scale, "loss_sum": float(loss.detach()), "loss_sum_f64": float(loss64), "count": int((targets != -100).sum()),
            "dlogits": _flat(dlogits)}


@fixture("layers/dense_backward")
def dense_backward():
    """Forward and autograd gradients of Linear (±bias, +LoRA vs peft), Embedding, norms, MLPs, cross-entropy."""
    out = {"source": f"torch {torch.__version__}, transformers {transformers.__version__}, peft {peft.__version__}",
           "linear_bias": _linear_case(101, N, bias=True),
           "linear_nobias": _linear_case(102, 5, bias=False),
           "linear_lora": _lora_case(103),
           "embedding": _embedding_case(104),
           "rmsnorm": _rmsnorm_case(105),
           "layernorm": _layernorm_case(106),
           "swiglu": _swiglu_case(107),
           "gelu_mlp": _gelu_mlp_case(108),
           "cross_entropy": _cross_entropy_case(109)}
    write_json("layers/dense_backward.json", out)
