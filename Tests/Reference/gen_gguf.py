"""GGUF reference files written by gguf-py (llama.cpp's own Python writer and quantizer), following the choices of
llama.cpp's convert_hf_to_gguf.py (conversion/base.py, llama.py, gpt2.py, qwen.py) and convert_lora_to_gguf.py.

Each fixture writes Tests/Reference/fixtures/gguf/<name>/, a complete Hugging Face folder (config.json,
model.safetensors, tokenizer files written by transformers' save_pretrained), and beside it the GGUF files
<name>.<f32|f16|q8_0>.gguf plus <name>.expected.json and <name>.logits.safetensors:

  expected.json     per GGUF file: every metadata key with its GGUF type and the sha256 of its encoded value (scalar
                    values also in clear), every tensor with type, row-major shape, data offset, sha256 of its bytes
                    and of its dequantized float32 values (gguf.quants.dequantize), and the first values of a few
                    tensors; plus the input ids of the logits.
  logits.safetensors  "logits" [1, T, V] of the HF folder (transformers, fp32) and "logits_<dtype>" of the same model
                    with every weight replaced by the GGUF's dequantized values mapped back to HF layout.

The tiny models are built here (not the C 48 ones of gen_models.py) because Q8_0 needs rows that are multiples of 32:
with C 48 every matrix would fall back to F16 and Q8_0 would go untested. Widths are 32, with one matrix whose rows
are 80 wide (llama down_proj) so the Q8_0 → F16 fallback is exercised too.

What follows convert_hf_to_gguf.py exactly: key names, value types, key order, tensor names, the Q/K row permutation
(llama only), F32 for 1-D / *_norm / bias / position_embd tensors, gguf.quants.quantize for F16 and Q8_0 with the F16
fallback, the vocabulary (get_vocab_base for byte-level BPE, gguf.LlamaHfVocab for SentencePiece-style), and
gguf.SpecialVocab for special ids, add_* flags, merges and the chat template.

Documented departures (Whittle makes the same choices; see Sources/ModelFormats/GGUFExport.swift and
Sources/Tokenization/GGUFVocabulary+Export.swift for why):
  * tokenizer.ggml.pre comes from the tokenizer.json pre-tokenizer (the converter hashes a test string, which only
    recognises published vocabularies; these are trained here);
  * llama scores: -(merge rank) of the merge producing a token, -(merges + 1) for the others, instead of
    LlamaHfVocab's -1000 placeholder;
  * GPT-2 context_length = n_positions and feed_forward_length = n_inner (the converter reads n_ctx and 4*n_embd);
  * llama3 rope_freqs uses original_max_position_embeddings from rope_parameters (the converter reads a top-level key);
  * tensors in Whittle's parameter order, general.* limited to architecture, type and name.
"""
import hashlib
import json
import shutil

import gguf
import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save_file
from transformers import (AutoConfig, AutoTokenizer, GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM,
                          PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM)

from gen_chat_templates import SMOLLM2
from gen_models import _randomize
from gen_tokenizers import ASSETS, build_corpus
from registry import OUT, fixture, write_json

ROOT = OUT / "gguf"
DTYPES = {"f32": gguf.LlamaFileType.ALL_F32, "f16": gguf.LlamaFileType.MOSTLY_F16, "q8_0": gguf.LlamaFileType.MOSTLY_Q8_0}
QTYPE = {"f32": gguf.GGMLQuantizationType.F32, "f16": gguf.GGMLQuantizationType.F16, "q8_0": gguf.GGMLQuantizationType.Q8_0}
QWEN25_TEMPLATE = (ASSETS / "chat-templates/Qwen-Qwen2.5-7B-Instruct.jinja").read_text(encoding="utf-8")


# MARK: - Tokenizers

def _train_bytelevel(vocab_size, special, pre, normalizer=None, seed=7):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    corpus, _ = build_corpus(seed=seed, limit_bytes=300_000)
    tok = Tokenizer(models.BPE())
    if normalizer is not None:
        tok.normalizer = normalizer
    tok.pre_tokenizer = pre
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=2, special_tokens=special, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(corpus, trainer=trainer)
    return tok


