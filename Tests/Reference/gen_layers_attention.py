"""Fixtures for the Layers target's RoPE and training attention: forward outputs and input gradients.

layers/rope       RoPE forward and backward on [N 5, heads 3, D 10] with positions that do not start at 0
                  (default, llama3-scaled, and positions past Whittle's cos/sin table), by transformers'
                  LlamaRotaryEmbedding + apply_rotary_pos_emb in float32 with autograd.
layers/attention  causal scaled-dot-product attention with grouped-query heads and packed documents
                  (block-diagonal causal mask from segment starts), by torch SDPA with an explicit boolean mask and
                  transformers' repeat_kv, in float64 from float32 inputs, with autograd.

Layouts are Whittle's: RoPE rows [N, heads, D]; attention q [B, T, H, D], k, v [B, T, K, D], out [B, T, H·D].
Every case has its own seed; upstream gradients are random (never ones).
"""
import math

import torch
import torch.nn.functional as F
from transformers import LlamaConfig
from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding, apply_rotary_pos_emb, repeat_kv

from registry import fixture, write_json


def _flat(t):
    return [float(x) for x in t.detach().reshape(-1).tolist()]


def _f32(t):
    """Rounds to float32 (the inputs Whittle reads), as a float32 tensor."""
    return t.to(torch.float32)


# MARK: - RoPE

@fixture("layers/rope")
def rope():
    """RoPE forward + backward (transformers LlamaRotaryEmbedding/apply_rotary_pos_emb, float32 autograd)."""
    n, heads, d = 5, 3, 10
    cases = [
        ("default", 7, dict(rope_theta=10000.0), [3, 4, 5, 6, 7]),
        # θ 1e4, D 10: wavelengths 6.3, 40, 250, 1579, 9952 against original 256 (low 256, high 64): two kept,
        # one blended, two divided by 8.
        ("llama3", 8, dict(rope_theta=10000.0, rope_scaling={
            "rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
            "original_max_position_embeddings": 256}), [2, 9, 4, 31, 100]),
        # Around and past the end of Whittle's cached cos/sin table (2^15 positions), unordered.
        ("far_positions", 9, dict(rope_theta=500000.0), [32767, 32768, 40000, 5, 70001]),
    ]
    out = []
    for name, seed, kw, positions in cases:
        g = torch.Generator().manual_seed(seed)
        cfg = LlamaConfig(hidden_size=heads * d, num_attention_heads=heads, num_key_value_heads=heads,
                          head_dim=d, max_position_embeddings=128, **kw)
        emb = LlamaRotaryEmbedding(cfg)
        assert emb.attention_scaling == 1.0
        x = torch.randn(n, heads, d, generator=g, dtype=torch.float32)
        dy = torch.randn(n, heads, d, generator=g, dtype=torch.float32)
        # HF layout [1, heads, N, D] with position_ids [1, N].
        xh = x.transpose(0, 1)[None].clone().requires_grad_(True)
        pos = torch.tensor([positions])
        cos, sin = emb(xh, pos)
        yh, _ = apply_rotary_pos_emb(xh, xh.detach(), cos, sin)
        y = yh[0].transpose(0, 1)
        (dxh,) = torch.autograd.grad((y * dy).sum(), xh)
        entry = {"name": name, "n": n, "heads": heads, "d": d, "rope_theta": kw["rope_theta"],
                 "positions": positions, "inv_freq": _flat(emb.inv_freq.float()),
                 "x": _flat(x), "dy": _flat(dy), "y": _flat(y), "dx": _flat(dxh[0].transpose(0, 1))}
        if "rope_scaling" in kw:
            entry["rope_scaling"] = kw["rope_scaling"]
        out.append(entry)
    write_json("layers/rope.json", {
        "source": "transformers LlamaRotaryEmbedding + apply_rotary_pos_emb, float32, torch.autograd.grad",
        "cases": out})


# MARK: - Attention

def _segment_starts(t, lengths):
    """Start position of each position's document for one batch row."""
    assert sum(lengths) == t, (t, lengths)
    starts, at = [], 0
    for length in lengths:
        starts += [at] * length
        at += length
    return starts


def _attention_case(name, seed, b, t, h, kh, d, documents):
    """One case: documents[b] lists the lengths of the documents packed into batch row b."""
    g = torch.Generator().manual_seed(seed)
    q = _f32(torch.randn(b, t, h, d, generator=g))
    k = _f32(torch.randn(b, t, kh, d, generator=g))
    v = _f32(torch.randn(b, t, kh, d, generator=g))
    dout = _f32(torch.randn(b, t, h * d, generator=g))
    starts = [_segment_starts(t, lengths) for lengths in documents]
    st = torch.tensor(starts)                                   # [B, T]
    i = torch.arange(t)[:, None]
    j = torch.arange(t)[None, :]
    allowed = (j <= i)[None] & (j >= st[:, :, None])            # [B, T(query), T(key)]: True = attends
    scale = 1 / math.sqrt(d)

    qd = q.double().requires_grad_(True)
    kd = k.double().requires_grad_(True)
    vd = v.double().requires_grad_(True)
    # transformers' layout: [B, heads, T, D]; kv heads repeated per query group as in LlamaAttention.
    qh = qd.transpose(1, 2)
    kr = repeat_kv(kd.transpose(1, 2), h // kh)
    vr = repeat_kv(vd.transpose(1, 2), h // kh)
    o = F.scaled_dot_product_attention(qh, kr, vr, attn_mask=allowed[:, None], scale=scale)
    out = o.transpose(1, 2).reshape(b, t, h * d)
    dq, dk, dv = torch.autograd.grad((out * dout.double()).sum(), (qd, kd, vd))
    return {"name": name, "b": b, "t": t, "h": h, "kh": kh, "d": d, "scale": scale, "documents": documents,
            "segment_starts": [s for row in starts for s in row],
            "q": _flat(q), "k": _flat(k), "v": _flat(v), "dout": _flat(dout),
            "out": _flat(out), "dq": _flat(dq), "dk": _flat(dk), "dv": _flat(dv)}


@fixture("layers/attention")
def attention():
    """Training attention forward + dQ/dK/dV (torch SDPA with a block-diagonal causal bool mask, repeat_kv, float64)."""
    cases = [
        _attention_case("gqa_k2_causal", 11, 2, 7, 6, 2, 5, [[7], [7]]),
        _attention_case("gqa_k2_packed", 12, 2, 7, 6, 2, 5, [[3, 4], [7]]),
        _attention_case("gqa_k3_causal", 13, 2, 7, 6, 3, 5, [[7], [7]]),
        _attention_case("gqa_k3_packed", 14, 2, 7, 6, 3, 5, [[2, 1, 4], [3, 4]]),
        # Longer than Whittle's 64-row blocks (64 + 64 + 2), documents crossing block boundaries.
        _attention_case("long_packed", 15, 1, 130, 2, 1, 3, [[50, 40, 40]]),
    ]
    write_json("layers/attention.json", {
        "source": f"torch {torch.__version__} scaled_dot_product_attention(attn_mask=bool, scale=1/sqrt(D)) in "
                  "float64 on float32 inputs, transformers repeat_kv, torch.autograd.grad of sum(out * dout)",
        "cases": cases})
