"""A quickstart run's test scores split by the held-out (entity type, input combination) pairs: the records whose
gold holds an entity of a type never seen in training inputs of that combination (corpus.json's
held_out.type_modality: vehicles in audio-only inputs, animals in video-only ones) against all the others. Read
from the run's predictions_test.jsonl; nothing is predicted again.

    .venv/bin/python benchmarks/quickstart_heldout.py --run runs/quickstart
    # or predict a split now, e.g. a dev split that shows the held-out pairs (python -m reamo.synth DIR
    # --held-out-in dev test): the records are read from CORPUS/SPLIT.jsonl, the pairs from CORPUS/corpus.json
    .venv/bin/python benchmarks/quickstart_heldout.py --model runs/quickstart/model --corpus DIR --split dev
    # how well the model fits its own training records, per input combination (the first 20 of each media-only one)
    .venv/bin/python benchmarks/quickstart_heldout.py --model runs/quickstart/model --corpus runs/quickstart/corpus \
        --split train --combos I A V I+A V+A --per-combo 20
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def holds_heldout_pair(record, pairs: set[tuple[str, str]]) -> bool:
    """Whether the record's input shows a type held out of its combination (the corpus lists the types an input
    shows in extra.scene_graph.objects, for every task: event arguments carry no entity type)."""
    combo = record.extra.get("combo")
    return any((t, combo) in pairs for t in record.extra.get("scene_graph", {}).get("objects", []))


def select(records: list, combos: list[str] | None, per_combo: int | None) -> list:
    """The records of the given input combinations (all when None), at most `per_combo` of each, in file order."""
    seen: dict[str, int] = {}
    out = []
    for r in records:
        c = r.extra.get("combo")
        if (combos is None or c in combos) and (per_combo is None or seen.get(c, 0) < per_combo):
            seen[c] = seen.get(c, 0) + 1
            out.append(r)
    return out


def split_scores(gold: list, predictions: list[dict], pairs: set[tuple[str, str]]) -> dict:
    from reamo.evaluation.runner import score_predictions

    by_id = {d["id"]: d for d in predictions}
    held = [g for g in gold if holds_heldout_pair(g, pairs)]
    others = [g for g in gold if not holds_heldout_pair(g, pairs)]
    return {"heldout_pairs": score_predictions(held, by_id).to_dict(),
            "others": score_predictions(others, by_id).to_dict()}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", default="runs/quickstart", help="a quickstart run folder (its test predictions)")
    ap.add_argument("--model", help="predict now with this model folder instead of reading a run's predictions")
    ap.add_argument("--corpus", help="with --model: the corpus folder")
    ap.add_argument("--split", default="dev", help="with --model: the split to predict")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--combos", nargs="+", help="with --model: only records of these input combinations (e.g. I+A)")
    ap.add_argument("--per-combo", type=int, help="with --model: only the first N records of each combination")
    a = ap.parse_args()
    from reamo.records import read_jsonl

    corpus = Path(a.corpus) if a.model else Path(a.run) / "corpus"
    info = json.loads((corpus / "corpus.json").read_text())
    pairs = {(t, c) for t, c in info["held_out"]["type_modality"]}
    gold = list(read_jsonl(corpus / f"{a.split if a.model else 'test'}.jsonl"))
    if a.model:
        from reamo.api import Reamo
        from reamo.evaluation.runner import predict_records

        gold = select(gold, a.combos, a.per_combo)
        reamo = Reamo.from_pretrained(a.model).eval(merge_lora=True)
        predictions = [r.to_dict() for r in predict_records(reamo, gold, corpus, batch_size=a.batch_size,
                                                             max_new_tokens=96)]
    else:
        predictions = [json.loads(line) for line in open(Path(a.run) / "predictions_test.jsonl")]
    from reamo.evaluation.runner import error_message, result_record
    from reamo.quickstart.report import by_combination

    by_id = {d["id"]: d for d in predictions}
    predicted = [(result_record(by_id[g.id]), error_message(by_id[g.id])) for g in gold]
    for combo, s in by_combination(gold, predicted).items():
        print(json.dumps({"combination": combo, "records": s.get("records"),
                          **{k: s[k]["f1"] for k in ("ner", "re", "et", "ea") if isinstance(s.get(k), dict)}}))
    for name, s in split_scores(gold, predictions, pairs).items():
        row = {"part": name, "records": s.get("records")}
        for k in ("ner", "re", "et", "ea"):
            if isinstance(s.get(k), dict):
                row[k] = {x: s[k][x] for x in ("f1", "tp", "n_pred", "n_gold")}
        print(json.dumps(row))


if __name__ == "__main__":
    main()
