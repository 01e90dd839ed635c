"""MUIE metrics (DESIGN.md section 7).

- NER: span micro-F1, boundary and type both right. RE: subject and object boundaries and relation right.
  EE: trigger right when type and trigger span match (ET); argument right when role, event type and span
  match (EA). A "span" is the character offsets when both sides have them, else the normalised text.
- Image grounding: mIoU after Hungarian matching of predicted to gold masks (cost BCE + dice); an unmatched
  gold or predicted mask counts as IoU 0. Video: per-frame Jaccard (a frame missing on one side is an empty
  mask), averaged over frames, tracklets Hungarian-matched. Audio: 1-D IoU of the union of spans.
- Moment retrieval (records with extra["moment"]): the predicted moment is the video span of the first
  predicted item; its IoU is the best over the gold windows; R@1 at IoU 0.5 and 0.7 and the mean IoU.
- Groundings in a modality the record marks absent (extra["media_absent"]) are not scored: no model could
  predict them. Failed items (no prediction) are counted, with the first error, beside the scores.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from reamo.records.masks import mask_iou, rle_decode
from reamo.records import Entity, Record


@dataclass
class PRF:
    tp: int = 0
    n_pred: int = 0
    n_gold: int = 0

    def add(self, pred: list, gold: list) -> None:
        p, g = Counter(pred), Counter(gold)
        self.tp += sum((p & g).values())
        self.n_pred += sum(p.values())
        self.n_gold += sum(g.values())

    @property
    def precision(self) -> float:
        return self.tp / self.n_pred if self.n_pred else 0.0

    @property
    def recall(self) -> float:
        return self.tp / self.n_gold if self.n_gold else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def to_dict(self) -> dict:
        return {"precision": round(self.precision, 4), "recall": round(self.recall, 4), "f1": round(self.f1, 4),
                "tp": self.tp, "n_pred": self.n_pred, "n_gold": self.n_gold}


@dataclass
class MeanScore:
    total: float = 0.0
    n: int = 0

    def add(self, values) -> None:
        for v in values:
            self.total += float(v)
            self.n += 1

    @property
    def value(self) -> float:
        return self.total / self.n if self.n else 0.0

    def to_dict(self) -> dict:
        return {"mean": round(self.value, 4), "n": self.n}


def _norm(s: str) -> str:
    return " ".join(s.split()).casefold()


def _span(x, use_offsets: bool):
    if use_offsets and x.start is not None and x.end is not None:
        return (x.start, x.end)
    return _norm(x.text)


def _has_offsets(items) -> bool:
    return bool(items) and all(i.start is not None for i in items)


def ner_items(rec: Record, offsets: bool) -> list:
    return [(_span(e, offsets), e.type) for e in rec.entities]


def re_items(rec: Record, offsets: bool) -> list:
    out = []
    for r in rec.relations:
        try:
            h, t = r.resolve(rec.entities)
        except ValueError:
            continue
        out.append((_span(h, offsets), r.type, _span(t, offsets)))
    return out


def ee_items(rec: Record, offsets: bool) -> tuple[list, list]:
    trig = [(ev.type, _span(ev.trigger, offsets)) for ev in rec.events]
    args = [(a.role, ev.type, _span(a, offsets)) for ev in rec.events for a in ev.arguments]
    return trig, args


def _offsets_usable(pred: Record, gold: Record) -> bool:
    spans = lambda r: [*r.entities, *[e.trigger for e in r.events], *[a for e in r.events for a in e.arguments]]
    return _has_offsets(spans(gold)) and _has_offsets(spans(pred))


# ---- groundings -------------------------------------------------------------------------------------------
def groundings(rec: Record, modality: str) -> list[dict]:
    """Every grounding of `modality` in a record (entities, relation arguments, events, event arguments),
    one per distinct phrase."""
    seen, out = set(), []
    items: list = list(rec.entities)
    for r in rec.relations:
        items += [x for x in (r.head, r.tail) if isinstance(x, Entity)]
    for ev in rec.events:
        items.append(ev)
        items += ev.arguments
    for it in items:
        g = getattr(it, "grounding", None) or {}
        if modality in g and g[modality] is not None:
            key = _norm(getattr(it, "text", "") or getattr(it, "type", ""))
            if key not in seen:
                seen.add(key)
                out.append(g[modality])
    return out


def _mask(g: dict, shape=None) -> np.ndarray | None:
    if g.get("mask_rle"):
        return rle_decode(g["mask_rle"])
    if g.get("box") and shape is not None:
        m = np.zeros(shape, bool)
        x1, y1, x2, y2 = (int(round(v)) for v in g["box"])
        m[max(0, y1):y2, max(0, x1):x2] = True
        return m
    return None


def bce_dice_cost(p: np.ndarray, g: np.ndarray) -> float:
    pf = np.clip(p.astype(np.float64).ravel(), 1e-6, 1 - 1e-6)
    gf = g.astype(np.float64).ravel()
    bce = -np.mean(gf * np.log(pf) + (1 - gf) * np.log(1 - pf))
    dice = 1 - (2 * (pf * gf).sum() + 1) / (pf.sum() + gf.sum() + 1)
    return float(bce + dice)


def matched_mask_ious(pred: list[np.ndarray], gold: list[np.ndarray]) -> list[float]:
    """Hungarian matching (cost BCE + dice); IoU of each matched pair, 0 for each unmatched mask."""
    if not pred or not gold:
        return [0.0] * (len(pred) + len(gold))
    cost = np.array([[bce_dice_cost(p, g) if p.shape == g.shape else 1e9 for g in gold] for p in pred])
    rows, cols = linear_sum_assignment(cost)
    ious = [mask_iou(pred[r], gold[c]) if pred[r].shape == gold[c].shape else 0.0 for r, c in zip(rows, cols)]
    return ious + [0.0] * (len(pred) + len(gold) - 2 * len(rows))


def image_ious(pred: Record, gold: Record) -> list[float]:
    g = [m for m in (_mask(x) for x in groundings(gold, "image")) if m is not None]
    shape = g[0].shape if g else None
    p = [m for m in (_mask(x, shape) for x in groundings(pred, "image")) if m is not None]
    return matched_mask_ious(p, g)


def tracklet_jaccard(pred: dict, gold: dict) -> float:
    """Per-frame Jaccard averaged over the frames of either side (matched by timestamp, 1 ms)."""
    def frames(t):
        return {round(f["t"], 3): f for f in t.get("frames", [])}

    pf, gf = frames(pred), frames(gold)
    shape = next((rle_decode(f["mask_rle"]).shape for f in [*gf.values(), *pf.values()] if f.get("mask_rle")), None)
    scores = []
    for t in sorted(set(pf) | set(gf)):
        a = _mask(pf[t], shape) if t in pf else None
        b = _mask(gf[t], shape) if t in gf else None
        if a is None and b is None:
            continue
        a = a if a is not None else np.zeros(shape, bool)
        b = b if b is not None else np.zeros(shape, bool)
        if not a.any() and not b.any():
            continue
        scores.append(mask_iou(a, b))
    return float(np.mean(scores)) if scores else 0.0


def video_scores(pred: Record, gold: Record) -> list[float]:
    p, g = groundings(pred, "video"), groundings(gold, "video")
    if not p or not g:
        return [0.0] * (len(p) + len(g))
    j = np.array([[tracklet_jaccard(a, b) for b in g] for a in p])
    rows, cols = linear_sum_assignment(-j)
    return [float(j[r, c]) for r, c in zip(rows, cols)] + [0.0] * (len(p) + len(g) - 2 * len(rows))


def _union(spans) -> list[tuple[float, float]]:
    out = []
    for a, b in sorted((float(a), float(b)) for a, b in spans if b > a):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def span_iou(pred_spans, gold_spans) -> float:
    p, g = _union(pred_spans), _union(gold_spans)
    inter = sum(max(0.0, min(b, d) - max(a, c)) for a, b in p for c, d in g)
    union = sum(b - a for a, b in p) + sum(d - c for c, d in g) - inter
    return inter / union if union > 0 else 0.0


def audio_scores(pred: Record, gold: Record) -> list[float]:
    g = [s for x in groundings(gold, "audio") for s in x.get("spans", [])]
    if not g:
        return []
    p = [s for x in groundings(pred, "audio") for s in x.get("spans", [])]
    return [span_iou(p, g)]


def absent_modalities(rec: Record) -> set[str]:
    """The media a record names but that were never distributed (converters set extra["media_absent"])."""
    a = rec.extra.get("media_absent")
    if a is True:
        return {m for m in ("image", "audio", "video") if getattr(rec, m)}
    return set(a or [])


def segment_iou(a, b) -> float:
    inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    union = (a[1] - a[0]) + (b[1] - b[0]) - inter
    return inter / union if union > 0 else 0.0


def predicted_moment(pred: Record) -> list[float] | None:
    """The video span of the first predicted item that has one (entities, then event triggers)."""
    for x in list(pred.entities) + list(pred.events):
        span = x.grounding.get("video", {}).get("span")
        if span:
            return [float(span[0]), float(span[1])]
    return None


@dataclass
class MomentScores:
    """R@1 at IoU thresholds and mean IoU of the top-1 predicted moment against the best gold window."""

    ious: list = field(default_factory=list)

    def add(self, pred: Record, gold: Record) -> None:
        windows = gold.extra["moment"]["windows"]
        p = predicted_moment(pred)
        self.ious.append(0.0 if p is None else max(segment_iou(p, w) for w in windows))

    def to_dict(self) -> dict:
        n = len(self.ious)
        r = lambda t: round(sum(v >= t for v in self.ious) / n, 4) if n else 0.0
        return {"r1_iou0.5": r(0.5), "r1_iou0.7": r(0.7), "miou": round(sum(self.ious) / n, 4) if n else 0.0, "n": n}


# the parser's warnings (reamo.records.formats) that mean part of an answer did not parse
UNPARSED_WARNINGS = ("answer is not text", "unmatched ')'", "unterminated tuple", "malformed ", "relation tuple with an empty",
                     "event tuple without a Type", "unterminated meta-response")


# ---- a whole set --------------------------------------------------------------------------------------------
@dataclass
class SetScores:
    ner: PRF = field(default_factory=PRF)
    re: PRF = field(default_factory=PRF)
    et: PRF = field(default_factory=PRF)
    ea: PRF = field(default_factory=PRF)
    image: MeanScore = field(default_factory=MeanScore)
    video: MeanScore = field(default_factory=MeanScore)
    audio: MeanScore = field(default_factory=MeanScore)
    moment: MomentScores = field(default_factory=MomentScores)
    records: int = 0
    failed: int = 0
    first_error: str | None = None
    unparsed: int = 0  # answers with a piece that does not parse (skipped; the rest of the answer is scored)
    off_list: int = 0  # answers naming a label that the prompt did not list

    def add_warnings(self, warnings: list[str] | None) -> None:
        """Count an answer's parser warnings (reamo.records.formats): a malformed piece, a label off the list."""
        w = warnings or []
        self.unparsed += any(x.startswith(UNPARSED_WARNINGS) for x in w)
        self.off_list += any(x.startswith("label ") and "is not in the schema" in x for x in w)

    def add(self, pred: Record | None, gold: Record, error: str | None = None) -> None:
        """Score one item; `pred` None (with `error`, its message) is a failed item: it counts as predicting
        nothing, and is counted in `failed`."""
        if pred is None:
            self.failed += 1
            if self.first_error is None:
                self.first_error = error or "no prediction"
        pred = pred or Record(gold.id, gold.task)
        self.records += 1
        absent = absent_modalities(gold)
        if "moment" in gold.extra:
            self.moment.add(pred, gold)
            return
        off = _offsets_usable(pred, gold)
        if gold.task == "ner":
            self.ner.add(ner_items(pred, off), ner_items(gold, off))
        elif gold.task == "re":
            self.re.add(re_items(pred, off), re_items(gold, off))
        else:
            pt, pa = ee_items(pred, off)
            gt, ga = ee_items(gold, off)
            self.et.add(pt, gt)
            self.ea.add(pa, ga)
        if groundings(gold, "image") and "image" not in absent:
            self.image.add(image_ious(pred, gold))
        if groundings(gold, "video") and "video" not in absent:
            self.video.add(video_scores(pred, gold))
        if "audio" not in absent:
            self.audio.add(audio_scores(pred, gold))

    def to_dict(self) -> dict:
        out = {"records": self.records, "failed": self.failed, "first_error": self.first_error,
               "unparsed": self.unparsed, "off_list": self.off_list}
        if self.moment.ious:
            out["moment"] = self.moment.to_dict()
        for k in ("ner", "re", "et", "ea"):
            prf = getattr(self, k)
            if prf.n_gold or prf.n_pred:
                out[k] = prf.to_dict()
        for k, name in (("image", "image_miou"), ("video", "video_j"), ("audio", "audio_iou")):
            ms = getattr(self, k)
            if ms.n:
                out[name] = ms.to_dict()
        return out
