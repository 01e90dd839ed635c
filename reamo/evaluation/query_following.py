"""Does grounding follow the query? For inputs whose image, video or audio holds two or more gold items, each
item's instruction is grounded with the gold answer forced (teacher forcing: what the LLM would have written
does not matter here), and the prediction for an item must overlap that item's gold region more than any other
gold region of the same input. A head that segments the most salient object whatever the instruction gets at
most one of an input's items right.

    overlap: image masks -> shared pixels; video -> shared pixels summed over frames; audio -> shared seconds
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from reamo.records.formats import MODULE_OF, answer_and_groundings
from reamo.records.masks import rle_decode


def overlap(modality: str, pred: dict, gold: dict) -> float:
    """How much a predicted grounding shares with a gold one (pixels, pixel-frames or seconds)."""
    if modality == "audio":
        return float(sum(max(0.0, min(b, d) - max(a, c)) for a, b in pred.get("spans", [])
                         for c, d in gold.get("spans", [])))
    if modality == "image":
        pairs = [(pred, gold)]
    else:  # video: frames matched by time
        gold_at = {round(f["t"], 3): f for f in gold.get("frames", [])}
        pairs = [(f, gold_at[round(f["t"], 3)]) for f in pred.get("frames", []) if round(f["t"], 3) in gold_at]
    total = 0.0
    for p, g in pairs:
        if p.get("mask_rle") and g.get("mask_rle"):
            pm, gm = rle_decode(p["mask_rle"]), rle_decode(g["mask_rle"])
            if pm.shape == gm.shape:
                total += float(np.logical_and(pm, gm).sum())
    return total


def follows(own: float, others: list[float]) -> bool:
    """The prediction overlaps its own item's gold region, and more than every other gold region."""
    return own > 0 and all(own > o for o in others)


@dataclass
class QueryFollowing:
    cases: dict = field(default_factory=lambda: {"image": 0, "video": 0, "audio": 0})
    hits: dict = field(default_factory=lambda: {"image": 0, "video": 0, "audio": 0})

    def add(self, modality: str, preds: list[dict | None], golds: list[dict]) -> None:
        """One input's items in one modality: preds[i] is the grounding predicted for gold item i."""
        for i, p in enumerate(preds):
            self.cases[modality] += 1
            if p is None:
                continue
            scores = [overlap(modality, p, g) for g in golds]
            self.hits[modality] += follows(scores[i], scores[:i] + scores[i + 1:])

    def to_dict(self) -> dict:
        return {m: {"cases": n, "hits": self.hits[m], "accuracy": round(self.hits[m] / n, 4) if n else None}
                for m, n in self.cases.items()}


def query_following(reamo, records, base_dir=None) -> dict:
    """Query-following accuracy per modality over the records with two or more gold items in a modality (one
    teacher-forced extract per record: records differ in task and schema)."""
    score = QueryFollowing()
    for r in records:
        answer, grounded = answer_and_groundings(r)
        by_mod = {m: [k for k, g in enumerate(grounded) if g.module == MODULE_OF[m]] for m in MODULE_OF}
        if not any(len(v) >= 2 for v in by_mod.values()):
            continue
        res = reamo.extract(r, task=r.task, schema=r.schema, base_dir=base_dir, answers=[answer])
        if res.error is not None or len(res.instructions) != len(grounded):
            preds = [None] * len(grounded)
        else:
            preds = [ins.grounding for ins in res.instructions]
        for m, idx in by_mod.items():
            if len(idx) >= 2:
                score.add(m, [preds[k] for k in idx], [grounded[k].grounding for k in idx])
    return score.to_dict()
