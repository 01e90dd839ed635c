#!/usr/bin/env bash
# MS-PIT's second table (issue 27): real text event extraction with and without stage 1a, from one starting model
# (SmolLM2-135M-Instruct + a fresh LoRA). Data: configs/data/mspit_text_events.yaml (RAMS dev part 1/2 trains, part
# 2/2 and M2E2's text events are the evaluation). Without 1a: EE tuning (phase 1, EE_EPOCHS). With 1a: stage 1a on
# the same records (EE prompts with the event schema, and each event's schema questions from `reamo data build
# schema-qa`; SCHEMA_EPOCHS of them), then the same EE tuning. Then both scored on the evaluation sets; the table
# in OUT/table.md. The defaults fit a 2-core CPU in about 45 minutes (a step of 8 packed 512-token rows: 11 s).
#
#   bash scripts/mspit_text_events.sh          # OUT=runs/mspit_text_events; a finished step is not run again
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-runs/mspit_text_events}
PY=${PY:-.venv/bin}
LIMIT=${LIMIT:-100}
EE_EPOCHS=${EE_EPOCHS:-1}           # 451 documents: 56 steps
SCHEMA_EPOCHS=${SCHEMA_EPOCHS:-0.35}  # of 2,706 examples (the 451 extraction examples and their 2,255 questions)
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 DS_ACCELERATOR=${DS_ACCELERATOR:-cpu} TOKENIZERS_PARALLELISM=false
[ -f "$OUT/data/manifest.json" ] || "$PY/reamo" data mix --config configs/data/mspit_text_events.yaml --out "$OUT/data"
[ -f "$OUT/schema_qa/manifest.json" ] || "$PY/reamo" data build schema-qa --records "$OUT/data/train.jsonl" \
  --out "$OUT/schema_qa" --jsonl
EE=(--config configs/phases/phase1_public.yaml --set "data.train=[$OUT/data/train.jsonl]" --set "epochs=$EE_EPOCHS")
"$PY/reamo" train "${EE[@]}" --set "output_dir=$OUT/ee"
"$PY/reamo" train --config configs/phases/mspit_1a_schema_text.yaml --set model=smollm2-135m \
  --set "data.train=[$OUT/schema_qa/records.jsonl]" --set data.event_schema=null --set data.packing=true \
  --set max_length=512 --set precision=auto --set lr.lora=1.0e-3 --set lr.new_tokens=1.0e-3 --set log_every=20 \
  --set save_every=100 --set "epochs=$SCHEMA_EPOCHS" --set "output_dir=$OUT/1a"
"$PY/reamo" train "${EE[@]}" --set "init_from=$OUT/1a/final" --set "output_dir=$OUT/1a_ee"
for m in ee 1a_ee; do
  "$PY/reamo" eval --model "$OUT/$m/final" --benchmark "$OUT/data/eval/test" --out "$OUT/eval_$m" --limit "$LIMIT" \
    --batch-size 16
done
"$PY/python" benchmarks/mspit_ablation.py --text-events "$OUT" | tee "$OUT/table.md"