def gpt2_tokenizer():
    """A 300-token GPT-2-style byte-level BPE (ByteLevel pre-tokenizer with the GPT-2 regex), <|endoftext|> special."""
    from tokenizers import pre_tokenizers
    tok = _train_bytelevel(300, ["<|endoftext|>"], pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True))
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|endoftext|>", eos_token="<|endoftext|>",
                                   unk_token="<|endoftext|>")


def qwen2_tokenizer():
    """A Qwen2-style byte-level BPE: NFC, the Qwen2 split regex, ChatML special tokens, the Qwen2.5 chat template."""
    from tokenizers import Regex, normalizers, pre_tokenizers
    qwen2_re = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                r"|\s*[\r\n]+|\s+(?!\S)|\s+")
    pre = pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(qwen2_re), behavior="isolated", invert=False),
                                   pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tok = _train_bytelevel(300, ["<|endoftext|>", "<|im_start|>", "<|im_end|>"], pre, normalizers.NFC(), seed=11)
    hf = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>")
    hf.chat_template = QWEN25_TEMPLATE
    return hf


def llama_tokenizer():
    """stories260K's tok512 (SentencePiece BPE as tokenizer.json, BOS template) plus ChatML tokens and SmolLM2's template."""
    from tokenizers import AddedToken, Tokenizer
    tok = Tokenizer.from_file(str(OUT / "tokenizers/tok512.tokenizer.json"))
    tok.add_special_tokens([AddedToken("<|im_start|>", special=True, normalized=False),
                            AddedToken("<|im_end|>", special=True, normalized=False)])
    hf = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="<|im_end|>", unk_token="<unk>",
                                 add_bos_token=True, add_eos_token=False)
    hf.chat_template = SMOLLM2
    return hf


# MARK: - Models

def _save(name, model, tokenizer, seed):
    folder = ROOT / name
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    _randomize(model, seed)
    model.generation_config.pad_token_id = None
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    return folder


def llama_model():
    tok = llama_tokenizer()
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=80, num_hidden_layers=2,
                      num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=64, rms_norm_eps=1e-5,
                      rope_theta=500000.0, tie_word_embeddings=True, bos_token_id=tok.bos_token_id,
                      eos_token_id=tok.eos_token_id,
                      rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                    "high_freq_factor": 16.0, "original_max_position_embeddings": 8192})
    torch.manual_seed(0)
    return LlamaForCausalLM(cfg), tok


def gpt2_model():
    tok = gpt2_tokenizer()
    cfg = GPT2Config(vocab_size=320, n_embd=32, n_layer=2, n_head=4, n_positions=32, n_inner=96,
                     bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id)
    torch.manual_seed(0)
    return GPT2LMHeadModel(cfg), tok


def qwen2_model():
    tok = qwen2_tokenizer()
    cfg = Qwen2Config(vocab_size=320, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                      num_key_value_heads=2, max_position_embeddings=64, rms_norm_eps=1e-6, tie_word_embeddings=False,
                      eos_token_id=tok.convert_tokens_to_ids("<|im_end|>"), bos_token_id=None)
    torch.manual_seed(0)
    return Qwen2ForCausalLM(cfg), tok


# MARK: - The converter's choices

