#!/usr/bin/env bash
# A rehearsal of the 7B recipe (configs/recipes/reamo-7b) end to end at tiny scale, on NPROC processes (default 2;
# CPU and gloo unless DS_ACCELERATOR says otherwise), so that a cluster run cannot die at hour three on a data
# format or a rank mismatch:
#   1. a small real sample of every source in its published format (tests/fixtures/builders/sources.py)
#   2. every builder: `reamo data build caption-pairs | audiocaps | refcoco | ref-youtube-vos | tao | librispeech | meta`,
#      and the phase-1 mixture (`reamo data mix`, 32 examples)
#   3. for phases 2-4, `reamo cache build` under torchrun on NPROC processes (the recipe's embedding cache)
#   4. the four phases through scripts/train_phase.sh with the recipe's own configs (ZeRO-2, streaming shards,
#      dataloader workers, gradient checkpointing), each from the last one's export; only the model (tiny instead
#      of vicuna-7b), the data paths and the sizes (2 steps of 4 examples) are overridden
#   5. `reamo eval` of the final model on a small open benchmark (2 records a set)
#   bash scripts/rehearse_7b.sh [WORK]          # WORK defaults to runs/rehearsal (emptied first)
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${1:-runs/rehearsal}
NPROC=${NPROC:-2}
PY=${VENV:-.venv}/bin
RECIPE=configs/recipes/reamo-7b
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 DS_ACCELERATOR=${DS_ACCELERATOR:-cpu} TOKENIZERS_PARALLELISM=false
rm -rf "$WORK"
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
S=$WORK/sources D=$WORK/data R=$WORK/runs
PORT=${MASTER_PORT:-29500}

echo "== 1. source samples"
"$PY/python" tests/fixtures/builders/sources.py "$S"

echo "== 2. builders"
build() { "$PY/reamo" data build "$@"; }
build caption-pairs --shards "$S/pairs" --out "$D/phase2_pairs" --maxcount 2
build audiocaps --csv "$S/audiocaps/train.csv" --clips "$S/audiocaps/clips" --out "$D/phase2_audiocaps"
build refcoco --refs "$S/refcoco/refs.jsonl" --instances "$S/refcoco/instances.json" --images "$S/refcoco/images" \
  --out "$D/phase3_refcoco"
build ref-youtube-vos --root "$S/ref_youtube_vos/train" --out "$D/phase3_ref_youtube_vos"
build tao --annotations "$S/tao/annotations/train.json" --frames "$S/tao/frames" --out "$D/phase3_tao"
build librispeech --root "$S/librispeech" --out "$D/phase3_librispeech"
build meta --grounded "$D/{phase3_refcoco,phase3_ref_youtube_vos,phase3_tao,phase3_librispeech}/shard-000000.tar" \
  --out "$D/phase4_meta"
"$PY/reamo" data mix --config configs/data/phase1_public.yaml --out "$D/phase1" --set size=32

declare -A DATA=(
  [phase1_uie]="[$D/phase1/train.jsonl]"
  [phase2_alignment]="[$D/phase2_pairs,$D/phase2_audiocaps]"
  [phase3_grounding]="[$D/phase3_refcoco,$D/phase3_ref_youtube_vos,$D/phase3_tao,$D/phase3_librispeech]"
  [phase4_meta]="[$D/phase4_meta]"
)
prev=null
for phase in phase1_uie phase2_alignment phase3_grounding phase4_meta; do
  sets=(--set model=tiny --set "init_from=$prev" --set "output_dir=$R/$phase" --set "data.train=${DATA[$phase]}"
        --set max_steps=2 --set micro_batch_size=1 --set global_batch_size=4 --set save_every=1
        --set max_length=512 --set progress=false)
  if [ "$phase" != phase1_uie ]; then
    echo "== 3. $phase: embedding cache on $NPROC processes"
    "$PY/python" -m torch.distributed.run --nnodes 1 --nproc_per_node "$NPROC" --master_addr 127.0.0.1 \
      --master_port "$PORT" -m reamo.cli cache build --config "$RECIPE/$phase.yaml" "${sets[@]}" --shard-size 4
  fi
  echo "== 4. $phase: training on $NPROC processes"
  MASTER_PORT=$PORT scripts/train_phase.sh "$NPROC" "$RECIPE/$phase.yaml" "${sets[@]}"
  prev="$R/$phase/final"
done

echo "== 5. evaluation"
"$PY/reamo" bench build --out "$WORK/bench" --no-speech --per-set 2
"$PY/reamo" eval --model "$prev" --benchmark "$WORK/bench" --out "$WORK/eval" --limit 2 --batch-size 4
echo "rehearsal done: $prev, $WORK/eval"
