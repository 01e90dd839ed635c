"""Clickable examples for the demo: test-split inputs of a quickstart corpus (inputs the model never saw in
training), one real sentence per task from public test splits (CoNLL-2003 NER, CoNLL04 RE, M2E2 text events) and
real media from the shared data folder, when they are present."""
from __future__ import annotations

from pathlib import Path

from reamo.errors import RecordError
from reamo.records import read_jsonl
from reamo.records.schemas import ITEM_FIELDS, LABEL_KEYS

EXAMPLE_COLUMNS = ["text", "image", "audio", "video", "task", "labels"]


def _labels(task: str, schema: dict) -> str:
    if task == "ee":
        return "; ".join(f"{t}: {', '.join(r)}" if r else t for t, r in schema.get("event_types", {}).items())
    return ", ".join(schema.get(LABEL_KEYS[task], []))


def corpus_examples(path: str | Path, limit: int = 8) -> list[list]:
    """Up to `limit` records of a quickstart test split (a test.jsonl, or the corpus folder holding it), one
    per (input combination, task) first, so the examples show every modality."""
    p = Path(path)
    if p.is_dir():
        p = p / "test.jsonl"
    if not p.is_file():
        return []
    try:
        records = list(read_jsonl(p))
    except (RecordError, OSError):
        return []
    seen, rows = set(), []
    for r in records:
        media = tuple(m for m in ("image", "audio", "video") if getattr(r, m))
        key = (media, bool(r.text), r.task)
        if key in seen or not media:
            continue
        seen.add(key)
        rows.append([r.text or "", *(str(p.parent / getattr(r, m)) if getattr(r, m) else None
                                     for m in ("image", "audio", "video")), r.task, _labels(r.task, r.schema)])
        if len(rows) >= limit:
            break
    return rows


# (task, format, path under the data folder): the first test sentence with two or more labelled items
REAL_TEXT = [("ner", "conll2003", "text/conll2003/test.txt"), ("re", "conll04", "text/conll04/conll04_test.json"),
             ("ee", "m2e2", "multimodal/m2e2")]


def _items(r) -> int:
    items = getattr(r, ITEM_FIELDS[r.task])
    return sum(1 + len(e.arguments) for e in items) if r.task == "ee" else len(items)


def real_text_examples(data_dir: str | Path | None) -> list[list]:
    """One real sentence per task from the public test splits in the data folder, with its dataset's labels
    (the models of `scripts/phase1_public.sh` never trained on these splits)."""
    from reamo.converters import read_format

    rows = []
    d = Path(data_dir) if data_dir else None
    for task, fmt, rel in REAL_TEXT:
        if d is None or not (d / rel).exists():
            continue
        try:
            recs = read_format(fmt, d / rel, [])
        except (RecordError, OSError, ValueError):
            continue
        r = next((r for r in recs if r.task == task and r.text and not r.text.isupper()
                  and 12 <= len(r.text.split()) <= 40 and _items(r) >= 2), None)
        if r is not None:
            rows.append([r.text, None, None, None, task, _labels(task, r.schema)])
    return rows


def shared_media_examples(data_dir: str | Path | None, workdir: Path) -> list[list]:
    """Real media: JFK's speech (audio), Big Buck Bunny (video), scikit-image's astronaut photograph."""
    rows = []
    d = Path(data_dir) if data_dir else None
    if d is not None and (d / "media" / "jfk.flac").is_file():
        rows.append(["And so, my fellow Americans, ask not what your country can do for you", None,
                     str(d / "media" / "jfk.flac"), None, "ner", "person, location, organization"])
    if d is not None and (d / "media" / "bigbuckbunny.mp4").is_file():
        rows.append(["", None, None, str(d / "media" / "bigbuckbunny.mp4"), "ner", "person, animal, vehicle"])
    try:
        from PIL import Image
        from skimage import data as skdata

        png = workdir / "astronaut.png"
        if not png.is_file():
            Image.fromarray(skdata.astronaut()).save(png)
        rows.append(["Astronaut Eileen Collins poses in front of a flag", str(png), None, None, "ner",
                     "person, location, organization"])
    except ImportError:
        pass
    return rows
