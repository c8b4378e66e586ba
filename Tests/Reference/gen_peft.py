"""PEFT LoRA adapters on the tiny HF model fixtures, with peft's merged weights and logits.

Each fixture writes Tests/Reference/fixtures/peft/<case>/:
  adapter/                      peft's own `save_pretrained` output (adapter_config.json, adapter_model.safetensors;
                                its README.md model-card stub is deleted), made with `get_peft_model(base,
                                LoraConfig(...))` and lora_A / lora_B overwritten from a seeded generator (peft
                                initialises B to zero, which would make every check trivially pass). When lm_head is
                                targeted peft also saves a full copy of it as `lm_head.base_layer.weight`;
  merged/                       transformers' `save_pretrained` (fp32, HF names and layout: GPT-2 Conv1D weights
                                stay [in, out]) of the model peft's `merge_and_unload()` returns: config.json and
                                model.safetensors only;
  expected_logits.safetensors   "adapter_logits" F32 [2, 7, V]: base + adapter run *unmerged* by peft in fp32 (for
                                the unmerged inference path), and "merged_logits" F32 [2, 7, V]: the merged folder
                                reloaded by transformers in fp32;
  expected.json                 {"input_ids", "base", "r", "lora_alpha", "use_rslora", "lora_dropout",
                                 "fan_in_fan_out", "scaling" (peft's LoraLayer.scaling per adapted module),
                                 "targeted_modules" (peft's targeted_module_names), "untied_for_merge", ...}.

The base models are the fixtures of gen_models.py, loaded in fp32 (bf16/f16 files upcast exactly).

Tied lm_head: peft 0.21.2 does wrap a tied lm_head in LoRA (with a warning), and its forward is right, but
`merge_and_unload()` adds the delta in place to the one Parameter that lm_head shares with embed_tokens, so the
input embeddings change too and the merged model no longer equals the adapter (the generator asserts this and records
the size of the damage). The reference merge for that case follows the route peft's own warning prescribes: load the
base with `tie_word_embeddings=False`, copy the embeddings into lm_head, load the same adapter, merge.

modules_to_save (`perturb_saved=True`): peft trains a full copy of each matched module (suffix match, so "norm" takes
every input/post-attention layernorm and model.norm) and saves it beside the LoRA tensors as
`base_model.model.<module>.weight`. The copies are perturbed after A/B (matrices += 0.05·randn, norm vectors :=
1 + 0.2·randn) so they differ from the base. With `ensure_weight_tying` on a tied model peft makes lm_head's copy a
Linear on the embedding copy's Parameter, appends "model.embed_tokens" to the saved `modules_to_save`, and still
writes the lm_head copy into the adapter file as `base_model.model.lm_head.weight` (equal to the embedding copy). The
generator asserts the adapter equals a plain transformers model built by hand (LoRA deltas added, copies written in;
a tied model gets only the embedding copy), that the saved folder reloads to the same logits, and records
"modules_to_save" / "ensure_weight_tying" (as saved), "modules_to_save_wrapped" and "saved_tensors" (non-LoRA names).

Without `ensure_weight_tying`, modules_to_save ["embed_tokens", "lm_head"] on a tied model (axolotl's
`lora_modules_to_save: [embed_tokens, lm_head]`) gives two independent copies (peft warns and goes on), so the adapter
unties the model: both copies are saved and perturbed apart, and the plain equivalent is the base loaded with
`tie_word_embeddings=False` with both copies written in. peft's `merge_and_unload()` notices that the output and input
embeddings no longer share storage and sets `tie_word_embeddings=False` itself, so `merged/` holds its own lm_head.weight;
the generator asserts that (and, were it not so, would build `merged/` the untie-first way and record
"untied_for_merge").
"""
import json
import shutil
import warnings

import torch
from safetensors.torch import save_file
from transformers import AutoModelForCausalLM

from registry import OUT, fixture, write_json

VOCAB = 301
MODELS = OUT / "models"


def _base(name, **kw):
    model = AutoModelForCausalLM.from_pretrained(MODELS / name, dtype=torch.float32, **kw).eval()
    # A stable, machine-independent base_model_name_or_path in adapter_config.json.
    model.name_or_path = f"Tests/Reference/fixtures/models/{name}"
    return model


