#!/usr/bin/env python3
"""Dev-only check (not run by CI): do peft and transformers accept what Whittle writes?

For every peft fixture case (Tests/Reference/fixtures/peft/<case>/):
  1. Whittle re-writes the peft-made adapter (PEFTAdapter.read → write; the Swift test `writeReadRoundTrip` with
     WHITTLE_PEFT_EXPORT set leaves it in OUT/<case>/adapter). peft loads it onto the fp32 base model
     (`PeftModel.from_pretrained`) and its unmerged logits are compared with the fixture's `adapter_logits`.
  2. `whittle merge` writes merged folders (f32; bf16; f32 sharded at 100KB). transformers loads each
     (`AutoModelForCausalLM.from_pretrained`) and its logits are compared with the fixture's `merged_logits`
     (f32 and sharded: within 1e-4 of the largest logit; bf16: reported, and the config must say bfloat16).

    python Tests/Reference/check_peft.py                 # builds and runs the Swift export, then checks
    python Tests/Reference/check_peft.py --skip-swift    # reuse OUT from an earlier run

Exits non-zero if any check fails.
"""
import argparse
import json
import os
import pathlib
import shutil
import subprocess
import sys
import warnings

import torch
from safetensors.torch import load_file

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parents[1]
FIXTURES = HERE / "fixtures"
CASES = ["llama_all_linear", "llama_layers_rslora", "llama_tied_lm_head", "qwen2_regex", "gpt2_conv1d"]


def rel_err(a, b):
    return ((a - b).abs().max() / b.abs().max()).item()


def logits_of(model, ids):
    with torch.no_grad():
        return model(input_ids=ids).logits.float()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="/tmp/whittle-peft-check", help="where Whittle's output goes")
    parser.add_argument("--skip-swift", action="store_true", help="do not rebuild / re-export; check OUT as it is")
    args = parser.parse_args()
    out = pathlib.Path(args.out)
    whittle = REPO / ".build" / "release" / "whittle"

    if not args.skip_swift:
        if out.exists():
            shutil.rmtree(out)
        out.mkdir(parents=True)
        env = dict(os.environ, WHITTLE_PEFT_EXPORT=str(out))
        subprocess.run(["swift", "test", "-c", "release", "--filter", "PEFTAdapterReadTests/writeReadRoundTrip"],
                       cwd=REPO, env=env, check=True)
        subprocess.run(["swift", "build", "-c", "release", "--product", "whittle"], cwd=REPO, check=True)
        for case in CASES:
            base = FIXTURES / "models" / json.loads((FIXTURES / "peft" / case / "expected.json").read_text())["base"]
            adapter = FIXTURES / "peft" / case / "adapter"
            for name, extra in [("merged-f32", []), ("merged-bf16", ["--dtype", "bf16"]),
                                ("merged-sharded", ["--max-shard-size", "100KB"])]:
                subprocess.run([str(whittle), "merge", "--model", str(base), "--adapter", str(adapter),
                                "--out", str(out / case / name)] + extra, check=True, stdout=subprocess.DEVNULL)

    from peft import PeftModel
    from transformers import AutoModelForCausalLM
    warnings.simplefilter("ignore")
    failures = []
    rows = []
    for case in CASES:
        expected = json.loads((FIXTURES / "peft" / case / "expected.json").read_text())
        ref = load_file(str(FIXTURES / "peft" / case / "expected_logits.safetensors"))
        ids = torch.tensor(expected["input_ids"])
        base_dir = FIXTURES / "models" / expected["base"]

        base = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32).eval()
        peft_model = PeftModel.from_pretrained(base, out / case / "adapter").eval()
        e = rel_err(logits_of(peft_model, ids), ref["adapter_logits"])
        rows.append((case, "peft loads Whittle's adapter (unmerged)", e))
        if e > 1e-5:
            failures.append(f"{case}: peft + Whittle adapter logits off by {e:.3g}")

        for name, tol in [("merged-f32", 1e-4), ("merged-sharded", 1e-4), ("merged-bf16", None)]:
            folder = out / case / name
            config = json.loads((folder / "config.json").read_text())
            model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
            e = rel_err(logits_of(model, ids), ref["merged_logits"])
            rows.append((case, f"transformers loads Whittle's {name}", e))
            if tol is not None and e > tol:
                failures.append(f"{case}: {name} logits off by {e:.3g}")
            if name == "merged-bf16" and config.get("dtype") != "bfloat16":
                failures.append(f"{case}: {name} config dtype is {config.get('dtype')}")
            if name == "merged-sharded" and not (folder / "model.safetensors.index.json").exists():
                failures.append(f"{case}: {name} is not sharded")
            if config.get("tie_word_embeddings") != expected["merged_tie_word_embeddings"]:
                failures.append(f"{case}: {name} tie_word_embeddings {config.get('tie_word_embeddings')}")

    width = max(len(r[1]) for r in rows)
    for case, what, e in rows:
        print(f"{case:22s} {what:{width}s}  max|Δ|/max|ref| = {e:.3g}")
    if failures:
        print("FAILED:\n  " + "\n  ".join(failures))
        sys.exit(1)
    print(f"all {len(rows)} checks passed")


if __name__ == "__main__":
    main()
