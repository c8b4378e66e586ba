"""Tiny random HF models (llama, qwen2, gpt2) with transformers' own logits and greedy tokens.

Each fixture writes Tests/Reference/fixtures/models/<name>/:
  config.json, generation_config.json, model.safetensors (or shards + model.safetensors.index.json)
      written by transformers' save_pretrained (the dtype under test);
  expected_logits.safetensors   "logits" F32 [2, 7, V] for the batch in expected.json, computed in fp32 by
      the model *reloaded from that folder* (so bf16/f16 rounding is part of the reference);
  expected.json                 {"input_ids": [[...]*7]*2, "prompt": [...], "greedy": [40 ids],
                                 "min_greedy_margin": smallest top-1 minus top-2 logit over the 40 steps}.
Shapes are deliberately odd (C 48, H 6, K 2 or 3, F 136, V 301, 3 layers); parameters are re-drawn with
per-fixture seeds at a larger scale than HF's init so the logits are far from uniform (no greedy near-ties).
"""
import json
import shutil

import torch
from safetensors.torch import save_file
from transformers import (GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM, Qwen2Config,
                          Qwen2ForCausalLM)

from registry import OUT, fixture, write_json

VOCAB = 301


def _randomize(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 1 and ("norm" in name or "ln_" in name) and name.endswith("weight"):
                p.copy_(1 + 0.1 * torch.randn(p.shape, generator=g))
            elif p.dim() == 1:
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(0.15 * torch.randn(p.shape, generator=g))


def _write(name, model, seed, dtype=torch.float32, max_shard_size=None):
    folder = OUT / "models" / name
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    _randomize(model, seed)
    model.generation_config.eos_token_id = None
    model.generation_config.pad_token_id = 0
    kwargs = {"safe_serialization": True}
    if max_shard_size is not None:
        kwargs["max_shard_size"] = max_shard_size
    model.to(dtype).save_pretrained(folder, **kwargs)

    ref = type(model).from_pretrained(folder, dtype=torch.float32).eval()
    g = torch.Generator().manual_seed(seed + 1)
    ids = torch.randint(0, VOCAB, (2, 7), generator=g)
    prompt = torch.randint(0, VOCAB, (1, 5), generator=g)
    with torch.no_grad():
        logits = ref(input_ids=ids).logits.float().contiguous()
        out = ref.generate(prompt, max_new_tokens=40, do_sample=False, eos_token_id=None, pad_token_id=0,
                           output_scores=True, return_dict_in_generate=True)
    margins = []
    for s in out.scores:
        top = torch.topk(s[0].float(), 2).values
        margins.append(float(top[0] - top[1]))
    greedy = out.sequences[0, prompt.shape[1]:].tolist()
    assert len(greedy) == 40, greedy
    save_file({"logits": logits}, str(folder / "expected_logits.safetensors"), metadata={"format": "pt"})
    write_json(f"models/{name}/expected.json", {
        "input_ids": ids.tolist(), "prompt": prompt[0].tolist(), "greedy": greedy,
        "min_greedy_margin": min(margins),
    })
    print(f"  {name}: min greedy margin {min(margins):.4g}")


def _llama_config(**kw):
    base = dict(vocab_size=VOCAB, hidden_size=48, intermediate_size=136, num_hidden_layers=3,
                num_attention_heads=6, num_key_value_heads=2, max_position_embeddings=128, rms_norm_eps=1e-5,
                bos_token_id=1, eos_token_id=2, tie_word_embeddings=False)
    base.update(kw)
    return LlamaConfig(**base)


@fixture("models/llama_untied")
def llama_untied():
    """Llama, GQA 6/2, untied lm_head, fp32, one file."""
    torch.manual_seed(0)
    _write("llama_untied", LlamaForCausalLM(_llama_config()), seed=101)


@fixture("models/llama_tied_bf16")
def llama_tied_bf16():
    """Llama, GQA 6/3, tied embeddings, rope_theta 500000, saved in bf16."""
    torch.manual_seed(0)
    cfg = _llama_config(num_key_value_heads=3, tie_word_embeddings=True, rope_theta=500000.0)
    _write("llama_tied_bf16", LlamaForCausalLM(cfg), seed=202, dtype=torch.bfloat16)


@fixture("models/llama3_rope_sharded")
def llama3_rope_sharded():
    """Llama with llama3 rope scaling (factor 8, low 1, high 4, orig 128: one frequency kept, one smoothed, two divided), sharded at 150KB, fp32."""
    torch.manual_seed(0)
    cfg = _llama_config(rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                      "high_freq_factor": 4.0, "original_max_position_embeddings": 128})
    _write("llama3_rope_sharded", LlamaForCausalLM(cfg), seed=303, max_shard_size="150KB")


@fixture("models/qwen2_f16")
def qwen2_f16():
    """Qwen2 (q/k/v biases), GQA 6/3, untied, saved in f16."""
    torch.manual_seed(0)
    cfg = Qwen2Config(vocab_size=VOCAB, hidden_size=48, intermediate_size=136, num_hidden_layers=3,
                      num_attention_heads=6, num_key_value_heads=3, max_position_embeddings=128,
                      rms_norm_eps=1e-6, tie_word_embeddings=False, bos_token_id=1, eos_token_id=2)
    _write("qwen2_f16", Qwen2ForCausalLM(cfg), seed=404, dtype=torch.float16)


