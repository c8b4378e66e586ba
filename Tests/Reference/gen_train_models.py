"""Model-level training references: loss and every parameter gradient, LoRA gradients, 10-step loss curves.

Every case reads a tiny model folder written by gen_models.py (loaded in fp32) and a packed batch of documents.
The reference runs each document *alone* through transformers (eager attention), so a Whittle packed batch that
matches it proves the block-diagonal mask, the position reset and the gradients at once.

Batch rule (Whittle's TokenBatch): document tokens x_0…x_{L-1} with per-token `trained` flags; position p of a
document predicts x_{p+1} when trained[p+1] (target −1 otherwise, and always at the document's last position).
Loss = Σ CE over targets · scale, scale = 1 / (number of targets); gradients of that loss.

Files: fixtures/train/<case>.json (documents, the packed batch arrays, loss sum, count) and
fixtures/train/<case>.safetensors (gradients under Whittle's names and layout: Linear [out, in], GPT-2 Conv1D
transposed; LoRA as <module>.lora_A.weight / .lora_B.weight, plus the adapter's initial values "init/<name>").
"""
import math

import torch
import torch.nn.functional as F
import transformers
from safetensors.torch import save_file
from transformers import AutoModelForCausalLM, get_cosine_schedule_with_warmup

from registry import OUT, fixture, write_json

MODELS = OUT / "models"
CONV1D = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")


def _load(name):
    m = AutoModelForCausalLM.from_pretrained(MODELS / name, dtype=torch.float32, attn_implementation="eager")
    return m.float().eval()   # eval: GPT-2 config dropouts are 0.1; gradients do not depend on the mode otherwise


def _documents(seed, lengths, vocab):
    g = torch.Generator().manual_seed(seed)
    docs = []
    for n in lengths:
        tokens = torch.randint(0, vocab, (n,), generator=g).tolist()
        trained = (torch.rand(n, generator=g) > 0.25).tolist()
        trained[0] = False
        trained[-1] = True          # every document supervises something
        docs.append({"tokens": tokens, "trained": trained})
    return docs


def _pack(rows, length, pad=0):
    """Whittle's BatchStream.assemble in Python: rows of documents → inputs, targets, positions, segment starts."""
    inputs, targets, positions, starts = [], [], [], []
    for docs in rows:
        at = 0
        for d in docs:
            n = len(d["tokens"])
            for k, tok in enumerate(d["tokens"]):
                inputs.append(tok)
                targets.append(d["tokens"][k + 1] if k + 1 < n and d["trained"][k + 1] else -1)
                positions.append(k)
                starts.append(at)
            at += n
        for t in range(at, length):
            inputs.append(pad); targets.append(-1); positions.append(0); starts.append(t)
    return {"batch": len(rows), "length": length, "inputs": inputs, "targets": targets, "positions": positions,
            "segment_starts": starts}


def _doc_loss(model, doc):
    ids = torch.tensor([doc["tokens"]])
    logits = model(input_ids=ids).logits[0]
    n = len(doc["tokens"])
    tg = torch.tensor([doc["tokens"][k + 1] if k + 1 < n and doc["trained"][k + 1] else -100 for k in range(n)])
    return F.cross_entropy(logits, tg, ignore_index=-100, reduction="sum"), int((tg != -100).sum())


def _whittle_name(name):
    return name


def _grads(model, names=None, strip=""):
    out = {}
    for n, p in model.named_parameters():
        if p.grad is None:
            continue
        key = n[len(strip):] if strip and n.startswith(strip) else n
        key = key.replace(".default", "")
        g = p.grad.detach().float()
        if key.endswith(CONV1D) and "lora_" not in key:
            g = g.t()
        out[key] = g.contiguous()
    return out


def _case(name, model_name, rows, length, seed, lora=None):
    model = _load(model_name)
    vocab = model.config.vocab_size
    flat_lengths = [n for r in rows for n in r]
    docs = _documents(seed, flat_lengths, vocab)
    it = iter(docs)
    packed_rows = [[next(it) for _ in r] for r in rows]
    strip = ""
    init = {}
    if lora is not None:
        from peft import LoraConfig, get_peft_model
        model = get_peft_model(model, LoraConfig(**lora, lora_dropout=0.0, bias="none", task_type="CAUSAL_LM"))
        g = torch.Generator().manual_seed(seed + 7)
        with torch.no_grad():
            for n, p in model.named_parameters():
                if "lora_" in n:
                    p.copy_(0.2 * torch.randn(p.shape, generator=g))
                    init["init/" + n[len("base_model.model."):].replace(".default", "")] = p.detach().clone()
        strip = "base_model.model."
    model.zero_grad()
    total, count = 0, 0
    losses = []
    for d in docs:
        s, c = _doc_loss(model, d)
        losses.append(s)
        count += c
    total = sum(losses)
    (total / count).backward()
    grads = _grads(model, strip=strip)
    folder = OUT / "train"
    folder.mkdir(parents=True, exist_ok=True)
    save_file({**grads, **init}, str(folder / f"{name}.safetensors"), metadata={"format": "pt"})
    write_json(f"train/{name}.json", {
        "source": f"torch {torch.__version__}, transformers {transformers.__version__}",
        "model": model_name, "documents": docs, "rows": rows, "batch": _pack(packed_rows, length),
        "loss_sum": total.item(), "count": count, "lora": lora, "gradient_names": sorted(grads),
    })


