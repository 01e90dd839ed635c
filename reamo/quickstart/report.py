"""What `reamo quickstart` reports: the targets (issue 13), the before/after table, the same metrics per input
combination, query-following accuracy, per-phase resources, and the pictures of test-split inputs."""
from __future__ import annotations

import json
import resource
from pathlib import Path

from reamo.evaluation.metrics import SetScores

TARGETS = {"ner": 0.85, "re": 0.70, "et": 0.80, "ea": 0.65, "image_miou": 0.60, "audio_iou": 0.70, "video_j": 0.50}
QUERY_FOLLOWING_TARGET = 0.90
COMBOS = ["T", "I", "A", "V", "T+I", "T+A", "T+V", "I+A", "V+A", "T+I+A"]


def value(scores: dict, key: str) -> float | None:
    v = scores.get(key)
    if v is None:
        return None
    return v["f1"] if "f1" in v else v["mean"]


def _f(v) -> str:
    return "-" if v is None else f"{v:.3f}"


def table(before: dict, after: dict) -> str:
    lines = ["| metric | before training | after training | target |", "|---|---|---|---|"]
    for k, t in TARGETS.items():
        b, a = value(before, k), value(after, k)
        ok = "" if a is None else (" (met)" if a >= t else " (missed)")
        lines.append(f"| {k} | {_f(b)} | {_f(a)}{ok} | >= {t:.2f} |")
    return "\n".join(lines) + "\n"


def by_combination(gold: list, predicted: list[tuple]) -> dict[str, dict]:
    """SetScores per input combination (record.extra["combo"]); `predicted` holds (record or None, error)."""
    sets: dict[str, SetScores] = {}
    for g, (p, err) in zip(gold, predicted):
        sets.setdefault(g.extra.get("combo", "?"), SetScores()).add(p, g, err)
    order = [c for c in COMBOS if c in sets] + sorted(c for c in sets if c not in COMBOS)
    return {c: sets[c].to_dict() for c in order}


def combination_table(per_combo: dict[str, dict]) -> str:
    keys = list(TARGETS)
    lines = ["| input | items | " + " | ".join(keys) + " |", "|---" * (len(keys) + 2) + "|"]
    for c, s in per_combo.items():
        lines.append(f"| {c} | {s['records']} | " + " | ".join(_f(value(s, k)) for k in keys) + " |")
    return "\n".join(lines) + "\n"


def query_following_table(qf: dict) -> str:
    lines = ["| modality | inputs' items | follows its query | accuracy | target |", "|---|---|---|---|---|"]
    for m, v in qf.items():
        if v["cases"]:
            ok = " (met)" if v["accuracy"] >= QUERY_FOLLOWING_TARGET else " (missed)"
            lines.append(f"| {m} | {v['cases']} | {v['hits']} | {v['accuracy']:.3f}{ok} | >= {QUERY_FOLLOWING_TARGET:.2f} |")
    return "\n".join(lines) + "\n"


def peak_rss_mib() -> float:
    """This process's peak resident memory so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def phase_figures(phase_dir: Path, seconds: float) -> dict:
    """A phase's wall time, with its last logged steps/s, samples/s and tokens/s (metrics.jsonl) and the
    process's peak RSS when it ended."""
    out = {"seconds": round(seconds, 1), "peak_rss_mib": round(peak_rss_mib())}
    m = phase_dir / "metrics.jsonl"
    if m.is_file():
        lines = [json.loads(x) for x in m.read_text().splitlines() if x.strip()]
        if lines:
            last = lines[-1]
            out.update(steps=last["step"], steps_per_s=round(last["steps_per_s"], 3),
                       samples_per_s=round(last["samples_per_s"], 2), tokens_per_s=round(last["tokens_per_s"], 1),
                       final_loss=round(last["loss"], 4))
    return out


def resources_table(phases: dict) -> str:
    lines = ["| phase | seconds | steps | steps/s | samples/s | tokens/s | peak RSS (MiB) |", "|---|---|---|---|---|---|---|"]
    for name, f in phases.items():
        lines.append(f"| {name} | {f['seconds']} | {f.get('steps', '-')} | {f.get('steps_per_s', '-')} | "
                     f"{f.get('samples_per_s', '-')} | {f.get('tokens_per_s', '-')} | {f['peak_rss_mib']} |")
    return "\n".join(lines) + "\n"


PICTURES = {  # picture name: the input combination whose first test item with 2 items it shows
    "image": "T+I", "audio": "T+A", "video": "T+V"}


def _gold_items(record) -> list:
    """A gold record's grounded items: its entities, or for an event record its arguments."""
    return record.entities or [a for ev in record.events for a in ev.arguments]


def picture_items(gold: list) -> dict[str, int]:
    """Which test items the pictures show: per modality, the first item (in test order) of its combination with
    two or more entities. Chosen before looking at predictions."""
    out = {}
    for name, combo in PICTURES.items():
        for i, g in enumerate(gold):
            if g.extra.get("combo") == combo and len(_gold_items(g)) >= 2:
                out[name] = i
                break
    return out


def draw_pictures(results: list, gold: list, out_dir: Path) -> dict[str, str]:
    out_dir.mkdir(parents=True, exist_ok=True)
    drawn = {}
    for name, i in picture_items(gold).items():
        r, g = results[i], gold[i]
        if not r.ok:
            continue
        gold_audio = [(e.text, e.grounding["audio"]["spans"]) for e in _gold_items(g) if "audio" in e.grounding]
        path = out_dir / f"{name}.png"
        r.visualize(path, gold_audio=gold_audio or None)
        drawn[name] = str(path)
    return drawn
