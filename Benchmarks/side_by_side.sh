#!/usr/bin/env bash
# Whittle beside the PyTorch anchor (../shared/bench), row by row and interleaved (Whittle, then PyTorch, for each
# row), at each thread count. Prints one JSON line per run (Whittle's rows carry "engine": "whittle").
# Usage: PY=/path/to/venv/bin/python Benchmarks/side_by_side.sh infer|train [THREADS...] > results.jsonl
#        WEIGHTS="f32 bf16" … infer: Whittle's inference rows once per weight format (default f32)
#        MODELS="smollm2-135m" …: only these models (default: smollm2-135m stories15m)
#        python3 Benchmarks/summarize_side_by_side.py results.jsonl
# Needs a release build (swift build -c release --product whittle) and the anchor's virtualenv
# (pip install torch transformers peft psutil). A probe of both cores runs before each pair (see ../shared/bench/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:?infer or train}; shift
threads=${*:-1 2}
W=.build/release/whittle
A=../shared/bench
PY=${PY:-python3}
probe=""
if gcc -O2 -march=native -fopenmp -o "${TMPDIR:-/tmp}/whittle-peak" "$A/peak.c" 2>/dev/null; then probe="${TMPDIR:-/tmp}/whittle-peak"; fi
clock() { if [ -n "$probe" ]; then OMP_NUM_THREADS=2 "$probe" clock 2>/dev/null | tr '\n' ' '; fi; }
whittle_rows() {  # one Whittle row as JSON lines tagged with the engine
    "$W" "$@" --json | python3 -c 'import json,sys; d=json.load(sys.stdin)
for r in d["rows"]: r["engine"]="whittle"; r["benchmark"]=d["benchmark"]; print(json.dumps(r))'
}
anchor() { "$PY" "$A/torch_anchor.py" "$@" 2>/dev/null | tail -1 | python3 -c 'import json,sys; r=json.loads(sys.stdin.read()); r["engine"]="pytorch"; print(json.dumps(r))'; }
for t in $threads; do
    echo "{\"probe\": \"$(clock)\", \"threads\": $t}"
    for m in ${MODELS:-smollm2-135m stories15m}; do
        if [ "$what" = infer ]; then
            for w in ${WEIGHTS:-f32}; do whittle_rows bench infer --models "$m" --weights "$w" --threads "$t"; done
            anchor --model "$m" --mode prefill --batch 1 --warmup 1 --steps 3 --threads "$t"
            anchor --model "$m" --mode generate --batch 1 --warmup 1 --steps 2 --threads "$t"
        else
            for b in 1 4; do for mode in full lora; do
                steps=3; [ "$b" = 4 ] && steps=2
                whittle_rows bench train --models "$m" --modes "$mode" --batches "$b" --threads "$t" --steps "$steps"
                am=$mode; [ "$mode" = full ] && am=train
                anchor --model "$m" --mode "$am" --batch "$b" --warmup 1 --steps "$steps" --threads "$t"
            done; done
        fi
    done
    echo "{\"probe\": \"$(clock)\", \"threads\": $t}"
done
