#!/usr/bin/env bash
# Phase 1 on public data, end to end: the mixture (with its manifest), training SmolLM2-135M + LoRA on NER, RE and
# EE together, then evaluation on the in-domain test splits and on the zero-shot benchmark.
#
#   bash scripts/phase1_public.sh                       # OUT=runs/phase1_public
#   NYT_DIR=path/to/OneRel/data/NYT bash scripts/phase1_public.sh --set size=8000   # a longer run
#
# NYT_DIR: a folder with NYT's dev_triples.json, test_triples.json and rel2id.json (CasRel JSON, e.g.
# `git clone https://github.com/China-ChallengeHub/OneRel` and point at data/NYT); without it NYT is left out.
# Arguments are passed to `reamo data mix` (e.g. --set size=4000, --source maven=DIR). Training resumes from its
# last checkpoint when rerun; evaluation resumes from the predictions already written. LIMIT: items a set (100).
# TRAIN_SET: overrides of the training config, key=value separated by spaces (none inside a value), e.g.
#   TRAIN_SET="trainable=[lora,new_tokens,llm] lr.llm=1.0e-4"   # the whole LLM tuned as well as LoRA
# Evaluation decodes with --copy-spans (every span a piece of the input text), chosen on the dev splits.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-runs/phase1_public}
PY=${PY:-.venv/bin}
LIMIT=${LIMIT:-100}
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 DS_ACCELERATOR=${DS_ACCELERATOR:-cpu} TOKENIZERS_PARALLELISM=false
src=()
[ -n "${NYT_DIR:-}" ] && src+=(--source "nyt=$NYT_DIR")
read -ra kvs <<< "${TRAIN_SET:-}"  # split on spaces, no globbing ([...] is a YAML list here)
train_set=()
for kv in "${kvs[@]}"; do train_set+=(--set "$kv"); done
"$PY/reamo" data mix --config configs/data/phase1_public.yaml --out "$OUT/data" "${src[@]}" "$@"
"$PY/reamo" train --config configs/phases/phase1_public.yaml \
  --set "data.train=[$OUT/data/train.jsonl]" --set "output_dir=$OUT/phase1" "${train_set[@]}"
MODEL="$OUT/phase1/final"
EVAL=(--limit "$LIMIT" --batch-size 16 --copy-spans)  # one decoding setting for every split
# dev splits (for choices) and in-domain test splits
"$PY/reamo" eval --model "$MODEL" --benchmark "$OUT/data/eval/dev" --out "$OUT/eval_dev" "${EVAL[@]}"
"$PY/reamo" eval --model "$MODEL" --benchmark "$OUT/data/eval/test" --out "$OUT/eval_test" "${EVAL[@]}"
# zero-shot: the open benchmark's text sets, less RAMS (its dev split is in the mixture) and CoNLL04 (trained on)
"$PY/reamo" bench build --out "$OUT/zeroshot_bench" --no-speech --per-set "$LIMIT"
rm -f "$OUT/zeroshot_bench/T/rams.jsonl" "$OUT/zeroshot_bench/T/conll04.jsonl"  # conll04: in-domain (test above)
"$PY/reamo" eval --model "$MODEL" --benchmark "$OUT/zeroshot_bench" --out "$OUT/eval_zeroshot" "${EVAL[@]}"
