"""Learning on real text: phase 1 (UIE instruction tuning) with the SmolLM2-135M backbone on the real
CoNLL-2003 train file, evaluated on the first 500 test sentences with Reamo's scorer.

    .venv/bin/python benchmarks/conll_smollm2.py --steps 400 --out runs/conll_smollm2      # CPU, ~45 min on 2 cores
    .venv/bin/python benchmarks/conll_smollm2.py --device cuda --steps 3000 ...              # a GPU
Prints steps/s, the F1 before and after training and the command line."""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from reamo.converters import convert  # noqa: E402
from reamo.evaluation.metrics import SetScores  # noqa: E402
from reamo.records import Record, read_jsonl  # noqa: E402


def evaluate(reamo, gold, batch_size):
    s = SetScores()
    res = reamo.extract(gold, task="ner", schema=gold[0].schema, batch_size=batch_size, max_new_tokens=64)
    for g, r in zip(gold, res):
        s.add(None if r.error else Record(g.id, "ner", g.text, entities=r.entities), g)
    return s.ner.to_dict()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "text" / "conll2003"))
    ap.add_argument("--out", default="runs/conll_smollm2")
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--test", type=int, default=500)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--eval-batch", type=int, default=32, help="generation batch of the evaluation")
    ap.add_argument("--before", type=int, default=50, help="test sentences scored before training")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--eval-only", action="store_true",
                    help="score the checkpoint an earlier run left in OUT/phase1/final; no training")
    a = ap.parse_args()
    if a.device == "cpu":
        os.environ.setdefault("DS_ACCELERATOR", "cpu")
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    convert("conll2003", Path(a.data) / "train.txt", out / "train.jsonl")
    convert("conll2003", Path(a.data) / "test.txt", out / "test.jsonl")
    gold = list(read_jsonl(out / "test.jsonl"))[: a.test]
    from reamo.api import Reamo
    from training.config import TrainConfig
    from training.engine import train

    t = time.time()
    before = evaluate(Reamo.from_config("smollm2-135m", device=a.device).eval(), gold[: a.before], a.eval_batch)
    cfg = TrainConfig.from_yaml("configs/phases/phase1_uie.yaml", {
        "model": "smollm2-135m", "init_from": None, "data.train": [str(out / "train.jsonl")], "output_dir": str(out / "phase1"),
        "max_steps": a.steps, "micro_batch_size": a.batch, "lr": {"lora": a.lr, "new_tokens": a.lr},
        "max_length": 256, "log_every": 20, "precision": "auto"})
    t1 = time.time()
    if a.eval_only:
        final = out / "phase1" / "final"
        if not (final / "reamo_checkpoint.json").is_file():
            sys.exit(f"--eval-only: no checkpoint at {final}; run without --eval-only first")
        train_s = None
    else:
        final = train(cfg)
        train_s = time.time() - t1
    t2 = time.time()
    after = evaluate(Reamo.from_pretrained(final, device=a.device).eval(), gold, a.eval_batch)
    eval_s = time.time() - t2
    result = {"steps": a.steps, "steps_per_s": round(a.steps / train_s, 3) if train_s else None,
              "train_s": round(train_s, 1) if train_s else None,
              "eval_s": round(eval_s, 1),
              f"f1_before_first{a.before}": before["f1"], "after": after, "test_sentences": len(gold), "total_s": round(time.time() - t, 1),
              "command": " ".join(sys.argv)}
    (out / "result.json").write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