def permute(w, n_head, n_head_kv):
    """conversion/llama.py LlamaModel.permute: HF rotate-half rows -> adjacent-pair rows, per head."""
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def unpermute(w, n_head):
    """The inverse of permute (per head: adjacent pairs back to halves)."""
    return w.reshape(n_head, w.shape[0] // n_head // 2, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def tensor_plan(arch, hp):
    """(gguf name, hf name, permute heads or None, Conv1D transpose) in Whittle's parameter order."""
    plan = []
    if arch == "gpt2":
        plan += [("token_embd.weight", "transformer.wte.weight", None, False),
                 ("position_embd.weight", "transformer.wpe.weight", None, False)]
        for i in range(hp["n_layer"]):
            h = f"transformer.h.{i}."
            for gg, hf, conv in [("attn_norm", "ln_1", False), ("attn_qkv", "attn.c_attn", True),
                                 ("attn_output", "attn.c_proj", True), ("ffn_norm", "ln_2", False),
                                 ("ffn_up", "mlp.c_fc", True), ("ffn_down", "mlp.c_proj", True)]:
                plan.append((f"blk.{i}.{gg}.weight", h + hf + ".weight", None, conv))
                plan.append((f"blk.{i}.{gg}.bias", h + hf + ".bias", None, False))
        plan += [("output_norm.weight", "transformer.ln_f.weight", None, False),
                 ("output_norm.bias", "transformer.ln_f.bias", None, False)]
        if not hp.get("tie_word_embeddings", True):
            plan.append(("output.weight", "lm_head.weight", None, False))
        return plan
    heads, kv = hp["num_attention_heads"], hp["num_key_value_heads"]
    perm = arch == "llama"
    plan.append(("token_embd.weight", "model.embed_tokens.weight", None, False))
    for i in range(hp["num_hidden_layers"]):
        m = f"model.layers.{i}."
        plan.append((f"blk.{i}.attn_norm.weight", m + "input_layernorm.weight", None, False))
        plan.append((f"blk.{i}.attn_q.weight", m + "self_attn.q_proj.weight", heads if perm else None, False))
        plan.append((f"blk.{i}.attn_k.weight", m + "self_attn.k_proj.weight", kv if perm else None, False))
        plan.append((f"blk.{i}.attn_v.weight", m + "self_attn.v_proj.weight", None, False))
        if arch == "qwen2":
            plan += [(f"blk.{i}.attn_q.bias", m + "self_attn.q_proj.bias", None, False),
                     (f"blk.{i}.attn_k.bias", m + "self_attn.k_proj.bias", None, False),
                     (f"blk.{i}.attn_v.bias", m + "self_attn.v_proj.bias", None, False)]
        plan.append((f"blk.{i}.attn_output.weight", m + "self_attn.o_proj.weight", None, False))
        plan.append((f"blk.{i}.ffn_norm.weight", m + "post_attention_layernorm.weight", None, False))
        plan.append((f"blk.{i}.ffn_gate.weight", m + "mlp.gate_proj.weight", None, False))
        plan.append((f"blk.{i}.ffn_up.weight", m + "mlp.up_proj.weight", None, False))
        plan.append((f"blk.{i}.ffn_down.weight", m + "mlp.down_proj.weight", None, False))
    plan.append(("output_norm.weight", "model.norm.weight", None, False))
    if not hp.get("tie_word_embeddings", False):
        plan.append(("output.weight", "lm_head.weight", None, False))
    return plan


def qtype_for(gguf_name, data, dtype):
    """conversion/base.py prepare_tensors: F32 for 1-D, *_norm.weight, non-.weight and position_embd; else the file type."""
    if data.ndim <= 1 or gguf_name.endswith("_norm.weight") or not gguf_name.endswith((".weight", ".lora_a", ".lora_b")) \
            or gguf_name == "position_embd.weight":
        return gguf.GGMLQuantizationType.F32
    return QTYPE[dtype]


def add_tensor(w, name, data, qtype):
    try:
        q = gguf.quants.quantize(data, qtype)
    except gguf.QuantError:
        qtype = gguf.GGMLQuantizationType.F16  # "falling back to F16"
        q = gguf.quants.quantize(data, qtype)
    w.add_tensor(name, q, raw_dtype=qtype)


def rope_freqs(hp):
    """conversion/llama.py generate_extra_tensors, with original_max_position_embeddings read from rope_parameters."""
    import math
    rp = hp["rope_parameters"]
    base = rp.get("rope_theta", 10000.0)
    dim = hp.get("head_dim") or hp["hidden_size"] // hp["num_attention_heads"]
    freqs = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.float32) / dim))
    factor, low, high = rp.get("factor", 8.0), rp.get("low_freq_factor", 1.0), rp.get("high_freq_factor", 4.0)
    old = rp.get("original_max_position_embeddings", 8192)
    low_wl, high_wl = old / low, old / high
    out = []
    for freq in freqs:
        wavelen = 2 * math.pi / freq
        if wavelen < high_wl:
            out.append(1)
        elif wavelen > low_wl:
            out.append(factor)
        else:
            smooth = (old / wavelen - low) / (high - low)
            out.append(1 / ((1 - smooth) / factor + smooth))
    return torch.tensor(out, dtype=torch.float32)


def does_token_look_special(t):
    return (t in ("<pad>", "<mask>", "<2mass>", "[@BOS@]") or (t.startswith("<|") and t.endswith("|>"))
            or (t.startswith("<\uff5c") and t.endswith("\uff5c>")) or (t.startswith("<unused") and t.endswith(">")))


