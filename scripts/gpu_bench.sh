#!/usr/bin/env bash
# The training comparisons of benchmarks/packing_throughput.py at Vicuna-7B shapes on a GPU machine: Reamo packed
# (grouped by length and not)
# and padded under ZeRO-2 and ZeRO-3 on 1 GPU, and on 2 GPUs when there are two, against a plain HF Trainer + peft
# (group_by_length) on 1 GPU; tokens/s, peak memory and MFU per row. Random weights at the real shapes (no
# checkpoint is needed to time a step; pass --set-style overrides through EXTRA to use real ones).
#   bash scripts/gpu_bench.sh [OUT_DIR]          # default OUT_DIR: runs/gpu_bench
# Environment: CONFIG (vicuna-7b), EXAMPLES (64), MICRO (4), MAX_LEN (2048), PEAK_TFLOPS (from the GPU's name).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-runs/gpu_bench}
mkdir -p "$OUT"
PY=${VENV:-.venv}/bin
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
GPUS=$("$PY/python" -c "import torch; print(torch.cuda.device_count())")
[ "$GPUS" -ge 1 ] || { echo "gpu_bench.sh: no CUDA device" >&2; exit 2; }
args=(--config "${CONFIG:-vicuna-7b}" --examples "${EXAMPLES:-64}" --micro-batch "${MICRO:-4}"
      --max-length "${MAX_LEN:-2048}" --warmup 2)
[ -n "${PEAK_TFLOPS:-}" ] && args+=(--peak-tflops "$PEAK_TFLOPS")
"$PY/python" -c "import torch; print('device:', torch.cuda.get_device_name(), 'x', torch.cuda.device_count())" \
  | tee "$OUT/device.txt"
"$PY/python" benchmarks/packing_throughput.py "${args[@]}" --sides hf --work "$OUT/work" | tee "$OUT/hf.txt"
for z in zero2 zero3; do
  CUDA_VISIBLE_DEVICES=0 "$PY/deepspeed" --num_gpus 1 --master_port 29731 benchmarks/packing_throughput.py \
    "${args[@]}" --sides grouped packed padded --deepspeed "configs/deepspeed/$z.json" --work "$OUT/work" \
    | tee "$OUT/${z}_1gpu.txt"
  if [ "$GPUS" -ge 2 ]; then
    "$PY/deepspeed" --num_gpus 2 --master_port 29732 benchmarks/packing_throughput.py \
      "${args[@]}" --sides grouped packed padded --deepspeed "configs/deepspeed/$z.json" --work "$OUT/work" \
      | tee "$OUT/${z}_2gpu.txt"
  fi
done
echo "== all rows (tokens/s: example tokens only; 2-GPU rows count both GPUs) =="
grep -h "^RESULT" "$OUT"/*.txt | sed 's/^RESULT //'
