#!/usr/bin/env python3
"""Markdown tables from Benchmarks/side_by_side.sh output: Whittle beside PyTorch, ratios per row.
Several runs of the same row (files or repeated runs) are reduced to their median."""
import json, statistics, sys
from collections import defaultdict

rows = defaultdict(list)
probes = []
for path in sys.argv[1:]:
    for line in open(path):
        line = line.strip()
        if not line.startswith("{"):
            continue
        r = json.loads(line)
        if "probe" in r:
            probes.append(r)
            continue
        if r.get("engine") == "whittle" and r.get("benchmark") == "infer":
            k = ("infer", r["model"], r["threads"], r.get("weights", "f32"))
            rows[k + ("w_prefill",)].append(r["prefillTokensPerSecond"])
            rows[k + ("w_decode",)].append(r["decodeTokensPerSecond"])
            rows[k + ("w_bound",)].append(r["decodeBoundTokensPerSecond"])
            rows[k + ("w_rss",)].append(r["peakRSSMegabytes"])
        elif r.get("engine") == "whittle" and r.get("benchmark") == "train":
            k = ("train", r["model"], r["threads"], r["mode"], r["batch"])
            rows[k + ("w_tps",)].append(r["tokensPerSecond"])
            rows[k + ("w_rss",)].append(r["peakRSSMegabytes"])
        elif r.get("engine") == "pytorch" and r["mode"] in ("prefill", "generate"):
            k = ("infer", r["model"], r["threads"], "pytorch")
            rows[k + ("p_" + ("prefill" if r["mode"] == "prefill" else "decode"),)].append(r["tokens_per_s"])
            if r["mode"] == "prefill":
                rows[k + ("p_rss",)].append(r.get("peak_rss_mb", float("nan")))
        elif r.get("engine") == "pytorch":
            k = ("train", r["model"], r["threads"], "full" if r["mode"] == "train" else "lora", r["batch"])
            rows[k + ("p_tps",)].append(r["tokens_per_s"])
            rows[k + ("p_rss",)].append(r.get("peak_rss_mb", float("nan")))

def med(k):
    v = rows.get(k)
    return statistics.median(v) if v else float("nan")

keys = sorted({k[:-1] for k in rows})
infer = [k for k in keys if k[0] == "infer" and k[3] != "pytorch"]
train = [k for k in keys if k[0] == "train"]
if infer:
    # Whittle rows per weight format (f32, bf16, f16); the PyTorch anchor is fp32 and the same for each.
    print("| model | threads | Whittle weights | prefill W / PyTorch | decode W / PyTorch | decode bound (weight bytes) | peak RSS W / PyTorch (MB) |")
    print("|---|---|---|---|---|---|---|")
    for k in infer:
        p = k[:3] + ("pytorch",)
        wp, pp, wd, pd = med(k + ("w_prefill",)), med(p + ("p_prefill",)), med(k + ("w_decode",)), med(p + ("p_decode",))
        b = med(k + ("w_bound",))
        print(f"| {k[1]} | {k[2]} | {k[3]} | {wp:.0f} / {pp:.0f} ({wp / pp:.2f}×) | {wd:.1f} / {pd:.1f} ({wd / pd:.2f}×) | "
              f"{b:.1f} ({wd / b:.0%}) | {med(k + ('w_rss',)):.0f} / {med(p + ('p_rss',)):.0f} |")
if train:
    print()
    print("| model | threads | mode | batch | tokens/s W / PyTorch | peak RSS W / PyTorch (MB) |")
    print("|---|---|---|---|---|---|")
    for k in train:
        w, p = med(k + ("w_tps",)), med(k + ("p_tps",))
        wr, pr = med(k + ("w_rss",)), med(k + ("p_rss",))
        print(f"| {k[1]} | {k[2]} | {k[3]} | {k[4]} | {w:.1f} / {p:.1f} ({w / p:.2f}×) | {wr:.0f} / {pr:.0f} ({wr / pr:.2f}×) |")
for p in probes:
    print(f"\nprobe before/after threads={p['threads']}: {p['probe']}", file=sys.stderr)