def vocab_gpt2(folder, vocab_size, tokpre):
    """conversion/base.py get_vocab_base (tokpre passed in: see the module docstring)."""
    tokenizer = AutoTokenizer.from_pretrained(folder)
    assert max(tokenizer.vocab.values()) < vocab_size
    reverse_vocab = {id_: t for t, id_ in tokenizer.vocab.items()}
    added_vocab = tokenizer.get_added_vocab()
    decoder = tokenizer.added_tokens_decoder
    tokens, types = [], []
    for i in range(vocab_size):
        if i not in reverse_vocab:
            tokens.append(f"[PAD{i}]")
            types.append(gguf.TokenType.UNUSED)
            continue
        token = reverse_vocab[i]
        if token in added_vocab:
            if not decoder[i].normalized:
                token = tokenizer.decode(tokenizer.encode(token, add_special_tokens=False))
            if decoder[i].special or does_token_look_special(token):
                types.append(gguf.TokenType.CONTROL)
            else:
                token = token.replace("\u2581", " ")
                types.append(gguf.TokenType.USER_DEFINED)
        else:
            types.append(gguf.TokenType.NORMAL)
        tokens.append(token)
    return tokens, types, tokpre


def merge_rank_scores(folder, tokens):
    """Whittle's llama scores: -(rank of the first merge producing the token), else -(number of merges) - 1."""
    model = json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))["model"]
    merges = [m.split(" ") if isinstance(m, str) else m for m in model["merges"]]
    score = {}
    for rank, (a, b) in enumerate(merges):
        score.setdefault(a + b, -float(rank))
    unranked = -float(len(merges)) - 1
    return [score.get(t.decode("utf-8") if isinstance(t, bytes) else t, unranked) for t in tokens]


def write_gguf(folder, arch, dtype, path, name):
    hp = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    with safe_open(str(folder / "model.safetensors"), "pt") as f:
        weights = {k: f.get_tensor(k).float() for k in f.keys()}
    ftype = DTYPES[dtype]
    w = gguf.GGUFWriter(str(path), arch)
    w.add_type(gguf.GGUFType.MODEL)
    w.add_name(name)
    if arch == "gpt2":
        w.add_block_count(hp["n_layer"])
        w.add_context_length(hp["n_positions"])
        w.add_embedding_length(hp["n_embd"])
        w.add_feed_forward_length(hp["n_inner"])
        w.add_head_count(hp["n_head"])
        w.add_layer_norm_eps(hp["layer_norm_epsilon"])
        w.add_file_type(ftype)
    else:
        w.add_block_count(hp["num_hidden_layers"])
        w.add_context_length(hp["max_position_embeddings"])
        w.add_embedding_length(hp["hidden_size"])
        w.add_feed_forward_length(hp["intermediate_size"])
        w.add_head_count(hp["num_attention_heads"])
        w.add_head_count_kv(hp["num_key_value_heads"])
        rp = hp["rope_parameters"]
        if rp.get("rope_type") == "linear":
            w.add_rope_scaling_type(gguf.RopeScalingType.LINEAR)
            w.add_rope_scaling_factor(rp["factor"])
        w.add_rope_freq_base(rp["rope_theta"])
        w.add_layer_norm_rms_eps(hp["rms_norm_eps"])
        head_dim = hp.get("head_dim") or hp["hidden_size"] // hp["num_attention_heads"]
        # TextModel writes key/value_length when the config object has head_dim (LlamaConfig does, Qwen2Config not).
        if AutoConfig.from_pretrained(folder).to_dict().get("head_dim") is not None:
            w.add_key_length(head_dim)
            w.add_value_length(head_dim)
        w.add_file_type(ftype)
        if arch == "llama":
            w.add_vocab_size(hp["vocab_size"])
            w.add_rope_dimension_count(head_dim)
    w.add_quantization_version(gguf.GGML_QUANT_VERSION)

    # Vocabulary: LlamaModel.set_vocab (add_prefix_space first, then LlamaHfVocab) or _set_vocab_gpt2.
    if arch == "llama":
        tc = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
        if (aps := tc.get("add_prefix_space")) is not None:
            w.add_add_space_prefix(aps)
        vocab = gguf.LlamaHfVocab(folder)
        tokens, scores, types = [], [], []
        for text, score, toktype in vocab.all_tokens():
            tokens.append(text)
            scores.append(score)
            types.append(toktype)
        scores = merge_rank_scores(folder, tokens)  # departure: real scores instead of the -1000 placeholder
        w.add_tokenizer_model("llama")
        w.add_tokenizer_pre("default")
        w.add_token_list(tokens)
        w.add_token_scores(scores)
        w.add_token_types(types)
        gguf.SpecialVocab(folder, n_vocab=len(tokens)).add_to_gguf(w)
    else:
        tokens, types, tokpre = vocab_gpt2(folder, hp["vocab_size"], "gpt-2" if arch == "gpt2" else "qwen2")
        w.add_tokenizer_model("gpt2")
        w.add_tokenizer_pre(tokpre)
        w.add_token_list(tokens)
        w.add_token_types(types)
        gguf.SpecialVocab(folder, load_merges=True).add_to_gguf(w)

    if arch == "llama" and hp["rope_parameters"].get("rope_type") == "llama3":
        w.add_tensor("rope_freqs.weight", rope_freqs(hp).numpy())
    for gg, hf, heads, conv in tensor_plan(arch, hp):
        t = weights[hf]
        if conv:
            t = t.transpose(1, 0)
        if heads is not None:
            t = permute(t, hp["num_attention_heads"], heads)
        data = t.contiguous().numpy()
        add_tensor(w, gg, data, qtype_for(gg, data, dtype))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


