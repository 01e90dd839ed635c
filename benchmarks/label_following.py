"""Does a model read the labels it is given? A text NER set scored four ways, each from the same sentences:

  given      the dataset's label list, in its order
  shuffled   the same labels in a new order per sentence
  subset     two of the dataset's labels per sentence (gold keeps only those types): items of an unlisted type
             must be left out
  renamed    unseen names for the same types (person -> human, location -> place, organization -> group,
             miscellaneous -> other thing): the answer must use the names it is given

Prints F1, precision, recall and how many answers named a label off the list, per condition.

    .venv/bin/python benchmarks/label_following.py --model runs/phase1_public/phase1/final \
        --gold runs/phase1_public/data/eval/dev/T/conll03.jsonl --limit 100
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402

from reamo.evaluation.runner import predict_records, score_predictions  # noqa: E402
from reamo.records import read_jsonl  # noqa: E402

RENAME = {"person": "human", "location": "place", "organization": "group", "miscellaneous": "other thing",
          "other": "other thing"}


def variants(gold, seed: int = 0) -> dict[str, list]:
    rng = np.random.default_rng(seed)
    out = {"given": gold, "shuffled": [], "subset": [], "renamed": []}
    for g in gold:
        labels = list(g.schema["entity_types"])
        s = copy.deepcopy(g)
        s.schema = {"entity_types": [labels[i] for i in rng.permutation(len(labels))]}
        out["shuffled"].append(s)
        keep = [labels[i] for i in sorted(rng.choice(len(labels), min(2, len(labels)), replace=False))]
        s = copy.deepcopy(g)
        s.schema = {"entity_types": keep}
        s.entities = [e for e in s.entities if e.type in keep]
        out["subset"].append(s)
        s = copy.deepcopy(g)
        s.schema = {"entity_types": [RENAME.get(t, t) for t in labels]}
        for e in s.entities:
            e.type = RENAME.get(e.type, e.type)
        out["renamed"].append(s)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True, help="a Reamo checkpoint folder")
    ap.add_argument("--gold", required=True, help="an NER set (Reamo JSONL), e.g. a dev split")
    ap.add_argument("--limit", type=int, default=100)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", help="write the figures here as JSON")
    a = ap.parse_args()
    from reamo.api import Reamo

    gold = [g for g in read_jsonl(a.gold) if g.task == "ner"][: a.limit]
    reamo = Reamo.load(a.model).eval(merge_lora=True)
    rows, t = {}, time.time()
    for name, recs in variants(gold, a.seed).items():
        res = predict_records(reamo, recs, Path(a.gold).parent, a.batch_size, max_new_tokens=96)
        preds = {g.id: {**r.to_dict(), "id": g.id} for g, r in zip(recs, res)}
        s = score_predictions(recs, preds).to_dict()
        rows[name] = {"f1": s["ner"]["f1"], "precision": s["ner"]["precision"], "recall": s["ner"]["recall"],
                      "off_list": s["off_list"], "unparsed": s["unparsed"], "items": s["records"]}
    print("| labels | items | F1 | P | R | answers off the list | unparsed |\n|---|---|---|---|---|---|---|")
    for k, v in rows.items():
        print(f"| {k} | {v['items']} | {100 * v['f1']:.1f} | {100 * v['precision']:.1f} | {100 * v['recall']:.1f} | "
              f"{v['off_list']} | {v['unparsed']} |")
    result = {"rows": rows, "seconds": round(time.time() - t, 1), "command": " ".join(sys.argv)}
    if a.out:
        Path(a.out).write_text(json.dumps(result, indent=1))
    print(json.dumps({"seconds": result["seconds"]}))


if __name__ == "__main__":
    main()
