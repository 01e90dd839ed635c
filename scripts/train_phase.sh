#!/usr/bin/env bash
# One tuning phase with the deepspeed launcher, on one node or many.
#   scripts/train_phase.sh NUM_GPUS configs/phases/phase1_uie.yaml [--set key=value ...]
# NUM_GPUS is per node. Several nodes: a DeepSpeed hostfile (one "HOST slots=N" line per node, see
# configs/deepspeed/hostfile.example) and the address every node reaches the first one at:
#   HOSTFILE=configs/deepspeed/hostfile MASTER_ADDR=10.0.0.1 MASTER_PORT=29500 scripts/train_phase.sh 8 CONFIG
# Two ways to start the other nodes:
#  - over ssh: run the command once, on the first node; the launcher starts the processes on the other nodes with
#    pdsh, in this same folder and venv, which must exist at the same path there;
#  - without ssh (SLURM, Kubernetes): run the same command on every node with NODE_RANK set to the node's line in
#    the hostfile (0 for the first), e.g. NODE_RANK=$SLURM_NODEID.
# NUM_NODES limits how many of the hostfile's nodes are used.
# Variables the remote processes need (NCCL_*, HF_HUB_OFFLINE, ...) go in ./.deepspeed_env, one NAME=value a line.
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
launch=(--num_gpus "$NUM_GPUS" --master_port "${MASTER_PORT:-29500}")
if [ -n "${HOSTFILE:-}" ]; then
  [ -f "$HOSTFILE" ] || { echo "train_phase.sh: HOSTFILE=$HOSTFILE not found" >&2; exit 2; }
  launch+=(--hostfile "$HOSTFILE")
  [ -n "${MASTER_ADDR:-}" ] && launch+=(--master_addr "$MASTER_ADDR")
  [ -n "${NUM_NODES:-}" ] && launch+=(--num_nodes "$NUM_NODES")
  [ -n "${NODE_RANK:-}" ] && launch+=(--no_ssh --node_rank "$NODE_RANK")
fi
rc=0
"$PY/deepspeed" "${launch[@]}" --module reamo.cli train --config "$CONFIG" "$@" || rc=$?
# DeepSpeed's CPU accelerator leaves its shared-memory allreduce buffers behind (2 x 64 MiB a run, in /dev/shm,
# which is RAM): remove this run's
if [ "${DS_ACCELERATOR:-}" = cpu ]; then
  rm -f /dev/shm/deepspeed_allreduce_buffer_*_"${MASTER_PORT:-29500}"_* 2>/dev/null || true
fi
exit $rc