# MARK: - What the tests compare against

def describe(path, samples):
    """Metadata and tensors of a GGUF as gguf-py's reader sees them."""
    r = gguf.GGUFReader(str(path))
    meta = []
    for field in r.fields.values():
        if field.name.startswith("GGUF."):
            continue
        value_bytes = b"".join(bytes(p.tobytes()) for p in field.parts[3:])
        entry = {"key": field.name, "type": field.types[0].name, "sha256": hashlib.sha256(value_bytes).hexdigest()}
        if field.types[0] == gguf.GGUFValueType.ARRAY:
            entry["element_type"] = field.types[-1].name
            entry["count"] = len(field.data)
        else:
            v = field.contents()
            entry["value"] = v if not isinstance(v, float) else float(np.float32(v))
        meta.append(entry)
    tensors = []
    for t in r.tensors:
        deq = gguf.quants.dequantize(t.data, t.tensor_type).astype("<f4")
        entry = {"name": t.name, "type": t.tensor_type.name, "shape": [int(x) for x in reversed(t.shape)],
                 "offset": int(t.data_offset), "sha256": hashlib.sha256(t.data.tobytes()).hexdigest(),
                 "dequantized_sha256": hashlib.sha256(deq.tobytes()).hexdigest()}
        if t.name in samples:
            entry["first_values"] = [float(x) for x in deq.reshape(-1)[:64]]
        tensors.append(entry)
    return {"file": path.name, "bytes": path.stat().st_size, "metadata": meta, "tensors": tensors}


def state_from_gguf(path, arch, hp):
    """HF state dict from a GGUF's dequantized tensors (the inverse of tensor_plan)."""
    r = gguf.GGUFReader(str(path))
    by_name = {t.name: t for t in r.tensors}
    state = {}
    for gg, hf, heads, conv in tensor_plan(arch, hp):
        t = by_name[gg]
        x = torch.from_numpy(gguf.quants.dequantize(t.data, t.tensor_type).copy()).reshape([int(s) for s in reversed(t.shape)])
        if heads is not None:
            x = unpermute(x, heads)
        if conv:
            x = x.transpose(1, 0).contiguous()
        state[hf] = x
    return state


def logits_of(model_cls, folder, ids, state=None):
    model = model_cls.from_pretrained(folder, dtype=torch.float32).eval()
    if state is not None:
        missing, unexpected = model.load_state_dict(state, strict=False)
        assert not unexpected, unexpected
        assert all(m in ("lm_head.weight",) or m.endswith("attn.bias") for m in missing), missing
        model.tie_weights()
    with torch.no_grad():
        return model(input_ids=ids).logits.float().contiguous()


