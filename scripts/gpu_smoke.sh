#!/usr/bin/env bash
# GPU check: the from-scratch quickstart recipe (`--recipe tiny`, no weights needed) at smoke size, all four
# phases under DeepSpeed on the GPU, once in fp32 and once in bf16. Each phase prints where it ran
# ("uie: 2 steps on cuda:0 (bf16), 1 process(es)"). Usage: bash scripts/gpu_smoke.sh [OUT_DIR]
set -uo pipefail
out=${1:-runs/gpu_smoke}
mkdir -p "$out"
py=${PYTHON:-$(command -v .venv/bin/python || command -v python3)}
"$py" -c "import torch; assert torch.cuda.is_available(), 'no GPU'; print('GPU:', torch.cuda.get_device_name(0), 'torch', torch.__version__)" || exit 1
sed 's/precision: fp32/precision: bf16/' configs/quickstart/tiny.yaml > "$out/tiny_bf16.yaml"
status=0
for run in tiny:fp32 "$out/tiny_bf16.yaml":bf16; do
  recipe=${run%:*}; name=${run##*:}
  "$py" -m reamo.cli quickstart --smoke --recipe "$recipe" --out "$out/$name" > "$out/$name.log" 2>&1
  rc=$?; [ $rc -eq 0 ] || status=1
  echo "== $name (exit $rc)"
  grep -E "^((uie|alignment|grounding|meta): [0-9]+ steps on|phase[1-4]_|total:)" "$out/$name.log"
done
exit $status
