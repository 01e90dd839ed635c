#!/usr/bin/env bash
# The MS-PIT ablation (issue 27): one full quickstart run per recipe (the default; + stage 1a; + stage 1b; + both;
# MS-PIT with 1a, 1b and stage 2), each scored on the test split (by the quickstart itself) and on a dev split that shows
# the held-out (type, input) pairs; then the tables (benchmarks/mspit_ablation.py) in OUT/ablation.md.
#
#   bash scripts/mspit_ablation.sh                                # OUT=runs/mspit, all five recipes
#   RECIPES="mspit" bash scripts/mspit_ablation.sh                # one of them (the tables show those done)
#
# A recipe whose run has finished (OUT/RECIPE/scores.json) is not run again; delete its folder to rerun it.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-runs/mspit}
PY=${PY:-.venv/bin}
RECIPES=${RECIPES:-smollm2 mspit_text mspit_visual mspit_schemas mspit}
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 DS_ACCELERATOR=${DS_ACCELERATOR:-cpu} TOKENIZERS_PARALLELISM=false
mkdir -p "$OUT"
# the held-out dev split: 200 dev records with training names that show the held-out pairs (docs/quickstart.md)
[ -f "$OUT/heldout_dev/corpus.json" ] || "$PY/python" -m reamo.synth "$OUT/heldout_dev" \
  --size train=10,dev=200,test=10 --held-out-in dev test --seed 1 > /dev/null
for r in $RECIPES; do
  [ -f "$OUT/$r/scores.json" ] || "$PY/reamo" quickstart --recipe "$r" --out "$OUT/$r" > "$OUT/$r.log" 2>&1
  if [ ! -s "$OUT/$r/heldout_dev.jsonl" ]; then
    "$PY/python" benchmarks/quickstart_heldout.py --model "$OUT/$r/model" --corpus "$OUT/heldout_dev" --split dev \
      > "$OUT/$r/heldout_dev.jsonl.part"
    mv "$OUT/$r/heldout_dev.jsonl.part" "$OUT/$r/heldout_dev.jsonl"
  fi
done
"$PY/python" benchmarks/mspit_ablation.py --runs "$OUT" | tee "$OUT/ablation.md"
