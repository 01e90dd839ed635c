"""A finished evaluation's saved answers, parsed again by the current parser and scored: what a parser change does
to a run's figures, without generating again (the answers are the model's, `raw_output` in its predictions).

Text sets only: an answer's items are replaced by the new parse and its warnings by the new parser's, so a set
whose answers carry groundings (instructions) is left out, since its groundings are attached to the old items.
Prints the evaluation table of `reamo eval` and writes it (table.md, scores.json) to --out.

    .venv/bin/python benchmarks/reparse_scores.py --eval runs/p3/eval_dev --benchmark runs/p3/data/eval/dev \
        --out runs/p3/eval_dev_reparsed
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reamo.evaluation.report import discover, markdown_table, write_report  # noqa: E402
from reamo.evaluation.runner import read_predictions, score_predictions  # noqa: E402
from reamo.records import read_jsonl  # noqa: E402
from reamo.records.formats import parse_answer  # noqa: E402
from reamo.records.results import ExtractionResult  # noqa: E402


def reparsed(d: dict, gold) -> dict:
    """A prediction line with its answer parsed again (its error and id kept)."""
    p = parse_answer(d.get("raw_output") or "", gold.task, gold.schema, input_text=gold.text)
    res = ExtractionResult(d["id"], gold.task, gold.text, entities=p.entities, relations=p.relations,
                           events=p.events, warnings=p.warnings, raw_output=d.get("raw_output") or "",
                           schema=gold.schema)
    return {**res.to_dict(), "error": d.get("error")}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--eval", required=True, help="the --out folder of a finished `reamo eval`")
    ap.add_argument("--benchmark", required=True, help="the benchmark folder it evaluated")
    ap.add_argument("--out", required=True, help="where table.md and scores.json go")
    ap.add_argument("--limit", type=int, default=None, help="the --limit of that evaluation")
    a = ap.parse_args(argv)
    results = {}
    for combo, name, task, path in discover(a.benchmark):
        preds = read_predictions([Path(a.eval) / "predictions" / combo / f"{name}.jsonl"])
        if not preds:
            continue
        if any(d.get("instructions") for d in preds.values()):
            print(f"{combo}/{name}: left out (its answers carry groundings)")
            continue
        gold = list(read_jsonl(path))[:a.limit]
        by_id = {g.id: g for g in gold}
        preds = {i: reparsed(d, by_id[i]) for i, d in preds.items() if i in by_id}
        results[(combo, name)] = score_predictions(gold, preds).to_dict()
    write_report(results, a.out)
    print(markdown_table(results))
    print(json.dumps({f"{c}/{s}": {k: v for k, v in r.items() if k in ("ner", "re", "et", "ea")}
                      for (c, s), r in results.items()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
