#!/usr/bin/env bash
# One tuning phase on NUM_GPUS GPUs with the deepspeed launcher.
#   scripts/train_phase.sh NUM_GPUS configs/phases/phase1_uie.yaml [--set key=value ...]
# Base checkpoints come in as overrides, e.g.
#   --set model=vicuna-7b --set model_overrides.llm.path=/models/vicuna-7b-v1.5 \
#   --set model_overrides.encoder.checkpoint=/models/imagebind_huge.pth \
#   --set model_overrides.grounding.image.checkpoint=/models/sam_vit_h_4b8939.pth
# (a phase with init_from reads the model config from the previous phase's checkpoint folder).
set -euo pipefail
cd "$(dirname "$0")/.."
NUM_GPUS=${1:?usage: train_phase.sh NUM_GPUS CONFIG [--set key=value ...]}
CONFIG=${2:?usage: train_phase.sh NUM_GPUS CONFIG [--set key=value ...]}
shift 2
PY=${VENV:-.venv}/bin
exec "$PY/deepspeed" --num_gpus "$NUM_GPUS" --module reamo.cli train --config "$CONFIG" "$@"