def build(name, arch, model, tokenizer, model_cls, seed, dtypes, samples):
    folder = _save(name, model, tokenizer, seed)
    hp = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    g = torch.Generator().manual_seed(seed + 1)
    ids = torch.randint(0, hp["vocab_size"], (1, 6), generator=g)
    logits = {"logits": logits_of(model_cls, folder, ids)}
    files = {}
    for dtype in dtypes:
        path = ROOT / f"{name}.{dtype}.gguf"
        write_gguf(folder, arch, dtype, path, name)
        files[dtype] = describe(path, samples)
        logits[f"logits_{dtype}"] = logits_of(model_cls, folder, ids, state_from_gguf(path, arch, hp))
        if dtype == "f32":
            # The F32 file holds the HF weights exactly, so its logits must be the HF logits (checks permute/unpermute).
            assert torch.equal(logits["logits_f32"], logits["logits"]), f"{name}: F32 GGUF logits differ from HF"
        print(f"  {path.name}: {path.stat().st_size} bytes")
    save_file(logits, str(ROOT / f"{name}.logits.safetensors"), metadata={"format": "pt"})
    write_json(f"gguf/{name}.expected.json", {"input_ids": ids.tolist(), "files": files})
    return folder, ids


@fixture("gguf/llama")
def gguf_llama():
    """Tiny llama (C 32, 2/1 heads of 16, F 80, llama3 rope, tied) with tok512 + ChatML tokens: GGUF F32/F16/Q8_0."""
    model, tok = llama_model()
    build("llama", "llama", model, tok, LlamaForCausalLM, 606, ["f32", "f16", "q8_0"],
          {"blk.0.attn_q.weight", "blk.0.attn_k.weight", "blk.1.ffn_down.weight", "rope_freqs.weight"})


@fixture("gguf/gpt2")
def gguf_gpt2():
    """Tiny GPT-2 (E 32, 4 heads, n_inner 96, 32 positions, tied) with a trained 300-token byte-level BPE: F32/F16/Q8_0."""
    model, tok = gpt2_model()
    build("gpt2", "gpt2", model, tok, GPT2LMHeadModel, 707, ["f32", "f16", "q8_0"],
          {"blk.0.attn_qkv.weight", "position_embd.weight"})


@fixture("gguf/qwen2")
def gguf_qwen2():
    """Tiny Qwen2 (C 32, 4/2 heads, q/k/v biases, untied) with a trained Qwen2-style BPE and the Qwen2.5 template: Q8_0."""
    model, tok = qwen2_model()
    build("qwen2", "qwen2", model, tok, Qwen2ForCausalLM, 808, ["q8_0"], {"blk.0.attn_q.weight", "blk.0.attn_q.bias"})


@fixture("gguf/llama-lora")
def gguf_llama_lora():
    """A PEFT LoRA (r 4, alpha 8; q/k/v/o/down) on gguf/llama as GGUF-LoRA (F32), and the merged model's logits."""
    from peft import LoraConfig, get_peft_model
    folder = ROOT / "llama"
    hp = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    base = LlamaForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    cfg = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "down_proj"],
                     lora_dropout=0.0, task_type="CAUSAL_LM")
    model = get_peft_model(base, cfg)
    g = torch.Generator().manual_seed(909)
    with torch.no_grad():
        for n, p in model.named_parameters():
            if "lora_" in n:
                p.copy_(0.2 * torch.randn(p.shape, generator=g))
    out = ROOT / "llama-lora"
    if out.exists():
        shutil.rmtree(out)
    model.save_pretrained(out)
    (out / "README.md").unlink(missing_ok=True)  # PEFT's model-card boilerplate
    # Reproducible file: PEFT writes target_modules from a set (hash order) and the base model's absolute path.
    acfg = json.loads((out / "adapter_config.json").read_text(encoding="utf-8"))
    acfg["target_modules"] = sorted(acfg["target_modules"])
    acfg["base_model_name_or_path"] = "../llama"
    (out / "adapter_config.json").write_text(json.dumps(acfg, indent=2, sort_keys=True), encoding="utf-8")
    ids = torch.tensor(json.loads((ROOT / "llama.expected.json").read_text())["input_ids"])
    with torch.no_grad():
        merged = model.merge_and_unload()
        logits = merged(input_ids=ids).logits.float().contiguous()
    save_file({"logits": logits}, str(ROOT / "llama-lora.logits.safetensors"), metadata={"format": "pt"})

    # convert_lora_to_gguf.py: general.type adapter, adapter.type lora, adapter.lora.alpha; no vocabulary or hparams;
    # lora_a = A [r, in], lora_b = B [out, r] with the q/k row permutation applied to B's rows (LoraTorchTensor).
    with safe_open(str(out / "adapter_model.safetensors"), "pt") as f:
        lora = {k: f.get_tensor(k).float() for k in f.keys()}
    path = ROOT / "llama-lora.f32.gguf"
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_type(gguf.GGUFType.ADAPTER)
    w.add_string(gguf.Keys.Adapter.TYPE, "lora")
    w.add_name("llama-lora")
    w.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(cfg.lora_alpha))
    w.add_quantization_version(gguf.GGML_QUANT_VERSION)
    heads, kv = hp["num_attention_heads"], hp["num_key_value_heads"]
    for gg, hf, perm_heads, _ in tensor_plan("llama", hp):
        module = hf[: -len(".weight")]
        a = lora.get(f"base_model.model.{module}.lora_A.weight")
        b = lora.get(f"base_model.model.{module}.lora_B.weight")
        if a is None:
            continue
        if perm_heads is not None:
            b = permute(b, heads, perm_heads)
        for suffix, t in ((".lora_a", a), (".lora_b", b)):
            data = t.contiguous().numpy()
            add_tensor(w, gg + suffix, data, qtype_for(gg + suffix, data, "f32"))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    write_json("gguf/llama-lora.expected.json", {"input_ids": ids.tolist(), "r": cfg.r, "lora_alpha": cfg.lora_alpha,
                                                 "files": {"f32": describe(path, {"blk.0.attn_q.weight.lora_b"})}})
    print(f"  {path.name}: {path.stat().st_size} bytes")


