"""Tokens per example of each phase of a recipe, and what a phase then costs on a GPU cluster.

Each phase's records (JSON lines, e.g. the builders' `--jsonl` output or `reamo data mix`'s train.jsonl) become
the phase's own examples (training.examples.PhaseExamples: the prompt, the media placeholders, the answer), encoded
by the processor of `--model` with the recipe model's media tokens and chat template. With `--tokens-per-s` (a
measured rate a GPU, e.g. the H100 device check of docs/benchmarks.md) and `--gpus`, it prints the hours a million
examples take: tokens / (gpus x rate / recompute), where `recompute` (4/3 by default) is what gradient
checkpointing adds (one more forward).

    .venv/bin/python benchmarks/phase_tokens.py --recipe configs/recipes/reamo-7b --model smollm2-135m \
        --data phase1_uie=runs/p2/data/train.jsonl phase2_alignment=DIR/records.jsonl ... \
        --tokens-per-s 7142 --gpus 8

The tokenizer is `--model`'s (SmolLM2's, a LLaMA-architecture BPE of 49k pieces, where Vicuna's has 32k): the counts
are the recipe's prompts and answers as that tokenizer cuts them.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def example_lengths(model, cfg, records) -> tuple[list[int], int]:
    """Token counts of the phase examples of (record, path) pairs, and how many records gave none."""
    from training.examples import PhaseExamples

    builder = PhaseExamples(model, cfg)
    lengths, bad = [], 0
    for rec, path in records:
        try:
            exs = builder.examples(rec, path)
        except ValueError:
            bad += 1
            continue
        lengths += [builder.length(e) for e in exs]
    return lengths, bad


def hours_per_million(mean_tokens: float, tokens_per_s: float, gpus: int, recompute: float) -> float:
    return mean_tokens * 1e6 / (gpus * tokens_per_s / recompute) / 3600


def main() -> int:
    import numpy as np

    from training.config import TrainConfig
    from training.data import load_records

    from reamo.api import Reamo
    from reamo.model.config import ReamoConfig

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--recipe", required=True, help="a folder of phase configs (PHASE.yaml)")
    ap.add_argument("--model", default="smollm2-135m", help="the model config whose tokenizer counts")
    ap.add_argument("--data", nargs="+", required=True, metavar="PHASE=FILE.jsonl[,FILE.jsonl...]")
    ap.add_argument("--tokens-per-s", type=float, help="measured training tokens/s a GPU")
    ap.add_argument("--gpus", type=int, default=8)
    ap.add_argument("--recompute", type=float, default=4 / 3, help="cost factor of gradient checkpointing")
    a = ap.parse_args()
    rows, models = [], {}
    for item in a.data:
        phase, _, path = item.partition("=")
        cfg = TrainConfig.from_yaml(Path(a.recipe) / f"{phase}.yaml", {
            "data.train": path.split(","), "data.use_embedding_cache": False, "init_from": None})
        recipe_model = ReamoConfig.named(cfg.model, cfg.model_overrides)
        overrides = {"media_tokens": recipe_model.media_tokens, "max_length": cfg.max_length,
                     "llm": {"chat_template": recipe_model.llm.chat_template}}
        key = json.dumps(overrides, sort_keys=True)  # phases of one recipe share their model: built once
        if key not in models:
            models[key] = Reamo.from_config(a.model, overrides=overrides).model
        model = models[key]
        records, errors = load_records(cfg)
        lengths, bad = example_lengths(model, cfg, records)
        if not lengths:
            print(f"{phase}: no examples from {path}", file=sys.stderr)
            continue
        x = np.array(lengths)
        row = {"phase": phase, "records": len(records), "bad_records": len(errors) + bad, "examples": len(x),
               "mean_tokens": round(float(x.mean()), 1), "p50": int(np.median(x)), "p95": int(np.percentile(x, 95)),
               "max": int(x.max())}
        if a.tokens_per_s:
            ckpt = a.recompute if recipe_model.llm.gradient_checkpointing else 1.0
            row["hours_per_million_examples"] = round(hours_per_million(x.mean(), a.tokens_per_s, a.gpus, ckpt), 2)
        rows.append(row)
        print(json.dumps(row), flush=True)
    if rows:
        cols = list(rows[0])
        print("\n| " + " | ".join(cols) + " |\n|" + "---|" * len(cols))
        for r in rows:
            print("| " + " | ".join(str(r.get(c, "")) for c in cols) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
