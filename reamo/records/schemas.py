"""Label schemas given at call time (zero-shot: any labels are allowed) and their validation."""
from __future__ import annotations

from reamo.errors import InputError

TASKS = ("ner", "re", "ee")
LABEL_KEYS = {"ner": "entity_types", "re": "relation_types", "ee": "event_types"}  # the schema key of each task's labels
ITEM_FIELDS = {"ner": "entities", "re": "relations", "ee": "events"}  # the record field those labels classify


def _labels(x, what: str) -> list[str]:
    if not isinstance(x, (list, tuple)) or not x:
        raise InputError("schema", f"{what} must be a non-empty list of strings")
    if not all(isinstance(v, str) and v.strip() for v in x):
        raise InputError("schema", f"{what} must hold non-empty strings, got {x!r}")
    return [v.strip() for v in x]


def _pairs(x) -> list[list[str]]:
    """`entity_pairs` of an RE schema: the (subject, object) pairs whose relations are asked for (relation
    classification, as MNRE and TACRED pose it), each a list of two non-empty strings."""
    if not isinstance(x, (list, tuple)) or not x:
        raise InputError("schema", "entity_pairs must be a non-empty list of [subject, object] pairs")
    out = []
    for p in x:
        if not (isinstance(p, (list, tuple)) and len(p) == 2 and all(isinstance(v, str) and v.strip() for v in p)):
            raise InputError("schema", f"each of entity_pairs must be [subject, object] strings, got {p!r}")
        out.append([p[0].strip(), p[1].strip()])
    return out


def normalize_schema(task: str, schema) -> dict:
    """A schema dict for `task` from a dict (DESIGN 3.1) or a plain list of labels; InputError if bad."""
    if task not in TASKS:
        raise InputError("task", f"unknown task {task!r}; choose from {', '.join(TASKS)}")
    if schema is None:
        raise InputError("schema", f"{task} needs a schema (the candidate labels)")
    if isinstance(schema, (list, tuple)):
        if task == "ee":
            return {"event_types": {t: [] for t in _labels(schema, "event types")}}
        return {"entity_types" if task == "ner" else "relation_types": _labels(schema, "labels")}
    if not isinstance(schema, dict):
        raise InputError("schema", f"a schema must be a dict or a list of labels, got {type(schema).__name__}")
    if task == "ner":
        return {"entity_types": _labels(schema.get("entity_types"), "entity_types")}
    if task == "re":
        out = {"relation_types": _labels(schema.get("relation_types"), "relation_types")}
        if schema.get("entity_types") is not None:
            out["entity_types"] = _labels(schema["entity_types"], "entity_types")
        if schema.get("entity_pairs") is not None:
            out["entity_pairs"] = _pairs(schema["entity_pairs"])
        return out
    ev = schema.get("event_types", schema if "event_types" not in schema else None)
    if isinstance(ev, (list, tuple)):
        ev = {t: [] for t in _labels(ev, "event_types")}
    if not isinstance(ev, dict) or not ev:
        raise InputError("schema", "event_types must be a non-empty {type: [roles]} mapping")
    out = {}
    for t, roles in ev.items():
        if not isinstance(t, str) or not t.strip():
            raise InputError("schema", f"event type must be a non-empty string, got {t!r}")
        out[t] = [] if roles in (None, []) else _labels(roles, f"roles of {t}")
    return {"event_types": out}


def cut_schemas(records: list, max_event_types: int, max_relation_types: int, seed: int) -> bool:
    """Per record, in place: an event schema longer than `max_event_types` types (a relation list longer than
    `max_relation_types`) becomes the record's gold types plus seeded distractors, that many in all, so that a
    prompt stays within the model's length and the label list reads like the ones it was tuned on (RAMS names 139
    types, WebNLG 216 relations). The draw depends on `seed` and the record's position. Returns whether anything
    was cut."""
    import numpy as np

    cut = False
    for k, r in enumerate(records):
        if r.task not in ("ee", "re"):
            continue
        key, limit = LABEL_KEYS[r.task], max_event_types if r.task == "ee" else max_relation_types
        types = r.schema.get(key)
        if not types or len(types) <= limit:
            continue
        cut = True
        gold = list(dict.fromkeys(x.type for x in getattr(r, ITEM_FIELDS[r.task]) if x.type in types))
        rest = sorted(set(types) - set(gold))
        rng = np.random.default_rng([seed, k])
        extra = list(rng.choice(rest, max(0, limit - len(gold)), replace=False)) if rest else []
        keep = sorted(gold + [str(x) for x in extra])
        r.schema = dict(r.schema)
        r.schema[key] = {t: types[t] for t in keep} if r.task == "ee" else keep
    return cut


def load_event_schema(path) -> dict:
    """An event schema given as data: a JSON file ({"event_types": {type: [roles]}}) or an M2E2 folder,
    from whose annotations (text events, image events, the imSitu->ACE role mapping) the ACE event types
    and their roles are collected."""
    import json
    from pathlib import Path

    p = Path(path)
    if p.is_file():
        return normalize_schema("ee", json.loads(p.read_text()))
    if not p.is_dir():
        raise InputError(str(p), "event schema not found (a JSON file or an M2E2 folder)")
    types: dict[str, set] = {}
    text = p / "text_multimedia_event.json"
    if text.is_file():
        for sent in json.loads(text.read_text()):
            for ev in sent.get("golden-event-mentions", []):
                types.setdefault(ev["event_type"], set()).update(a["role"] for a in ev.get("arguments", []))
    for name in ("image_only_event.json", "image_multimedia_event.json"):
        f = p / name
        if f.is_file():
            for ev in json.loads(f.read_text()).values():
                types.setdefault(ev["event_type"], set()).update(ev.get("role", {}))
    mapping = p / "ace_sr_mapping.txt"
    if mapping.is_file():
        for line in mapping.read_text().splitlines():
            cols = line.split()
            if len(cols) >= 4:
                main, sub = cols[2].split("||")
                types.setdefault(f"{main}:{sub.replace('|', '-')}", set()).add(cols[3])
    if not types:
        raise InputError(str(p), "no event annotations found in this folder")
    return {"event_types": {t: sorted(r) for t, r in sorted(types.items())}}
