#!/usr/bin/env python3
"""Prints a `whittle bench gemm --json` report as a Markdown table (for notes and the README)."""
import json
import sys

r = json.load(open(sys.argv[1]) if len(sys.argv) > 1 else sys.stdin)
for m in r["machine"]:
    print(f"- {m['threads']} thread(s): clock {m['clockGHz']:.2f} GHz, {m['flopsPerCycle']:.0f} FLOP/cycle, "
          f"theoretical peak {m['theoreticalPeakGFLOPS']:.0f} GFLOP/s (FMA loop {m['measuredFMAGFLOPS']:.0f}); "
          f"after the run {next(a['clockGHz'] for a in r['machineAfter'] if a['threads'] == m['threads']):.2f} GHz")
print(f"- OpenBLAS core {r['machine'][0]['blasCore']}; host mode {r.get('hostMode', '?')}\n")
print("| product | form | threads | Swift GFLOP/s | C GFLOP/s | Swift ÷ C | % of peak |")
print("|---|---|---|---|---|---|---|")
for x in r["rows"]:
    print(f"| {x['name']} | {x['form']} | {x['threads']} | {x['swiftGFLOPS']:.1f} | {x['cGFLOPS']:.1f} | {x['ratio']:.3f} | {x['fractionOfPeak'] * 100:.0f}% |")
rs = sorted(x["ratio"] for x in r["rows"])
print(f"\nSwift ÷ C over {len(rs)} rows: median {rs[len(rs) // 2]:.3f}, min {rs[0]:.3f}, max {rs[-1]:.3f}")
