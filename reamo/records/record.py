"""The record format of DESIGN.md 3.1: typed objects for entities, relations, events and their groundings,
and JSONL reading/writing that reports bad lines with file and line number instead of stopping.

Records serve as dataset items, benchmark gold, training data and predictions alike.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from reamo.errors import RecordError

TASKS = ("ner", "re", "ee")
MODALITIES = ("text", "image", "audio", "video")


def _opt_int(d: dict, k: str) -> int | None:
    v = d.get(k)
    return None if v is None else int(v)


@dataclass
class Entity:
    text: str
    type: str
    start: int | None = None  # character offsets into the record's text, end exclusive
    end: int | None = None
    grounding: dict[str, Any] = field(default_factory=dict)  # {"image": {...}, "audio": {...}, "video": {...}}

    @classmethod
    def from_dict(cls, d: dict) -> "Entity":
        if not isinstance(d, dict) or not isinstance(d.get("text"), str) or not isinstance(d.get("type"), str):
            raise ValueError(f"entity needs string 'text' and 'type': {d!r}")
        return cls(d["text"], d["type"], _opt_int(d, "start"), _opt_int(d, "end"), dict(d.get("grounding") or {}))

    def to_dict(self) -> dict:
        out: dict[str, Any] = {"text": self.text, "type": self.type, "start": self.start, "end": self.end}
        if self.grounding:
            out["grounding"] = self.grounding
        return out


@dataclass
class Relation:
    """A relation. `head`/`tail` are entity indices into the record's entity list, or Entity objects
    when the relation carries its arguments itself (predictions, or data without an entity list)."""

    head: int | Entity
    tail: int | Entity
    type: str

    @classmethod
    def from_dict(cls, d: dict) -> "Relation":
        if not isinstance(d, dict) or not isinstance(d.get("type"), str):
            raise ValueError(f"relation needs a string 'type': {d!r}")

        def arg(v):
            if isinstance(v, bool):
                raise ValueError(f"relation argument must be an index or an entity: {v!r}")
            if isinstance(v, int):
                return v
            if isinstance(v, dict):
                if "type" not in v:
                    v = {**v, "type": ""}
                return Entity.from_dict(v)
            raise ValueError(f"relation argument must be an index or an entity: {v!r}")

        return cls(arg(d.get("head")), arg(d.get("tail")), d["type"])

    def to_dict(self) -> dict:
        def arg(v):
            return v.to_dict() if isinstance(v, Entity) else v

        return {"head": arg(self.head), "tail": arg(self.tail), "type": self.type}

    def resolve(self, entities: list[Entity]) -> tuple[Entity, Entity]:
        def get(v):
            if isinstance(v, Entity):
                return v
            if not 0 <= v < len(entities):
                raise ValueError(f"relation refers to entity {v}, but the record has {len(entities)}")
            return entities[v]

        return get(self.head), get(self.tail)


@dataclass
class Span:
    text: str
    start: int | None = None
    end: int | None = None

    @classmethod
    def from_dict(cls, d: dict) -> "Span":
        if isinstance(d, str):
            return cls(d)
        if not isinstance(d, dict) or not isinstance(d.get("text"), str):
            raise ValueError(f"span needs a string 'text': {d!r}")
        return cls(d["text"], _opt_int(d, "start"), _opt_int(d, "end"))

    def to_dict(self) -> dict:
        return {"text": self.text, "start": self.start, "end": self.end}


@dataclass
class Argument:
    role: str
    text: str
    start: int | None = None
    end: int | None = None
    grounding: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: dict) -> "Argument":
        if not isinstance(d, dict) or not isinstance(d.get("role"), str) or not isinstance(d.get("text"), str):
            raise ValueError(f"argument needs string 'role' and 'text': {d!r}")
        return cls(d["role"], d["text"], _opt_int(d, "start"), _opt_int(d, "end"), dict(d.get("grounding") or {}))

    def to_dict(self) -> dict:
        out: dict[str, Any] = {"role": self.role, "text": self.text, "start": self.start, "end": self.end}
        if self.grounding:
            out["grounding"] = self.grounding
        return out


@dataclass
class Event:
    type: str
    trigger: Span
    arguments: list[Argument] = field(default_factory=list)
    grounding: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: dict) -> "Event":
        if not isinstance(d, dict) or not isinstance(d.get("type"), str):
            raise ValueError(f"event needs a string 'type': {d!r}")
        trig = d.get("trigger")
        return cls(d["type"], Span.from_dict(trig) if trig is not None else Span(""),
                   [Argument.from_dict(a) for a in d.get("arguments") or []], dict(d.get("grounding") or {}))

    def to_dict(self) -> dict:
        out: dict[str, Any] = {"type": self.type, "trigger": self.trigger.to_dict(),
                               "arguments": [a.to_dict() for a in self.arguments]}
        if self.grounding:
            out["grounding"] = self.grounding
        return out


@dataclass
class Record:
    id: str
    task: str
    text: str | None = None
    image: str | None = None  # paths relative to the JSONL file
    audio: str | None = None
    video: str | None = None
    schema: dict[str, Any] = field(default_factory=dict)
    entities: list[Entity] = field(default_factory=list)
    relations: list[Relation] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)  # any other keys, kept on round trip

    @property
    def modalities(self) -> tuple[str, ...]:
        return tuple(m for m in MODALITIES if getattr(self, m))

    @classmethod
    def from_dict(cls, d: dict) -> "Record":
        if not isinstance(d, dict):
            raise ValueError(f"a record must be a JSON object, got {type(d).__name__}")
        if "id" not in d:
            raise ValueError("record has no 'id'")
        task = d.get("task")
        if task not in TASKS:
            raise ValueError(f"record {d['id']!r}: task must be one of {TASKS}, got {task!r}")
        for m in MODALITIES:
            if d.get(m) is not None and not isinstance(d[m], str):
                raise ValueError(f"record {d['id']!r}: {m} must be a string or null")
        schema = d.get("schema") or {}
        if not isinstance(schema, dict):
            raise ValueError(f"record {d['id']!r}: schema must be an object")
        known = {"id", "task", *MODALITIES, "schema", "entities", "relations", "events"}
        rec = cls(
            id=str(d["id"]), task=task, text=d.get("text"), image=d.get("image"), audio=d.get("audio"),
            video=d.get("video"), schema=schema,
            entities=[Entity.from_dict(e) for e in d.get("entities") or []],
            relations=[Relation.from_dict(r) for r in d.get("relations") or []],
            events=[Event.from_dict(e) for e in d.get("events") or []],
            extra={k: v for k, v in d.items() if k not in known},
        )
        for r in rec.relations:
            r.resolve(rec.entities)  # index check
        return rec

    def to_dict(self) -> dict:
        out = {"id": self.id, "task": self.task, "text": self.text, "image": self.image, "audio": self.audio,
               "video": self.video, "schema": self.schema,
               "entities": [e.to_dict() for e in self.entities],
               "relations": [r.to_dict() for r in self.relations],
               "events": [e.to_dict() for e in self.events]}
        out.update(self.extra)
        return out

    def media_path(self, modality: str, jsonl_path: str | Path) -> Path | None:
        """Absolute path of this record's media of `modality`, resolved against the JSONL file's folder."""
        rel = getattr(self, modality)
        return None if rel is None else (Path(jsonl_path).parent / rel)


def read_jsonl(path: str | Path, errors: list[RecordError] | None = None) -> Iterator[Record]:
    """Yield the records of a JSONL file. A bad line raises RecordError naming file and line, unless
    `errors` is given: then it is appended there and reading goes on with the next line."""
    path = Path(path)
    if not path.is_file():
        raise RecordError(path, None, "file not found")
    with path.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                yield Record.from_dict(json.loads(line))
            except (ValueError, TypeError) as e:
                err = RecordError(path, lineno, str(e))
                if errors is None:
                    raise err from None
                errors.append(err)


def write_jsonl(path: str | Path, records) -> None:
    """Write records (Record objects or dicts) atomically: a temporary file renamed into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r.to_dict() if hasattr(r, "to_dict") else r, ensure_ascii=False) + "\n")
    tmp.replace(path)