@fixture("gguf/encoding-edges")
def encoding_edges():
    """F16 and Q8_0 bytes from gguf.quants.quantize for ties, zero blocks, fp16 scale underflow/overflow, subnormals."""
    rng = np.random.default_rng(1234)
    f32 = np.float32

    def block(first, n=32):
        rest = rng.uniform(-1, 1, n - len(first)).astype(f32) * f32(abs(first[0]) if first and first[0] else 1) * f32(0.9)
        return np.concatenate([np.array(first, dtype=f32), rest]).astype(f32)

    cases = [
        ("zero block", np.zeros(32, dtype=f32)),
        ("ties at d = 1", block([127.0, -0.5, 0.5, -1.5, 1.5, 2.5, -2.5, 3.5, -3.5, 125.5, -125.5, 126.5,
                                 np.nextafter(f32(0.5), f32(0)), -np.nextafter(f32(0.5), f32(0)), 0.0, -0.0])),
        ("maximum is negative", block([-3.0, 1.5, 2.9999998, -1e-9])),
        ("scale underflows fp16", block([1e-7, -5e-8, 3e-8])),
        ("scale is an fp16 subnormal", block([5e-4, -2.5e-4, 1e-4])),
        ("scale overflows fp16", block([1e7, -5e6, 123.0])),
        ("random blocks", (rng.standard_normal(128) * 0.1).astype(f32)),
        ("mixed magnitudes", np.concatenate([block([1000.0]), block([1e-3]), np.zeros(32, dtype=f32), block([-7.0])])),
    ]
    # F16-only cases: round-to-nearest-even ties, overflow to infinity, subnormals, signed zero, infinities.
    ties = [1 + 2 ** -11, 1 + 3 * 2 ** -11, -(1 + 2 ** -11), 2048 + 1, 2048 + 3, 65519.0, 65520.0, -65520.0,
            2 ** -25, 3 * 2 ** -25, 2 ** -24, -2 ** -26, -0.0, np.inf, -np.inf, 6.1e-5, 6.0e-5, 1e-8]
    f16_only = np.concatenate([np.array(ties, dtype=f32), np.zeros(32 - len(ties), dtype=f32)])
    out = []
    for name, values in cases:
        out.append({"name": name, "values": [float(v) for v in values],
                    "q8_0": gguf.quants.quantize(values.reshape(1, -1), gguf.GGMLQuantizationType.Q8_0).tobytes().hex(),
                    "f16": gguf.quants.quantize(values, gguf.GGMLQuantizationType.F16).astype("<f2").tobytes().hex()})
    with np.errstate(over="ignore"):
        out.append({"name": "fp16 rounding edges", "values": [float(v) for v in f16_only], "q8_0": None,
                    "f16": gguf.quants.quantize(f16_only, gguf.GGMLQuantizationType.F16).astype("<f2").tobytes().hex()})
    write_json("gguf/encoding_edges.json", out)
