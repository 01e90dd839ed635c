"""MAVEN event detection (THU-KEG/MAVEN-dataset, DataFormat.md) and MAVEN-Arg (THU-KEG/MAVEN-Argument), one JSON
document a line.

  MAVEN:      content [{sentence, tokens}], events [{type, mention [{trigger_word, sent_id, offset [a, b)}]}]
              (token offsets within the sentence). One EE record per sentence, with the triggers of that
              sentence (MAVEN annotates no arguments). A sentence without an event is a record too (nothing to
              extract is an answer to learn). `negative_triggers` are not events and are not read.
  MAVEN-Arg:  document (a string), events [{type, mention [{trigger_word, offset [a, b)}], argument {role:
              [{content, offset} | {entity_id}]}}], entities [{id, mention [{mention, offset}]}] (character
              offsets into the document). One EE record per document; an argument given by entity id is that
              entity's mention nearest the trigger.
The test files of both hide their labels (`candidates`, `event_mentions` without types): they are refused by
line, with the reason, since there is nothing to learn from them.
"""
from __future__ import annotations

from pathlib import Path

from reamo.converters.reading import json_lines, report
from reamo.converters.tokens import offsets, span_entity
from reamo.records import Argument, Event, Record, Span


def _sentence_records(doc: dict) -> list[Record]:
    sents = doc["content"]
    events: list[list[Event]] = [[] for _ in sents]
    for ev in doc["events"]:
        for m in ev["mention"]:
            i = m["sent_id"]
            if not 0 <= i < len(sents):
                raise ValueError(f"mention {m.get('id', '?')}: sent_id {i} outside the {len(sents)} sentences")
            toks = sents[i]["tokens"]
            text, starts = offsets(toks)
            a, b = m["offset"]
            t = span_entity(toks, starts, a, b, "")
            if t.text.replace(" ", "") != m["trigger_word"].replace(" ", ""):
                raise ValueError(f"mention {m.get('id', '?')}: tokens [{a}, {b}) read {t.text!r}, "
                                 f"not the trigger_word {m['trigger_word']!r}")
            events[i].append(Event(ev["type"], Span(t.text, t.start, t.end)))
    out = []
    for i, s in enumerate(sents):
        text, _ = offsets(s["tokens"])
        evs = sorted(events[i], key=lambda e: e.trigger.start)
        out.append(Record(f"maven-{doc['id']}-{i:03d}", "ee", text, events=evs))
    return out


def _document_record(doc: dict) -> Record:
    text = doc["document"]
    mentions = {e["id"]: [(m["offset"][0], m["offset"][1]) for m in e["mention"]] for e in doc.get("entities", [])}

    def span(a: int, b: int, what: str) -> tuple[str, int, int]:
        if not 0 <= a < b <= len(text):
            raise ValueError(f"{what}: offset [{a}, {b}) outside the document's {len(text)} characters")
        return text[a:b], a, b

    events = []
    for ev in doc["events"]:
        for m in ev["mention"]:
            tt, ta, tb = span(*m["offset"], f"mention {m.get('id', '?')}")
            args = []
            for role, fillers in (ev.get("argument") or {}).items():
                for f in fillers:
                    if "entity_id" in f:
                        if f["entity_id"] not in mentions:
                            raise ValueError(f"argument {role}: unknown entity_id {f['entity_id']}")
                        a, b = min(mentions[f["entity_id"]], key=lambda ab: abs(ab[0] - ta))
                    else:
                        a, b = f["offset"]
                    args.append(Argument(role, *span(a, b, f"argument {role}")))
            events.append(Event(ev["type"], Span(tt, ta, tb), args))
    events.sort(key=lambda e: e.trigger.start)
    return Record(f"maven-arg-{doc['id']}", "ee", text, events=events)


def convert_maven(path: Path, errors: list | None = None) -> list[Record]:
    out: list[Record] = []
    for lineno, doc in json_lines(path, errors):
        try:
            if "events" not in doc:
                raise KeyError("events (a test file? MAVEN's test split hides its labels)")
            out += [_document_record(doc)] if "document" in doc else _sentence_records(doc)
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as e:
            report(errors, path, lineno, f"document {doc.get('id', '?') if isinstance(doc, dict) else '?'}: "
                                         f"{type(e).__name__}: {e}")
    seen: dict[str, set] = {}
    for r in out:
        for e in r.events:
            seen.setdefault(e.type, set()).update(a.role for a in e.arguments)
    schema = {"event_types": {t: sorted(v) for t, v in sorted(seen.items())}}
    for r in out:
        r.schema = schema
    return out