def _lora_layers(peft_model):
    from peft.tuners.lora import LoraLayer
    return [(n, m) for n, m in peft_model.base_model.model.named_modules() if isinstance(m, LoraLayer)]


def _saved_copies(peft_model):
    """peft's ModulesToSaveWrapper modules (sorted names): the wrapped base module and its trainable copy."""
    from peft.utils.other import ModulesToSaveWrapper
    return sorted((n, m) for n, m in peft_model.base_model.model.named_modules() if isinstance(m, ModulesToSaveWrapper))


def _plain_equivalent(base_name, peft_model, untie=False):
    """The adapter in plain transformers terms, without peft's merge: each LoRA delta scaling · B @ A added to its
    base weight by hand, and each modules_to_save copy written into the module it replaces (a tied model gets only
    its embedding copy; its lm_head follows through transformers' own tying). With `untie` the base is loaded with
    tie_word_embeddings=False and gets every copy, lm_head's included."""
    plain = _base(base_name, tie_word_embeddings=False) if untie else _base(base_name)
    tied = bool(plain.config.tie_word_embeddings)
    with torch.no_grad():
        for name, layer in _lora_layers(peft_model):
            a, b = layer.lora_A["default"].weight, layer.lora_B["default"].weight
            delta = layer.scaling["default"] * (b @ a)
            w = plain.get_submodule(name).weight
            w.add_(delta.t() if peft_model.peft_config["default"].fan_in_fan_out else delta)
        for name, wrapper in _saved_copies(peft_model):
            if tied and name == "lm_head":
                continue
            for key, value in wrapper.modules_to_save["default"].state_dict().items():
                plain.get_submodule(name).get_parameter(key).copy_(value)
    if tied:
        assert plain.lm_head.weight is plain.get_input_embeddings().weight
    if untie:
        assert plain.lm_head.weight is not plain.get_input_embeddings().weight
        assert not torch.equal(plain.lm_head.weight, plain.get_input_embeddings().weight)
    return plain


def _untied_peft(base_name, folder):
    """The base loaded untied (lm_head a copy of the embeddings) with the saved adapter on top: peft's documented way
    to merge an adapter whose merge must not write into shared embeddings."""
    from peft import PeftModel
    untied = _base(base_name, tie_word_embeddings=False)
    with torch.no_grad():
        untied.lm_head.weight.copy_(untied.get_input_embeddings().weight)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return PeftModel.from_pretrained(untied, folder / "adapter").eval()


