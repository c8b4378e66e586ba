#!/usr/bin/env python3
"""Dev-only: open a GGUF (e.g. one `whittle export` wrote) with gguf-py's GGUFReader, print it, and check what
llama.cpp's loader checks. Not run by CI (CI has no Python); the Swift tests compare against committed fixtures.

    /path/to/venv/bin/python Tests/Reference/check_gguf.py FILE.gguf [REFERENCE.gguf]

Checks: magic and version 3; alignment 32 unless general.alignment says otherwise; tensor data offsets consecutive
in tensor-info order, each padded to the alignment (ggml's gguf.cpp requires exactly this); every tensor dequantizes
to finite values (gguf.quants.dequantize); the keys llama.cpp reads have the types it expects (UINT32 counts, FLOAT32
epsilons and bases, STRING names, BOOL flags); the vocabulary arrays have one entry per token and ids in range;
token_embd rows equal the vocabulary; for general.type adapter, lora_a/lora_b pairs with matching ranks.
With REFERENCE, also reports every metadata key, tensor and data difference against it.
Exit status 1 when a check fails.
"""
import sys

import gguf
import numpy as np

UINT32_KEYS = ["block_count", "context_length", "embedding_length", "feed_forward_length", "attention.head_count",
               "attention.head_count_kv", "rope.dimension_count", "vocab_size", "attention.key_length",
               "attention.value_length"]
FLOAT32_KEYS = ["rope.freq_base", "attention.layer_norm_rms_epsilon", "attention.layer_norm_epsilon",
                "rope.scaling.factor"]


def value(field):
    if field.types[0] == gguf.GGUFValueType.ARRAY:
        if field.types[-1] == gguf.GGUFValueType.STRING:
            return [bytes(field.parts[i]).decode("utf-8", "replace") for i in field.data]
        return [field.parts[i].tolist()[0] for i in field.data]
    return field.contents()


def show(v):
    if isinstance(v, list):
        return f"[{', '.join(repr(x) for x in v[:6])}{', ...' if len(v) > 6 else ''}] ({len(v)})"
    s = repr(v)
    return s if len(s) < 100 else s[:100] + f"... ({len(s)} chars)"


