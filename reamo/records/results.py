"""Typed extraction results: JSON in the record format of DESIGN.md 3.1, plus pictures."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reamo.errors import ReamoError
from reamo.records import Entity, Event, Record, Relation


@dataclass
class InstructionResult:
    module: str
    phrase: str
    targets: list
    grounding: dict | None = None  # the head's output (to_dict), or None
    error: str | None = None

    def to_dict(self) -> dict:
        d = {"module": self.module, "phrase": self.phrase, "targets": [list(t) for t in self.targets]}
        d.update({"grounding": self.grounding} if self.error is None else {"error": self.error})
        return d


@dataclass
class ExtractionResult:
    id: str
    task: str
    text: str | None = None
    media: dict[str, str | None] = field(default_factory=dict)
    entities: list[Entity] = field(default_factory=list)
    relations: list[Relation] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    instructions: list[InstructionResult] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    raw_output: str = ""
    error: ReamoError | None = None
    schema: dict = field(default_factory=dict)
    loaded: dict[str, Any] = field(default_factory=dict, repr=False)  # loaded media, for pictures

    @property
    def ok(self) -> bool:
        return self.error is None

    def target(self, t):
        """The extracted item an instruction target points at: ("entity", i), ("event", i) (the event, grounded
        by its trigger), ("argument", i, j), ("relation_head", i) / ("relation_tail", i) (the relation's Entity);
        None when the target points at nothing (a stale index, or a relation given by entity index)."""
        try:
            kind = t[0]
            if kind == "entity":
                return self.entities[t[1]]
            if kind == "event":
                return self.events[t[1]]
            if kind == "argument":
                return self.events[t[1]].arguments[t[2]]
            if kind in ("relation_head", "relation_tail"):
                ent = getattr(self.relations[t[1]], kind.split("_")[1])
                return ent if hasattr(ent, "grounding") else None
        except (IndexError, TypeError):
            return None
        return None

    def to_record(self) -> Record:
        return Record(self.id, self.task, self.text, self.media.get("image"), self.media.get("audio"),
                      self.media.get("video"), self.schema, self.entities, self.relations, self.events)

    def to_dict(self) -> dict:
        d = self.to_record().to_dict()
        d["instructions"] = [i.to_dict() for i in self.instructions]
        d["warnings"] = list(self.warnings)
        d["raw_output"] = self.raw_output
        d["error"] = None if self.error is None else {"type": type(self.error).__name__, "message": str(self.error)}
        return d

    def to_json(self, **kw) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, **kw)

    def visualize(self, path: str | Path, gold_audio: list[tuple[str, list]] | None = None) -> Path:
        """Draw the result (text, then a panel per medium) to `path`; `gold_audio` [(label, spans)] adds gold
        spans to the waveform."""
        from reamo.export.visualize import draw_result

        return draw_result(self, path, gold_audio=gold_audio)