@fixture("models/gpt2_tied")
def gpt2_tied():
    """GPT-2 (Conv1D weights, learned positions, gelu_new), tied lm_head, fp32."""
    torch.manual_seed(0)
    cfg = GPT2Config(vocab_size=VOCAB, n_embd=48, n_layer=3, n_head=6, n_positions=64, n_inner=136,
                     bos_token_id=1, eos_token_id=2)
    _write("gpt2_tied", GPT2LMHeadModel(cfg), seed=505)


@fixture("models/rope_inv_freq")
def rope_inv_freq():
    """inv_freq of transformers' LlamaRotaryEmbedding (float32) for default, linear and llama3 RoPE."""
    from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding
    cases = [
        ("default_d8", dict(head_dim=8, rope_theta=10000.0)),
        ("default_d64_theta5e5", dict(head_dim=64, rope_theta=500000.0)),
        ("linear_d16", dict(head_dim=16, rope_theta=10000.0, rope_scaling={"rope_type": "linear", "factor": 2.0})),
        ("llama3_d64", dict(head_dim=64, rope_theta=500000.0, rope_scaling={
            "rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
            "original_max_position_embeddings": 8192}, max_position_embeddings=131072)),
    ]
    out = []
    for name, kw in cases:
        scaling = kw.pop("rope_scaling", None)
        cfg = _llama_config(num_attention_heads=4, hidden_size=4 * kw["head_dim"], rope_scaling=scaling, **kw)
        rope = LlamaRotaryEmbedding(cfg)
        assert rope.attention_scaling == 1.0
        entry = {"name": name, "head_dim": kw["head_dim"], "rope_theta": kw["rope_theta"],
                 "inv_freq": [float(x) for x in rope.inv_freq.float()]}
        if scaling:
            entry["rope_scaling"] = scaling
        out.append(entry)
    write_json("models/rope_inv_freq.json", out)


@fixture("layers/forward")
def layers_forward():
    """Single layers from transformers/PyTorch on odd shapes: RMSNorm, LayerNorm, Linear+bias, SwiGLU, GELU MLP, RoPE."""
    from transformers.models.gpt2.modeling_gpt2 import GPT2MLP
    from transformers.models.llama.modeling_llama import (LlamaMLP, LlamaRMSNorm, LlamaRotaryEmbedding,
                                                          apply_rotary_pos_emb)
    g = torch.Generator().manual_seed(7)

    def rnd(*shape, scale=1.0):
        return scale * torch.randn(*shape, generator=g)

    def flat(t):
        return [float(x) for x in t.detach().float().reshape(-1)]

    n, c, f = 5, 37, 23
    x = rnd(n, c)
    out = {"n": n, "c": c, "f": f, "x": flat(x)}
    with torch.no_grad():
        rms = LlamaRMSNorm(c, eps=1e-5)
        rms.weight.copy_(1 + 0.1 * rnd(c))
        out["rmsnorm"] = {"eps": 1e-5, "weight": flat(rms.weight), "y": flat(rms(x))}
        ln = torch.nn.LayerNorm(c, eps=1e-5)
        ln.weight.copy_(1 + 0.1 * rnd(c)); ln.bias.copy_(0.1 * rnd(c))
        out["layernorm"] = {"eps": 1e-5, "weight": flat(ln.weight), "bias": flat(ln.bias), "y": flat(ln(x))}
        lin = torch.nn.Linear(c, f)
        lin.weight.copy_(rnd(f, c, scale=0.2)); lin.bias.copy_(rnd(f, scale=0.1))
        out["linear"] = {"weight": flat(lin.weight), "bias": flat(lin.bias), "y": flat(lin(x))}
        cfg = _llama_config(hidden_size=c, intermediate_size=f, num_attention_heads=1, num_key_value_heads=1, head_dim=2)
        mlp = LlamaMLP(cfg)
        for p in mlp.parameters():
            p.copy_(rnd(*p.shape, scale=0.2))
        out["swiglu"] = {"gate": flat(mlp.gate_proj.weight), "up": flat(mlp.up_proj.weight),
                         "down": flat(mlp.down_proj.weight), "y": flat(mlp(x))}
        gcfg = GPT2Config(n_embd=c, n_head=1, n_inner=f, activation_function="gelu_new", resid_pdrop=0.0)
        gmlp = GPT2MLP(f, gcfg).eval()
        for p in gmlp.parameters():
            p.copy_(rnd(*p.shape, scale=0.2))
        # Conv1D weights are [in, out]; store them transposed into Linear's [out, in].
        out["gelu_mlp"] = {"fc": flat(gmlp.c_fc.weight.t()), "fc_bias": flat(gmlp.c_fc.bias),
                           "proj": flat(gmlp.c_proj.weight.t()), "proj_bias": flat(gmlp.c_proj.bias), "y": flat(gmlp(x))}
        # RoPE on q [1, H, T, D] at positions 3..3+T (HF layout), stored as [T, H, D].
        h, t, d = 3, 5, 10
        rcfg = _llama_config(num_attention_heads=h, num_key_value_heads=h, hidden_size=h * d, rope_theta=1000.0)
        rope = LlamaRotaryEmbedding(rcfg)
        q = rnd(1, h, t, d)
        pos = torch.arange(3, 3 + t)[None]
        cos, sin = rope(q, pos)
        qr, _ = apply_rotary_pos_emb(q, q, cos, sin)
        out["rope"] = {"heads": h, "t": t, "d": d, "theta": 1000.0, "positions": pos[0].tolist(),
                       "q": flat(q[0].transpose(0, 1)), "y": flat(qr[0].transpose(0, 1))}
    write_json("layers/forward.json", out)
