#!/usr/bin/env bash
# All four phases in order on NUM_GPUS GPUs; phase k+1 starts from phase k's exported checkpoint.
#   scripts/train_all.sh NUM_GPUS OUT_DIR MODEL [--set key=value ...]
# RECIPE: the folder of the four phase configs (default configs/phases; configs/recipes/reamo-7b: the paper's
# settings on the data of `reamo data mix` and `reamo data build`).
# Several nodes: HOSTFILE, MASTER_ADDR, MASTER_PORT, NUM_NODES, NODE_RANK as for train_phase.sh (NUM_GPUS per node).
# MODEL: a model config name (tiny, vicuna-7b, smollm2-135m). Extra --set pairs (data paths, base
# checkpoint paths as model_overrides.*) apply to phase 1; later phases inherit the model from init_from.
#   scripts/train_all.sh 8 runs/reamo vicuna-7b \
#     --set model_overrides.llm.path=/models/vicuna-7b-v1.5 --set model_overrides.encoder.checkpoint=/models/imagebind_huge.pth
set -euo pipefail
cd "$(dirname "$0")/.."
NUM_GPUS=${1:?usage: train_all.sh NUM_GPUS OUT_DIR MODEL [--set ...]}
OUT=${2:?usage: train_all.sh NUM_GPUS OUT_DIR MODEL [--set ...]}
MODEL=${3:?usage: train_all.sh NUM_GPUS OUT_DIR MODEL [--set ...]}
shift 3
prev=null
for phase in phase1_uie phase2_alignment phase3_grounding phase4_meta; do
  extra=()
  [ "$phase" = phase1_uie ] && extra=("$@")
  scripts/train_phase.sh "$NUM_GPUS" "${RECIPE:-configs/phases}/$phase.yaml" --set "model=$MODEL" \
    --set "init_from=$prev" --set "output_dir=$OUT/$phase" "${extra[@]}"
  prev="$OUT/$phase/final"
done
echo "all four phases done: $prev"
