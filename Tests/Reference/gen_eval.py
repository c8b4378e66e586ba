"""Fixtures for Evaluation: next-token loss of the real stories260K model, by transformers.

The llama2.c checkpoint is converted here, independently of Whittle's importer (llama2.c's export.py layout;
q/k rows permuted from interleaved-pair RoPE to HF's rotate-half as convert_llama_weights_to_hf does), into a
LlamaForCausalLM; texts are tokenized by the tok512 tokenizer.json that gen_tokenizers.py made with transformers.
"""
import struct

import numpy as np
import torch
import transformers

from registry import OUT, SHARED, fixture, write_json

TEXTS = [
    "Once upon a time, there was a little girl named Lily. She loved to play outside.",
    "The dog ran to the park. He saw a big red ball and wanted to play with it.",
    "Tom and Sue were friends. One day they found a shiny box under a tree.",
    "x",
    "Mom said, \"Let's bake a cake!\" Tim was very happy and helped her mix the flour.",
    "zebra quantum 12345 !!!",
]


def load_stories260k():
    raw = (SHARED / "assets/models/stories260K/stories260K.bin").read_bytes()
    dim, hidden, layers, heads, kv_heads, vocab, seq = struct.unpack("<7i", raw[:28])
    shared = vocab > 0
    vocab = abs(vocab)
    data = np.frombuffer(raw[28:], dtype="<f4")
    pos = 0

    def take(*shape):
        nonlocal pos
        n = int(np.prod(shape))
        out = torch.from_numpy(data[pos:pos + n].copy()).reshape(*shape)
        pos += n
        return out
    head_dim = dim // heads
    emb = take(vocab, dim)
    rms_att = take(layers, dim)
    wq = take(layers, dim, dim)
    wk = take(layers, kv_heads * head_dim, dim)
    wv = take(layers, kv_heads * head_dim, dim)
    wo = take(layers, dim, dim)
    rms_ffn = take(layers, dim)
    w1 = take(layers, hidden, dim)
    w2 = take(layers, dim, hidden)
    w3 = take(layers, hidden, dim)
    rms_final = take(dim)
    config = transformers.LlamaConfig(hidden_size=dim, intermediate_size=hidden, num_hidden_layers=layers,
                                      num_attention_heads=heads, num_key_value_heads=kv_heads, vocab_size=vocab,
                                      max_position_embeddings=seq, rms_norm_eps=1e-5, rope_theta=10000.0,
                                      tie_word_embeddings=shared, bos_token_id=1, eos_token_id=2)
    model = transformers.LlamaForCausalLM(config).eval()

    def permute(w, n_heads):
        rows, cols = w.shape
        return w.view(n_heads, rows // n_heads // 2, 2, cols).transpose(1, 2).reshape(rows, cols)
    sd = {"model.embed_tokens.weight": emb, "model.norm.weight": rms_final}
    for i in range(layers):
        p = f"model.layers.{i}."
        sd[p + "input_layernorm.weight"] = rms_att[i]
        sd[p + "post_attention_layernorm.weight"] = rms_ffn[i]
        sd[p + "self_attn.q_proj.weight"] = permute(wq[i], heads)
        sd[p + "self_attn.k_proj.weight"] = permute(wk[i], kv_heads)
        sd[p + "self_attn.v_proj.weight"] = wv[i]
        sd[p + "self_attn.o_proj.weight"] = wo[i]
        sd[p + "mlp.gate_proj.weight"] = w1[i]
        sd[p + "mlp.down_proj.weight"] = w2[i]
        sd[p + "mlp.up_proj.weight"] = w3[i]
    sd["lm_head.weight"] = emb
    missing, unexpected = model.load_state_dict(sd, strict=False)
    assert not unexpected and all("rotary" in m for m in missing), (missing, unexpected)
    return model


@fixture("eval-stories260k")
def eval_stories260k():
    """Per-text summed next-token loss and token counts of stories260K on six texts (tok512, BOS added)."""
    model = load_stories260k()
    tok = transformers.PreTrainedTokenizerFast(tokenizer_file=str(OUT / "tokenizers/tok512.tokenizer.json"))
    rows = []
    with torch.no_grad():
        for text in TEXTS:
            ids = tok(text, add_special_tokens=True)["input_ids"]
            if ids[:1] != [1]:
                ids = [1] + ids  # llama tokenizers add BOS; the converted tokenizer.json's post-processor decides
            out = model(torch.tensor([ids]), labels=torch.tensor([ids]))
            n = len(ids) - 1
            rows.append({"text": text, "ids": ids, "loss_sum": float(out.loss.double() * n), "tokens": n})
    total = sum(r["loss_sum"] for r in rows) / sum(r["tokens"] for r in rows)
    write_json("eval/stories260k_loss.json", {"source": f"transformers {transformers.__version__} LlamaForCausalLM(labels=ids)",
                                              "texts": rows, "mean_loss": total})