def _make_case(case, base_name, lora_kwargs, seed, scale_a=0.2, scale_b=0.2, perturb_saved=False):
    from peft import LoraConfig, PeftModel, get_peft_model
    folder = OUT / "peft" / case
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    torch.manual_seed(0)
    base = _base(base_name)
    tied = bool(base.config.tie_word_embeddings)
    config = LoraConfig(task_type="CAUSAL_LM", **lora_kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pm = get_peft_model(base, config)
    g = torch.Generator().manual_seed(seed)
    scaling = {}
    with torch.no_grad():
        for name, layer in sorted(_lora_layers(pm)):
            a, b = layer.lora_A["default"].weight, layer.lora_B["default"].weight
            a.copy_(scale_a * torch.randn(a.shape, generator=g))
            b.copy_(scale_b * torch.randn(b.shape, generator=g))
            scaling[name] = float(layer.scaling["default"])
        if perturb_saved:
            # modules_to_save copies start equal to the base; move them (same generator, after A/B) so a reader that
            # ignored them, or used the base module instead of the copy, fails. Shared parameters (a tied lm_head
            # copy is the embedding copy's Parameter) are listed once by named_parameters.
            for name, p in sorted(pm.named_parameters()):
                if ".modules_to_save.default." in name:
                    if p.dim() == 1:
                        p.copy_(1 + 0.2 * torch.randn(p.shape, generator=g))
                    else:
                        p.add_(0.05 * torch.randn(p.shape, generator=g))
    pm.save_pretrained(folder / "adapter")
    (folder / "adapter" / "README.md").unlink()  # peft's model-card stub; not part of the adapter format

    g = torch.Generator().manual_seed(seed + 1)
    ids = torch.randint(0, VOCAB, (2, 7), generator=g)
    pm.eval()
    with torch.no_grad():
        adapter_logits = pm(input_ids=ids).logits.float().contiguous()

    extra = {}
    unties = False  # a tied model whose lm_head the adapter replaces with its own copy (modules_to_save, no tying)
    if config.modules_to_save:
        extra.update(_check_saved_copies(case, base_name, folder, pm, ids, adapter_logits, tied))
        unties = tied and not extra["ensure_weight_tying"] and "lm_head" in extra["modules_to_save_wrapped"]
    targets_lm_head = any(n == "lm_head" for n in pm.targeted_module_names)
    if tied and targets_lm_head:
        # peft's in-place merge corrupts the shared embeddings: show it, then merge the documented way.
        embed_before = pm.base_model.model.get_input_embeddings().weight.detach().clone()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            naive = pm.merge_and_unload()
        change = (naive.get_input_embeddings().weight - embed_before).abs().max().item()
        with torch.no_grad():
            naive_gap = (naive(input_ids=ids).logits - adapter_logits).abs().max().item()
        assert change > 0 and naive_gap > 1e-2, (change, naive_gap)
        extra["peft_inplace_merge_embedding_change"] = change
        extra["peft_inplace_merge_logit_gap"] = naive_gap
        pm = _untied_peft(base_name, folder)
        with torch.no_grad():
            gap = (pm(input_ids=ids).logits - adapter_logits).abs().max().item()
        assert gap < 1e-5, gap
        extra["untied_for_merge"] = True
    _merge_and_save(pm, folder / "merged")
    if unties and not _merged_folder_untied(folder / "merged"):
        # peft/transformers re-tied the merged model or dropped its lm_head: merge the documented way instead.
        shutil.rmtree(folder / "merged")
        pm = _untied_peft(base_name, folder)
        _merge_and_save(pm, folder / "merged")
        assert _merged_folder_untied(folder / "merged"), f"{case}: the untie-first merge is still tied"
        extra["untied_for_merge"] = True
    ref = AutoModelForCausalLM.from_pretrained(folder / "merged", dtype=torch.float32).eval()
    with torch.no_grad():
        merged_logits = ref(input_ids=ids).logits.float().contiguous()
    gap = (merged_logits - adapter_logits).abs().max().item()
    rel = gap / adapter_logits.abs().max().item()
    assert rel < 1e-5, f"{case}: merged and unmerged logits differ by {gap}"
    with torch.no_grad():
        base_gap = (_base(base_name)(input_ids=ids).logits - adapter_logits).abs().max().item()
    assert base_gap > 1e-1, f"{case}: the adapter barely changes the logits ({base_gap})"
    save_file({"adapter_logits": adapter_logits, "merged_logits": merged_logits},
              str(folder / "expected_logits.safetensors"), metadata={"format": "pt"})
    write_json(f"peft/{case}/expected.json", {
        "base": base_name, "input_ids": ids.tolist(),
        "r": config.r, "lora_alpha": config.lora_alpha, "use_rslora": config.use_rslora,
        "lora_dropout": config.lora_dropout, "fan_in_fan_out": bool(pm.peft_config["default"].fan_in_fan_out),
        "layers_to_transform": config.layers_to_transform,
        "targeted_modules": sorted(scaling), "scaling": scaling,
        "merged_tie_word_embeddings": bool(ref.config.tie_word_embeddings),
        "merged_vs_adapter_max_abs_logit_gap": gap, "adapter_vs_base_max_abs_logit_gap": base_gap,
        **extra,
    })
    print(f"  {case}: {len(scaling)} adapted modules, merged vs unmerged max |Δ| {gap:.3g}, adapter moves logits by {base_gap:.3g}")


def _merge_and_save(pm, out):
    """peft's merge_and_unload, saved by transformers (config.json and model.safetensors only)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        merged = pm.merge_and_unload()
    merged.save_pretrained(out, safe_serialization=True)
    (out / "generation_config.json").unlink(missing_ok=True)


def _merged_folder_untied(out):
    """Whether a merged folder is untied: tie_word_embeddings false and its own lm_head.weight (not the embeddings)."""
    from safetensors.torch import load_file
    tensors = load_file(str(out / "model.safetensors"))
    tie = json.loads((out / "config.json").read_text()).get("tie_word_embeddings", True)
    return (tie is False and "lm_head.weight" in tensors
            and not torch.equal(tensors["lm_head.weight"], tensors["model.embed_tokens.weight"]))


def _check_saved_copies(case, base_name, folder, pm, ids, adapter_logits, tied):
    """modules_to_save checks: the copies differ from the base, a tied lm_head runs on the embedding copy, the
    adapter equals its plain-transformers equivalent and reloads from its folder; returns the expected.json keys."""
    from peft import PeftModel
    from safetensors.torch import load_file
    wrappers = dict(_saved_copies(pm))
    for name, w in wrappers.items():
        for key, value in w.modules_to_save["default"].state_dict().items():
            moved = (value - w.original_module.state_dict()[key]).abs().max().item()
            assert moved > 1e-2, f"{case}: the copy of {name}.{key} was not perturbed ({moved})"
    saved_config = json.loads((folder / "adapter" / "adapter_config.json").read_text())
    ensure = bool(saved_config["ensure_weight_tying"])
    if tied and ensure:
        embed = pm.base_model.model.get_input_embeddings()    # the wrapper itself
        assert embed is wrappers["model.embed_tokens"] and "lm_head" in wrappers, sorted(wrappers)
        head = wrappers["lm_head"].modules_to_save["default"]
        assert head.weight is embed.modules_to_save["default"].weight, f"{case}: lm_head does not share the embedding copy"
        trainable = [n for n, p in pm.named_parameters() if p.requires_grad and p.dim() == 2 and "lora_" not in n]
        assert trainable == ["base_model.model.model.embed_tokens.modules_to_save.default.weight"], trainable
    unties = tied and not ensure and "lm_head" in wrappers
    if unties:
        # Two independent trainable copies: the adapter unties the model.
        assert saved_config["ensure_weight_tying"] is False, saved_config["ensure_weight_tying"]
        embed, head = wrappers["model.embed_tokens"].modules_to_save["default"], wrappers["lm_head"].modules_to_save["default"]
        assert head.weight is not embed.weight and not torch.equal(head.weight, embed.weight), f"{case}: copies not apart"
        trainable = [n for n, p in pm.named_parameters() if p.requires_grad and p.dim() == 2 and "lora_" not in n]
        assert trainable == ["base_model.model.model.embed_tokens.modules_to_save.default.weight",
                             "base_model.model.lm_head.modules_to_save.default.weight"], trainable
    with torch.no_grad():
        plain = _plain_equivalent(base_name, pm, untie=unties)
        plain_gap = (plain(input_ids=ids).logits - adapter_logits).abs().max().item()
    assert plain_gap / adapter_logits.abs().max().item() < 1e-5, f"{case}: adapter vs plain equivalent {plain_gap}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reloaded = PeftModel.from_pretrained(_base(base_name), folder / "adapter").eval()
    with torch.no_grad():
        reload_gap = (reloaded(input_ids=ids).logits - adapter_logits).abs().max().item()
    assert reload_gap == 0.0, f"{case}: the saved adapter reloads with other logits ({reload_gap})"
    saved = load_file(str(folder / "adapter" / "adapter_model.safetensors"))
    saved_tensors = sorted(k for k in saved if "lora_" not in k)
    extra = {"modules_to_save": saved_config["modules_to_save"], "ensure_weight_tying": ensure,
             "modules_to_save_wrapped": sorted(wrappers), "saved_tensors": saved_tensors,
             "adapter_vs_plain_equivalent_max_abs_logit_gap": plain_gap}
    if tied and ensure:
        head_key, embed_key = "base_model.model.lm_head.weight", "base_model.model.model.embed_tokens.weight"
        if head_key in saved:
            assert torch.equal(saved[head_key], saved[embed_key]), f"{case}: saved lm_head copy is not the embedding copy"
            extra["saved_lm_head_equals_embedding_copy"] = True
    if unties:
        head_key, embed_key = "base_model.model.lm_head.weight", "base_model.model.model.embed_tokens.weight"
        assert head_key in saved and embed_key in saved, saved_tensors
        base_embed = _base(base_name).get_input_embeddings().weight
        assert not torch.equal(saved[head_key], saved[embed_key]), f"{case}: the saved copies are equal"
        for key in (head_key, embed_key):
            assert (saved[key] - base_embed).abs().max().item() > 1e-2, f"{case}: saved {key} is the base embedding"
    return extra


@fixture("peft/llama_all_linear")
def llama_all_linear():
    """Llama (untied) with LoRA on q/k/v/o and gate/up/down in every layer, r 4, alpha 8."""
    _make_case("llama_all_linear", "llama_untied",
               dict(r=4, lora_alpha=8, target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj",
                                                       "down_proj"]), seed=1101)


@fixture("peft/llama_layers_rslora")
def llama_layers_rslora():
    """Llama (untied), rsLoRA r 3 alpha 8, q/o/down only in layers 0 and 2 (layers_to_transform), dropout 0.05."""
    _make_case("llama_layers_rslora", "llama_untied",
               dict(r=3, lora_alpha=8, use_rslora=True, lora_dropout=0.05,
                    target_modules=["q_proj", "o_proj", "down_proj"], layers_to_transform=[0, 2]), seed=1202)


@fixture("peft/llama_tied_lm_head")
def llama_tied_lm_head():
    """Llama with tied embeddings (bf16 weights) and LoRA on q_proj, v_proj and the tied lm_head, r 4, alpha 8."""
    _make_case("llama_tied_lm_head", "llama_tied_bf16",
               dict(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj", "lm_head"]), seed=1303)


@fixture("peft/qwen2_regex")
def qwen2_regex():
    """Qwen2 (f16 weights) with target_modules as a regex string (full match): k/v in layers 1-2, up_proj everywhere."""
    _make_case("qwen2_regex", "qwen2_f16",
               dict(r=3, lora_alpha=8, target_modules=r"model\.layers\.[12]\.self_attn\.(k|v)_proj|.*\.mlp\.up_proj"),
               seed=1404)


@fixture("peft/gpt2_conv1d")
def gpt2_conv1d():
    """GPT-2 (tied, Conv1D) with LoRA on c_attn, c_proj (attention and MLP) and c_fc, r 4, alpha 8, fan_in_fan_out."""
    _make_case("gpt2_conv1d", "gpt2_tied",
               dict(r=4, lora_alpha=8, target_modules=["c_attn", "c_proj", "c_fc"], fan_in_fan_out=True), seed=1505)


@fixture("peft/llama_tied_modules_to_save")
def llama_tied_modules_to_save():
    """Llama with tied embeddings (bf16 weights): LoRA on q_proj/v_proj, r 4, alpha 8, and modules_to_save embed_tokens
    plus every *norm (input/post-attention layernorms and the final norm), ensure_weight_tying; the copies perturbed."""
    _make_case("llama_tied_modules_to_save", "llama_tied_bf16",
               dict(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], modules_to_save=["embed_tokens", "norm"],
                    ensure_weight_tying=True), seed=1606, perturb_saved=True)


@fixture("peft/llama_untied_modules_to_save")
def llama_untied_modules_to_save():
    """Llama (untied) with LoRA on all 7 projections, r 4, alpha 8, and modules_to_save embed_tokens and lm_head (two
    independent copies, each perturbed)."""
    _make_case("llama_untied_modules_to_save", "llama_untied",
               dict(r=4, lora_alpha=8, target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj",
                                                       "down_proj"], modules_to_save=["embed_tokens", "lm_head"]),
               seed=1707, perturb_saved=True)


@fixture("peft/llama_tied_modules_to_save_untied")
def llama_tied_modules_to_save_untied():
    """Llama with tied embeddings (bf16 weights): LoRA on q_proj/v_proj, r 4, alpha 8, and modules_to_save embed_tokens
    and lm_head without ensure_weight_tying (axolotl's lora_modules_to_save on a tied model): two independent copies,
    each perturbed, so the adapter unties the model."""
    _make_case("llama_tied_modules_to_save_untied", "llama_tied_bf16",
               dict(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], modules_to_save=["embed_tokens", "lm_head"],
                    ensure_weight_tying=False), seed=1808, perturb_saved=True)
