"""The MUIE benchmark layout and the paper-shaped report.

On-disk layout of a benchmark folder (DESIGN.md section 7; 200 instances per set in the paper):

    BENCH/<combo>/<set>.jsonl      combo in I, V, A, T+I, T+V, T+A, I+A, T+I+A, V+A
    e.g. BENCH/T+I/twt17.jsonl, BENCH/T+A/ace05-aud.jsonl; media paths relative to each JSONL file.
"""
from __future__ import annotations

import json
from pathlib import Path

BENCHMARK = [  # (combo, set, task)
    ("I", "pascal-c", "ner"), ("I", "vrd", "re"), ("I", "imsitu", "ee"),
    ("V", "vidsitu", "ee"),
    ("A", "ace05-aud", "ner"), ("A", "retacred", "re"),
    ("T+I", "twt17", "ner"), ("T+I", "mnre", "re"), ("T+I", "m2e2", "ee"),
    ("T+V", "vidsitu-txt", "ee"),
    ("T+A", "ace05-aud", "ner"), ("T+A", "retacred", "re"),
    ("I+A", "mnre-aud", "re"),
    ("T+I+A", "twt17-aud", "ner"),
    ("V+A", "vidsitu-aud", "ee"),
]
# Reamo's reported scores (paper), F1 / grounding, where reported
PAPER = {("T+I", "twt17"): {"f1": 47.4, "ground": 53.5}, ("T+I", "mnre"): {"f1": 24.6, "ground": 56.9},
         ("T+I", "m2e2"): {"f1": 30.2, "ea": 25.6, "ground": 60.1}, ("T+A", "ace05-aud"): {"f1": 28.5, "ground": 24.3},
         ("T+V", "vidsitu-txt"): {"f1": 32.8, "ea": 23.1, "ground": 34.4}}


def discover(bench: str | Path) -> list[tuple[str, str, str, Path]]:
    """The sets of the layout present under `bench`, plus any other <combo>/<name>.jsonl found."""
    bench = Path(bench)
    found = []
    known = {(c, s) for c, s, _ in BENCHMARK}
    for combo, name, task in BENCHMARK:
        p = bench / combo / f"{name}.jsonl"
        if p.is_file():
            found.append((combo, name, task, p))
    for p in sorted(bench.glob("*/*.jsonl")):
        key = (p.parent.name, p.stem)
        if key not in known:
            found.append((key[0], key[1], "?", p))
    return found


def precision_recall(scores: dict) -> tuple[float | None, float | None]:
    """Precision and recall (percent) of the set's main F1 (NER, RE or event triggers)."""
    k = next((k for k in ("ner", "re", "et") if k in scores), None)
    return (None, None) if k is None else (round(100 * scores[k]["precision"], 1), round(100 * scores[k]["recall"], 1))


def main_metric(scores: dict) -> tuple[float | None, float | None, float | None]:
    """(F1 of the set's task, EA F1 for events, grounding score) in percent."""
    f1 = next((scores[k]["f1"] for k in ("ner", "re", "et") if k in scores), None)
    ea = scores.get("ea", {}).get("f1")
    g = next((scores[k]["mean"] for k in ("image_miou", "video_j", "audio_iou") if k in scores), None)
    pct = lambda v: None if v is None else round(100 * v, 1)
    return pct(f1), pct(ea), pct(g)


def markdown_table(results: dict[tuple[str, str], dict]) -> str:
    """One row per set: items, failed items, answers with a piece that did not parse, answers naming a label off
    the given list, precision, recall and F1 of the set's task, the paper's figures. A set whose items all
    failed shows no score ("all failed"); under the table, each set with failures gives its first error."""
    fmt = lambda v: "-" if v is None else f"{v:.1f}"
    has_mr = any("moment" in s for s in results.values())
    head = "| input | set | items | failed | unparsed | off-list | P | R | F1 | EA F1 | grounding |" + (" R@1 0.5 | R@1 0.7 | mIoU |" if has_mr else "")
    lines = [head + " paper F1 | paper grounding |", "|---" * (head.count("|") + 1) + "|"]
    notes = []
    for (combo, name), s in results.items():
        f1, ea, g = main_metric(s)
        n, failed = s.get("records", 0), s.get("failed", 0)
        if n and failed == n:
            f1 = ea = g = None
        p, r = precision_recall(s) if f1 is not None else (None, None)
        cells = [combo, name, str(n), f"{failed}" + (" (all failed)" if n and failed == n else ""),
                 str(s.get("unparsed", 0)), str(s.get("off_list", 0)), fmt(p), fmt(r), fmt(f1), fmt(ea), fmt(g)]
        if has_mr:
            m = s.get("moment")
            cells += [fmt(100 * m[k]) if m and failed < n else "-" for k in ("r1_iou0.5", "r1_iou0.7", "miou")]
        ref = PAPER.get((combo, name), {})
        cells += [fmt(ref.get("f1")), fmt(ref.get("ground"))]
        lines.append("| " + " | ".join(cells) + " |")
        if failed:
            notes.append(f"- {combo}/{name}: {failed} of {n} items failed; first error: {s.get('first_error')}")
    out = "\n".join(lines) + "\n"
    if notes:
        out += "\nFailed items (scored as predicting nothing):\n" + "\n".join(notes) + "\n"
    return out


def write_report(results: dict[tuple[str, str], dict], out: str | Path) -> dict[str, Path]:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "scores.json").write_text(json.dumps({f"{c}/{s}": v for (c, s), v in results.items()}, indent=1))
    (out / "table.md").write_text(markdown_table(results))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"{c}\n{s}" for c, s in results]
    vals = [main_metric(v) for v in results.values()]
    fig, ax = plt.subplots(figsize=(max(5, 1.1 * len(labels)), 3.2))
    x = range(len(labels))
    ax.bar([i - 0.2 for i in x], [v[0] or 0 for v in vals], 0.4, label="F1")
    ax.bar([i + 0.2 for i in x], [v[2] or 0 for v in vals], 0.4, label="grounding")
    ax.set_xticks(list(x), labels, fontsize=7)
    ax.set_ylabel("%")
    ax.set_ylim(0, 100)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "scores.png", dpi=100)
    plt.close(fig)
    return {"json": out / "scores.json", "table": out / "table.md", "chart": out / "scores.png"}
