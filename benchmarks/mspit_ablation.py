"""The MS-PIT ablation tables (issue 27) from the quickstart runs of scripts/mspit_ablation.sh: per recipe, EE trigger
(et) and argument (ea) F1 per input combination, NER and RE, on the test split (scores.json) and on the dev split
that shows the held-out pairs (heldout_dev.jsonl, written by benchmarks/quickstart_heldout.py); and the target
check against the default recipe. Nothing is predicted here.

    .venv/bin/python benchmarks/mspit_ablation.py --runs runs/mspit [--recipes smollm2 mspit_text mspit_visual mspit_schemas mspit]
    # the second table: real text EE with and without stage 1a (scripts/mspit_text_events.sh)
    .venv/bin/python benchmarks/mspit_ablation.py --text-events runs/mspit_text_events
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

NAMES = {"smollm2": "default recipe", "mspit_text": "+ stage 1a (textual schema)",
         "mspit_visual": "+ stage 1b (visual schema)", "mspit_schemas": "+ both (1a + 1b)",
         "mspit": "MS-PIT: 1a + 1b + stage 2"}
COMBOS = ["I", "A", "V", "I+A", "V+A", "T", "T+I", "T+A", "T+V", "T+I+A"]
MEDIA_ONLY_TARGET = 0.60  # EE trigger F1 on A and on V (test)
MAX_DROP = 0.05  # no combination more than this below the default recipe


def _f1(s: dict, key: str):
    """An F1 (extraction) or a mean (grounding) figure of a scores dict; None when absent."""
    v = s.get(key)
    return (v.get("f1", v.get("mean")) if isinstance(v, dict) else v)


def test_rows(run: Path) -> dict:
    """{combo: {et, ea, ner, re}} and "all" from a quickstart run's scores.json."""
    d = json.loads((run / "scores.json").read_text())
    rows = {c: {k: _f1(s, k) for k in ("ner", "re", "et", "ea")} for c, s in d["per_combination"].items()}
    rows["all"] = {k: _f1(d["after"], k) for k in ("ner", "re", "et", "ea", "image_miou", "audio_iou", "video_j")}
    rows["dev (regular)"] = {k: _f1(d["dev_after"], k) for k in ("ner", "re", "et", "ea")}
    rows["seconds"] = sum(d["timings_s"].values())
    return rows


def heldout_rows(run: Path) -> dict | None:
    """{combo: {et, ea, ner, re}} and the held-out / other parts from benchmarks/quickstart_heldout.py's lines."""
    p = run / "heldout_dev.jsonl"
    if not p.is_file():
        return None
    rows = {}
    for line in p.read_text().splitlines():
        d = json.loads(line)
        if "combination" in d:
            rows[d["combination"]] = {k: d.get(k) for k in ("ner", "re", "et", "ea")}
        else:
            rows[d["part"]] = {k: (d[k]["f1"] if isinstance(d.get(k), dict) else None) for k in ("ner", "re", "et", "ea")}
    return rows


def _v(x) -> str:
    return "-" if x is None else f"{x:.3f}"


def combo_table(runs: dict[str, dict], combos: list[str]) -> str:
    head = "| recipe | " + " | ".join(f"{c} et / ea" for c in combos) + " | NER | RE |"
    lines = [head, "|---" * (len(combos) + 3) + "|"]
    for name, rows in runs.items():
        cells = [f"{_v(rows.get(c, {}).get('et'))} / {_v(rows.get(c, {}).get('ea'))}" for c in combos]
        overall = rows.get("all") or rows.get("others") or {}
        lines.append(f"| {NAMES.get(name, name)} | " + " | ".join(cells) +
                     f" | {_v(overall.get('ner'))} | {_v(overall.get('re'))} |")
    return "\n".join(lines) + "\n"