def check(path):
    problems = []
    r = gguf.GGUFReader(path)
    fields = {k: f for k, f in r.fields.items() if not k.startswith("GGUF.")}
    version = r.fields["GGUF.version"].contents()
    if version != 3:
        problems.append(f"version {version}, expected 3")
    print(f"{path}: GGUF v{version}, {len(fields)} keys, {len(r.tensors)} tensors, alignment {r.alignment}")
    for k, f in fields.items():
        types = "/".join(t.name for t in f.types)
        print(f"  {k} {types} = {show(value(f))}")
    arch = value(fields["general.architecture"]) if "general.architecture" in fields else None
    if arch is None:
        problems.append("no general.architecture")
    for suffix in UINT32_KEYS:
        f = fields.get(f"{arch}.{suffix}")
        if f is not None and f.types != [gguf.GGUFValueType.UINT32]:
            problems.append(f"{arch}.{suffix} is {f.types}, llama.cpp expects UINT32")
    for suffix in FLOAT32_KEYS:
        f = fields.get(f"{arch}.{suffix}")
        if f is not None and f.types != [gguf.GGUFValueType.FLOAT32]:
            problems.append(f"{arch}.{suffix} is {f.types}, llama.cpp expects FLOAT32")
    for key, t in [("general.file_type", gguf.GGUFValueType.UINT32), ("general.quantization_version", gguf.GGUFValueType.UINT32),
                   ("tokenizer.ggml.add_bos_token", gguf.GGUFValueType.BOOL), ("tokenizer.ggml.add_eos_token", gguf.GGUFValueType.BOOL),
                   ("tokenizer.ggml.bos_token_id", gguf.GGUFValueType.UINT32), ("tokenizer.ggml.eos_token_id", gguf.GGUFValueType.UINT32),
                   ("tokenizer.chat_template", gguf.GGUFValueType.STRING), ("adapter.lora.alpha", gguf.GGUFValueType.FLOAT32)]:
        if key in fields and fields[key].types != [t]:
            problems.append(f"{key} is {fields[key].types}, expected {t.name}")

    # Offsets: consecutive, padded, as ggml's reader requires.
    expected = 0
    base = min((t.data_offset for t in r.tensors), default=0)
    print("  tensors:")
    for t in r.tensors:
        off = t.data_offset - base
        if off != expected:
            problems.append(f"tensor {t.name} at offset {off}, expected {expected}")
        if t.data_offset % r.alignment:
            problems.append(f"tensor {t.name} data not aligned to {r.alignment}")
        expected = off + (t.n_bytes + r.alignment - 1) // r.alignment * r.alignment
        deq = gguf.quants.dequantize(t.data, t.tensor_type)
        finite = bool(np.isfinite(deq).all())
        if not finite:
            problems.append(f"tensor {t.name} has non-finite values")
        if len(t.name) >= 64:
            problems.append(f"tensor name {t.name} is {len(t.name)} bytes (ggml limit 63)")
        print(f"    {t.name} {t.tensor_type.name} ne={list(map(int, t.shape))} bytes={t.n_bytes} "
              f"max|x|={float(np.abs(deq).max()) if deq.size else 0:.4g}")

    gtype = value(fields["general.type"]) if "general.type" in fields else "model"
    if gtype == "adapter":
        names = {t.name: t for t in r.tensors}
        for n, t in names.items():
            if n.endswith(".lora_a"):
                b = names.get(n[:-1] + "b")
                if b is None:
                    problems.append(f"{n} has no lora_b")
                elif int(t.shape[1]) != int(b.shape[0]):
                    problems.append(f"{n}: rank {int(t.shape[1])} differs from lora_b's {int(b.shape[0])}")
    elif "tokenizer.ggml.tokens" in fields:
        tokens = value(fields["tokenizer.ggml.tokens"])
        for key in ["tokenizer.ggml.token_type", "tokenizer.ggml.scores"]:
            if key in fields and len(fields[key].data) != len(tokens):
                problems.append(f"{key} has {len(fields[key].data)} entries for {len(tokens)} tokens")
        for key in [k for k in fields if k.startswith("tokenizer.ggml.") and k.endswith("_token_id")]:
            if value(fields[key]) >= len(tokens):
                problems.append(f"{key} = {value(fields[key])} is not a token id (vocabulary {len(tokens)})")
        embd = next((t for t in r.tensors if t.name == "token_embd.weight"), None)
        if embd is not None and int(embd.shape[1]) != len(tokens):
            problems.append(f"token_embd.weight has {int(embd.shape[1])} rows for {len(tokens)} tokens")
    else:
        problems.append("no tokenizer.ggml.tokens: llama.cpp cannot tokenize for this model")
    return r, problems


def compare(a, b):
    diffs = []
    fa = {k: f for k, f in a.fields.items() if not k.startswith("GGUF.")}
    fb = {k: f for k, f in b.fields.items() if not k.startswith("GGUF.")}
    if list(fa) != list(fb):
        diffs.append(f"key order/set differs: only here {sorted(set(fa) - set(fb))}, only in reference {sorted(set(fb) - set(fa))}")
    for k in fa.keys() & fb.keys():
        if fa[k].types != fb[k].types or value(fa[k]) != value(fb[k]):
            diffs.append(f"key {k} differs")
    ta = {t.name: t for t in a.tensors}
    tb = {t.name: t for t in b.tensors}
    if list(ta) != list(tb):
        diffs.append("tensor order/set differs")
    for n in ta.keys() & tb.keys():
        x, y = ta[n], tb[n]
        if x.tensor_type != y.tensor_type or list(x.shape) != list(y.shape) or x.data.tobytes() != y.data.tobytes():
            diffs.append(f"tensor {n} differs ({x.tensor_type.name} {list(x.shape)} vs {y.tensor_type.name} {list(y.shape)})")
    return diffs


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    r, problems = check(sys.argv[1])
    if len(sys.argv) == 3:
        ref = gguf.GGUFReader(sys.argv[2])
        diffs = compare(r, ref)
        print(f"against {sys.argv[2]}: {'identical content' if not diffs else f'{len(diffs)} difference(s)'}")
        for d in diffs:
            print("  " + d)
        problems += diffs
    for p in problems:
        print("PROBLEM: " + p)
    print("OK" if not problems else f"{len(problems)} problem(s)")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
