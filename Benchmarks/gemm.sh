#!/usr/bin/env bash
# Whittle's GEMM path beside OpenBLAS's own C anchor (../shared/bench/sgemm.c), interleaved A B A B, at 1 and 2 threads.
# `whittle bench gemm` already times the same calls from C in-process; this adds the shared anchor binary as a
# third, independent column. Writes Benchmarks/results/gemm-<date>.txt and prints it.
#   Benchmarks/gemm.sh [rounds]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-2}
shared=../shared/bench
mkdir -p Benchmarks/bin Benchmarks/results
gcc -O2 -o Benchmarks/bin/sgemm "$shared/sgemm.c" $(pkg-config --cflags --libs openblas)
gcc -O2 -march=native -fopenmp -o Benchmarks/bin/peak "$shared/peak.c"
swift build -c release --product whittle >/dev/null
out="Benchmarks/results/gemm-$(date -u +%Y%m%dT%H%M%SZ).txt"
{
  for r in $(seq 1 "$rounds"); do
    for t in 1 2; do
      echo "## round $r, $t thread(s)"
      OMP_NUM_THREADS=2 Benchmarks/bin/peak clock || true
      .build/release/whittle bench gemm --threads "$t" --rounds 3
      OPENBLAS_NUM_THREADS=$t Benchmarks/bin/sgemm | grep -E "square 1024|attn q/o|mlp|lm head"
    done
  done
} 2>&1 | tee "$out"
echo "written: $out"