@fixture("train/llama_untied_grads")
def llama_grads():
    """Full fine-tuning gradients of the tiny Llama (untied) on a packed batch: rows 4+5 and 6+pad, T 10."""
    _case("llama_untied_grads", "llama_untied", rows=[[4, 5], [6]], length=10, seed=11)


@fixture("train/qwen2_grads")
def qwen2_grads():
    """Full fine-tuning gradients of the tiny Qwen2 (q/k/v biases, f16 weights read as fp32), packed 3+3+3, 7."""
    _case("qwen2_grads", "qwen2_f16", rows=[[3, 3, 3], [7]], length=9, seed=12)


@fixture("train/gpt2_grads")
def gpt2_grads():
    """Full fine-tuning gradients of the tiny GPT-2 (tied, Conv1D), packed 5+4 and 8+pad, T 9."""
    _case("gpt2_grads", "gpt2_tied", rows=[[5, 4], [8]], length=9, seed=13)


@fixture("train/llama_lora_grads")
def llama_lora_grads():
    """peft LoRA (r 4, alpha 8, all 7 projections, layers 1-2 only) gradients on the tiny Llama, packed batch."""
    _case("llama_lora_grads", "llama_untied", rows=[[4, 5], [6]], length=10, seed=14,
          lora={"r": 4, "lora_alpha": 8, "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj",
                                                              "up_proj", "down_proj"], "layers_to_transform": [1, 2]})


@fixture("train/gpt2_lora_grads")
def gpt2_lora_grads():
    """peft rsLoRA (r 4, alpha 8, c_attn/c_proj/c_fc, fan_in_fan_out) gradients on the tiny GPT-2, packed batch."""
    _case("gpt2_lora_grads", "gpt2_tied", rows=[[5, 4], [8]], length=9, seed=15,
          lora={"r": 4, "lora_alpha": 8, "target_modules": ["c_attn", "c_proj", "c_fc"], "use_rslora": True,
                "fan_in_fan_out": True})


def _curve(name, model_name, steps, lr, weight_decay, lora=None, seed=21, loraplus_ratio=None, modules_to_save=None,
           ensure_weight_tying=False):
    """`steps` AdamW updates, each 2 micro-batches of one unpadded document (token-weighted), clipping at 1.0,
    cosine schedule with 2 warmup steps; matrices decay, vectors do not (Whittle's rule). With `loraplus_ratio` the
    optimizer is peft's `create_loraplus_optimizer` (lora_B at lr × ratio; its groups take `loraplus_weight_decay`,
    so only weight_decay 0 compares with Whittle, which decays A and B by `weight_decay` alike). `modules_to_save`
    (and `ensure_weight_tying`) go to the LoraConfig: peft trains a full copy of each such module, starting equal to
    the base (so nothing extra is stored in the .safetensors); a copied embedding is a matrix and decays."""
    model = _load(model_name)
    lengths = [5 + (i * 7) % 8 for i in range(2 * steps)]
    docs = _documents(seed, lengths, model.config.vocab_size)
    if lora is not None:
        from peft import LoraConfig, get_peft_model
        saving = {} if modules_to_save is None else {"modules_to_save": list(modules_to_save),
                                                     "ensure_weight_tying": ensure_weight_tying}
        model = get_peft_model(model, LoraConfig(**lora, **saving, lora_dropout=0.0, bias="none", task_type="CAUSAL_LM"))
        g = torch.Generator().manual_seed(seed + 7)
        init = {}
        with torch.no_grad():
            for n, p in model.named_parameters():
                if "lora_" in n:
                    p.copy_(0.2 * torch.randn(p.shape, generator=g))
                    init["init/" + n[len("base_model.model."):].replace(".default", "")] = p.detach().clone()
        save_file(init, str(OUT / "train" / f"{name}.safetensors"), metadata={"format": "pt"})
    params = [p for p in model.parameters() if p.requires_grad]
    copies = {}
    if modules_to_save is not None:
        copies = _trainable_copies(model, tied=ensure_weight_tying and model.config.tie_word_embeddings)
        before = {n: p.detach().clone() for n, p in copies.items()}
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    if loraplus_ratio is not None:
        from peft.optimizers import create_loraplus_optimizer
        assert weight_decay == 0.0
        opt = create_loraplus_optimizer(model, torch.optim.AdamW, lr=lr, loraplus_lr_ratio=loraplus_ratio, foreach=False)
    else:
        opt = torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                                 {"params": no_decay, "weight_decay": 0.0}], lr=lr, foreach=False)
    sched = get_cosine_schedule_with_warmup(opt, num_warmup_steps=2, num_training_steps=steps)
    losses, norms, lrs = [], [], []
    for s in range(steps):
        opt.zero_grad()
        pair = docs[2 * s: 2 * s + 2]
        parts = [_doc_loss(model, d) for d in pair]
        count = sum(c for _, c in parts)
        total = sum(l for l, _ in parts)
        (total / count).backward()
        norms.append(float(torch.nn.utils.clip_grad_norm_(params, 1.0)))
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
        losses.append(total.item() / count)
    extra = {} if loraplus_ratio is None else {"loraplus_lr_ratio": loraplus_ratio}
    if modules_to_save is not None:
        changes = {n: (p.detach() - before[n]).abs().max().item() for n, p in copies.items()}
        assert all(c > 1e-3 for c in changes.values()), changes
        first, last = sum(losses[:3]) / 3, sum(losses[-3:]) / 3
        assert losses[-1] < losses[0] and last < first, losses
        extra.update({"modules_to_save": list(modules_to_save), "ensure_weight_tying": ensure_weight_tying,
                      "trainable_copies": sorted(copies), "copy_max_abs_change": changes})
    write_json(f"train/{name}.json", {
        "source": f"torch {torch.__version__}, transformers {transformers.__version__}",
        "model": model_name, "documents": docs, "steps": steps, "learning_rate": lr, "weight_decay": weight_decay,
        "lora": lora, **extra, "losses": losses, "grad_norms": norms, "learning_rates": lrs,
    })


