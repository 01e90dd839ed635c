"""Clickable examples for the demo: test-split inputs of a quickstart corpus (inputs the model never saw in
training) and real media from the shared data folder, when they are present."""
from __future__ import annotations

from pathlib import Path

from reamo.errors import RecordError
from reamo.records import read_jsonl

EXAMPLE_COLUMNS = ["text", "image", "audio", "video", "task", "labels"]


def _labels(task: str, schema: dict) -> str:
    if task == "ee":
        return "; ".join(f"{t}: {', '.join(r)}" if r else t for t, r in schema.get("event_types", {}).items())
    return ", ".join(schema.get("entity_types" if task == "ner" else "relation_types", []))


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
