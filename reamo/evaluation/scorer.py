"""Score a prediction JSONL against a gold JSONL (any system's predictions, same scorer).

Records are matched by id; a gold record without a prediction counts as an empty prediction. A malformed
line on either side is reported with its file and line number and skipped; the rest are still scored.
Media groundings in predictions are compared as given (masks as COCO RLE at the gold image's size)."""
from __future__ import annotations

from pathlib import Path

from reamo.errors import RecordError
from reamo.evaluation.metrics import SetScores
from reamo.records import read_jsonl


def score_files(predictions: str | Path, gold: str | Path) -> tuple[dict, list[RecordError]]:
    errors: list[RecordError] = []
    preds = {}
    for r in read_jsonl(predictions, errors=errors):
        if r.id in preds:
            errors.append(RecordError(predictions, None, f"duplicate prediction id {r.id!r}; the first is kept"))
            continue
        preds[r.id] = r
    scores = SetScores()
    for g in read_jsonl(gold, errors=errors):
        scores.add(preds.get(g.id), g, f"no prediction with id {g.id!r} in {predictions}")
    out = scores.to_dict()
    out["errors"] = [str(e) for e in errors]
    return out, errors