def _trainable_copies(model, tied):
    """The modules_to_save copies peft trains ({Whittle name: Parameter}); asserts the trainable set is the LoRA
    tensors plus these copies, each once, and, when `tied`, that lm_head runs on the embedding copy's Parameter."""
    from peft.utils.other import ModulesToSaveWrapper
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]    # shared Parameters listed once
    copies = {n[len("base_model.model."):].replace(".modules_to_save.default", ""): p
              for n, p in model.named_parameters() if p.requires_grad and "lora_" not in n}
    assert all(".modules_to_save.default." in n for n in trainable if "lora_" not in n), trainable
    assert len(trainable) == len(set(id(p) for p in model.parameters() if p.requires_grad)), trainable
    if tied:
        inner = model.base_model.model
        embed, head = inner.get_input_embeddings(), inner.lm_head
        assert isinstance(embed, ModulesToSaveWrapper) and isinstance(head, ModulesToSaveWrapper)
        assert list(copies) == ["model.embed_tokens.weight"], sorted(copies)
        assert head.modules_to_save["default"].weight is copies["model.embed_tokens.weight"], "lm_head is not tied"
        assert not embed.original_module.weight.requires_grad
    return copies


@fixture("train/llama_adamw_curve")
def llama_adamw_curve():
    """10 AdamW updates of full fine-tuning on the tiny Llama: loss, grad norm and lr per update."""
    _curve("llama_adamw_curve", "llama_untied", steps=10, lr=3e-3, weight_decay=0.1)


@fixture("train/gpt2_lora_curve")
def gpt2_lora_curve():
    """10 AdamW updates of peft LoRA (r 4, alpha 8, c_attn/c_proj/c_fc) on the tiny GPT-2."""
    _curve("gpt2_lora_curve", "gpt2_tied", steps=10, lr=1e-2, weight_decay=0.0,
           lora={"r": 4, "lora_alpha": 8, "target_modules": ["c_attn", "c_proj", "c_fc"], "fan_in_fan_out": True})


@fixture("train/gpt2_loraplus_curve")
def gpt2_loraplus_curve():
    """10 AdamW updates of peft LoRA+ (create_loraplus_optimizer, ratio 4) with the LoRA of gpt2_lora_curve."""
    _curve("gpt2_loraplus_curve", "gpt2_tied", steps=10, lr=5e-3, weight_decay=0.0, loraplus_ratio=4.0,
           lora={"r": 4, "lora_alpha": 8, "target_modules": ["c_attn", "c_proj", "c_fc"], "fan_in_fan_out": True})


@fixture("train/llama_lora_embed_curve")
def llama_lora_embed_curve():
    """10 AdamW updates of peft LoRA (r 4, alpha 8, all 7 projections) plus modules_to_save embed_tokens with
    ensure_weight_tying on the tied tiny Llama (bf16 weights read as fp32): the lm_head trains the same copy."""
    _curve("llama_lora_embed_curve", "llama_tied_bf16", steps=10, lr=5e-3, weight_decay=0.1,
           lora={"r": 4, "lora_alpha": 8, "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj",
                                                              "up_proj", "down_proj"]},
           modules_to_save=["embed_tokens"], ensure_weight_tying=True)
