"""What every export format walks: the grounded items of a result, whatever form the result comes in.

A result is an `ExtractionResult` (from `Reamo.extract`, with its loaded media), a `Record`, or a dict as
`reamo extract` writes it (one line of its JSONL). Entities, event triggers and event arguments carry their
groundings (`grounding[modality]`); relations point at entities, so they are grounded through them.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from reamo.errors import ExportError
from reamo.records import Record


@dataclass
class Grounded:
    """One extracted item and its grounding in one medium."""

    kind: str  # "entity" | "trigger" | "argument"
    label: str  # the entity type, the event type, or the argument's role
    text: str  # the item's words
    modality: str  # "image" | "audio" | "video"
    grounding: dict  # the record format's grounding of that medium
    start: int | None = None  # character offsets into the text, when known
    end: int | None = None


@dataclass
class ExportItem:
    """A result as the exporters read it: its record, and the frame rate of its video when one was loaded."""

    record: Record
    fps: float | None = None


def as_export_item(result: Any, index: int = 0) -> ExportItem:
    """An ExtractionResult, a Record or a result dict -> ExportItem (ExportError naming the item if unusable)."""
    if isinstance(result, ExportItem):
        return result
    if isinstance(result, Record):
        return ExportItem(result)
    if isinstance(result, dict):
        try:
            return ExportItem(Record.from_dict(result))
        except ValueError as e:
            raise ExportError(result.get("id", f"result[{index}]"), f"not a result record: {e}") from None
    to_record = getattr(result, "to_record", None)
    if to_record is None:
        raise ExportError(f"result[{index}]", f"cannot export a {type(result).__name__}")
    video = (getattr(result, "loaded", None) or {}).get("video")
    fps = getattr(getattr(video, "grounding", None), "fps", None)
    return ExportItem(to_record(), float(fps) if fps else None)


def grounded(record: Record, modality: str | None = None) -> Iterator[Grounded]:
    """Every (item, medium) grounding of a record, in record order: entities (those of the entity list, then
    those relations hold themselves), then each event's trigger and arguments."""
    def one(kind, label, text, g, start, end):
        for m, d in (g or {}).items():
            if d and (modality is None or m == modality):
                yield Grounded(kind, label, text, m, d, start, end)

    seen: set[int] = set()
    entities = list(record.entities) + [x for r in record.relations for x in (r.head, r.tail) if not isinstance(x, int)]
    for e in entities:  # a relation's own entities (predictions of RE) are grounded too; each entity once
        if id(e) not in seen:
            seen.add(id(e))
            yield from one("entity", entity_label(e), e.text, e.grounding, e.start, e.end)
    for ev in record.events:
        yield from one("trigger", ev.type, ev.trigger.text, ev.grounding, ev.trigger.start, ev.trigger.end)
        for a in ev.arguments:
            yield from one("argument", a.role, a.text, a.grounding, a.start, a.end)


def frame_rate(g: Grounded, item: ExportItem, fps: float | None) -> float | None:
    """A video grounding's frame rate: the one it records, else that of the video the result loaded, else `fps`
    (the caller's); None when none is known or it is not positive."""
    rate = g.grounding.get("fps") or item.fps or fps
    return float(rate) if rate and rate > 0 else None


def frame_number(t: float, rate: float) -> int:
    """The frame (counted from 1) shown at `t` seconds."""
    return int(round(float(t) * rate)) + 1


def percent_box(box, width: int, height: int) -> dict:
    """[x1, y1, x2, y2) in pixels -> {x, y, width, height} in percent of the picture (Label Studio's geometry)."""
    x1, y1, x2, y2 = box
    return {"x": 100 * x1 / width, "y": 100 * y1 / height, "width": 100 * (x2 - x1) / width,
            "height": 100 * (y2 - y1) / height}


def entity_label(e) -> str:
    """An entity's label: its type; "entity" when it has none (the arguments of an RE answer are untyped)."""
    return e.type or "entity"


def token(s: str) -> str:
    """A name without whitespace (RTTM fields, file names): runs of whitespace become '_'."""
    return re.sub(r"\s+", "_", s.strip()) or "_"


def unique_path(out_dir: Path, record_id: str, suffix: str, taken: list[Path]) -> Path:
    """OUT_DIR/<record id><suffix>, the id made a file name (anything but letters, digits, '.', '-' and '_'
    becomes '_'); '-2', '-3'... when two ids make the same name."""
    stem = re.sub(r"[^\w.-]", "_", record_id) or "_"
    path, n = out_dir / f"{stem}{suffix}", 1
    while path in taken:
        n += 1
        path = out_dir / f"{stem}-{n}{suffix}"
    return path
