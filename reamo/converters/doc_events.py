"""Document-level event argument extraction: RAMS 1.0 (`*.jsonlines`) and WikiEvents (`*.jsonl`, KAIROS
ontology, with entity mentions). One JSON document per line; a malformed line is reported with its line
number and the other lines are kept. The schema comes from the `meta.json` beside the file when present
(both datasets ship one: [[event type, [roles]], ...]), else from the events seen in the file."""
from __future__ import annotations

import json
import re
from pathlib import Path

from reamo.converters.reading import json_lines, report
from reamo.converters.tokens import offsets, span_entity
from reamo.records import Argument, Entity, Event, Record, Span

RAMS_ROLE = re.compile(r"^evt\d+arg\d+")


def rams_role(role: str) -> str:
    """'evt089arg01victim' -> 'victim'."""
    return RAMS_ROLE.sub("", role)


def _meta_schema(path: Path, role_name=lambda r: r) -> dict | None:
    meta = path.parent / "meta.json"
    if not meta.is_file():
        return None
    try:
        return {t: sorted({role_name(r) for r in roles}) for t, roles in json.loads(meta.read_text())}
    except (json.JSONDecodeError, ValueError, TypeError):
        return None


def _finish(records: list[Record], seen: dict, meta: dict | None) -> list[Record]:
    schema = {"event_types": meta if meta else {t: sorted(r) for t, r in sorted(seen.items())}}
    for r in records:
        r.schema = schema
    return records


def convert_rams(path: Path, errors: list | None = None) -> list[Record]:
    """RAMS: sentences of tokens; evt_triggers [start, end(inclusive), [[type, p]]]; gold_evt_links
    [[trigger span], [argument span], role]. Token indices run over the whole document."""
    out, seen = [], {}
    for lineno, d in json_lines(path, errors):
        try:
            toks = [t for s in d["sentences"] for t in s]
            text, starts = offsets(toks)
            events = {}
            for a, b, types in d["evt_triggers"]:
                trig = span_entity(toks, starts, a, b + 1, "")
                typ = types[0][0]
                events[(a, b)] = Event(typ, Span(trig.text, trig.start, trig.end))
                seen.setdefault(typ, set())
            for (ta, tb), (aa, ab), role in d["gold_evt_links"]:
                ev = events[(ta, tb)]
                arg = span_entity(toks, starts, aa, ab + 1, "")
                ev.arguments.append(Argument(rams_role(role), arg.text, arg.start, arg.end))
                seen[ev.type].add(rams_role(role))
        except (KeyError, TypeError, ValueError, IndexError) as e:
            report(errors, path, lineno, f"{type(e).__name__}: {e}")
            continue
        out.append(Record(f"rams-{d.get('doc_key', lineno)}", "ee", text, events=list(events.values())))
    return _finish(out, seen, _meta_schema(path, rams_role))


def convert_wikievents(path: Path, errors: list | None = None) -> list[Record]:
    """WikiEvents: tokens; entity_mentions {id, start, end (exclusive), entity_type}; event_mentions
    {event_type, trigger {start, end}, arguments [{entity_id, role}]}. Entities are kept on the record."""
    out, seen = [], {}
    for lineno, d in json_lines(path, errors):
        try:
            toks = d["tokens"]
            text, starts = offsets(toks)
            ents, by_id = [], {}
            for m in d.get("entity_mentions", []):
                e = span_entity(toks, starts, m["start"], m["end"], m["entity_type"].lower())
                by_id[m["id"]] = e
                ents.append(e)
            events = []
            for em in d["event_mentions"]:
                tr = span_entity(toks, starts, em["trigger"]["start"], em["trigger"]["end"], "")
                ev = Event(em["event_type"], Span(tr.text, tr.start, tr.end))
                for a in em.get("arguments", []):
                    e: Entity = by_id[a["entity_id"]]
                    ev.arguments.append(Argument(a["role"], e.text, e.start, e.end))
                seen.setdefault(ev.type, set()).update(a.role for a in ev.arguments)
                events.append(ev)
        except (KeyError, TypeError, ValueError, IndexError) as e:
            report(errors, path, lineno, f"{type(e).__name__}: {e}")
            continue
        out.append(Record(f"wikievents-{d.get('doc_id', lineno)}", "ee", text, entities=ents, events=events))
    return _finish(out, seen, _meta_schema(path))