def target_check(test: dict[str, dict], base: str = "smollm2") -> list[str]:
    out = []
    for name, rows in test.items():
        if name == base:
            continue
        media = {c: rows.get(c, {}).get("et") for c in ("A", "V")}
        met = all(v is not None and v >= MEDIA_ONLY_TARGET for v in media.values())
        drops = []
        if base in test:
            for c in COMBOS:
                for k in ("ner", "re", "et", "ea"):
                    a, b = rows.get(c, {}).get(k), test[base].get(c, {}).get(k)
                    if a is not None and b is not None and a < b - MAX_DROP:
                        drops.append(f"{c} {k} {b:.3f} -> {a:.3f}")
        against = (", ".join(drops) or "none") if base in test else "not compared (the default recipe's run is absent)"
        out.append(f"- {NAMES.get(name, name)}: media-only EE trigger F1 A {_v(media['A'])}, V {_v(media['V'])} "
                   f"(target >= {MEDIA_ONLY_TARGET:.2f}: {'met' if met else 'missed'}); more than {MAX_DROP:.2f} "
                   f"below the default recipe: {against}")
    return out


TEXT_ARMS = {"ee": "EE tuning (no stage 1a)", "1a_ee": "stage 1a, then the same EE tuning"}


def text_events_table(root: Path) -> str:
    """EE trigger and argument P / R / F1 and unparsed answers per evaluation set, per arm (OUT/eval_ARM/scores.json)."""
    lines = ["| model | set | records | trigger P / R / F1 | argument P / R / F1 | unparsed | off the list |",
             "|---|---|---|---|---|---|---|"]
    for arm, name in TEXT_ARMS.items():
        p = root / f"eval_{arm}" / "scores.json"
        if not p.is_file():
            continue
        for set_name, s in json.loads(p.read_text()).items():
            prf = [" / ".join(_v(s.get(k, {}).get(x)) for x in ("precision", "recall", "f1")) for k in ("et", "ea")]
            lines.append(f"| {name} | {set_name} | {s['records']} | {prf[0]} | {prf[1]} | {s.get('unparsed')} | "
                         f"{s.get('off_list')} |")
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", default="runs/mspit", help="the folder holding one quickstart run per recipe")
    ap.add_argument("--recipes", nargs="+", default=list(NAMES))
    ap.add_argument("--text-events", help="print the real-text EE table of scripts/mspit_text_events.sh's folder")
    a = ap.parse_args()
    if a.text_events:
        print(text_events_table(Path(a.text_events)))
        return
    root = Path(a.runs)
    done = [r for r in a.recipes if (root / r / "scores.json").is_file()]
    test = {r: test_rows(root / r) for r in done}
    print(f"## Test split (runs: {', '.join(done) or 'none'})\n")
    print(combo_table(test, COMBOS[:5]))
    print("| recipe | NER | RE | EE trigger | EE argument | image mIoU | audio IoU | video J | regular dev NER / RE / et / ea "
          "| training s |\n|---|---|---|---|---|---|---|---|---|---|")
    for r, rows in test.items():
        al, dv = rows["all"], rows["dev (regular)"]
        print(f"| {NAMES.get(r, r)} | " + " | ".join(_v(al[k]) for k in ("ner", "re", "et", "ea", "image_miou",
                                                                          "audio_iou", "video_j")) +
              f" | {' / '.join(_v(dv[k]) for k in ('ner', 're', 'et', 'ea'))} | {rows['seconds']:.0f} |")
    print()
    held = {r: h for r in done if (h := heldout_rows(root / r)) is not None}
    if held:
        print("## Dev split showing the held-out pairs (runs/…/heldout_dev.jsonl)\n")
        print(combo_table({r: {**h, "all": h.get("heldout_pairs")} for r, h in held.items()}, COMBOS[:5]))
        print("NER / RE columns: the records with a held-out pair.\n")
    print("## Target (test)\n")
    print("\n".join(target_check(test)))


if __name__ == "__main__":
    main()
