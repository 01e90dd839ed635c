"""ACE 2005 in the DyGIE++ / OneIE-style JSON (for users who hold the LDC licence): one document a line with
`sentences` (token lists), and per sentence `ner` [[start, end, type]], `relations` [[s1, e1, s2, e2, type]] and
`events` [[[trigger, type], [start, end, role], ...]], token indices counted over the whole document, ends
inclusive. Each sentence gives an NER, an RE and an EE record. Types read as Reamo's other sets name them: entity
types in words (PER -> person), event types with ':' (Movement.Transport -> Movement:Transport, as M2E2 writes
them), relation types in lower case with ':' (PART-WHOLE.Subsidiary -> part-whole:subsidiary)."""
from __future__ import annotations

from pathlib import Path

from reamo.converters.reading import json_lines, report
from reamo.converters.tokens import offsets, span_entity
from reamo.records import Argument, Event, Record, Relation, Span

ACE_ENTITY_TYPES = {"PER": "person", "ORG": "organization", "GPE": "geo-political entity", "LOC": "location",
                    "FAC": "facility", "VEH": "vehicle", "WEA": "weapon"}


def entity_type(t: str) -> str:
    return ACE_ENTITY_TYPES.get(t.split(".")[0], t.lower())


def event_type(t: str) -> str:
    return t.replace(".", ":")


def relation_type(t: str) -> str:
    return t.lower().replace(".", ":")


def _sentence_records(doc_key: str, i: int, toks: list[str], first: int, ner, relations, events) -> list[Record]:
    """The NER, RE and EE records of sentence `i`, whose first token is document token `first`."""
    text, starts = offsets(toks)

    def ent(a: int, b: int, typ: str):  # document tokens [a, b] inclusive -> an Entity of this sentence
        return span_entity(toks, starts, a - first, b + 1 - first, typ)

    entities = [ent(a, b, entity_type(t)) for a, b, t in ner]
    index = {(a, b): k for k, (a, b, _) in enumerate(ner)}
    rels = []
    for a1, b1, a2, b2, t in relations:
        head, tail = index.get((a1, b1)), index.get((a2, b2))
        rels.append(Relation(head if head is not None else ent(a1, b1, ""),
                             tail if tail is not None else ent(a2, b2, ""), relation_type(t)))
    evs = []
    for trigger, *args in events:
        tok, typ = trigger
        t = ent(tok, tok, "")
        arguments = []
        for a, b, role in args:
            x = ent(a, b, "")
            arguments.append(Argument(role, x.text, x.start, x.end))
        evs.append(Event(event_type(typ), Span(t.text, t.start, t.end), arguments))
    rid = f"ace05-{doc_key}-{i:03d}"
    return [Record(f"{rid}-ner", "ner", text, entities=entities),
            Record(f"{rid}-re", "re", text, entities=entities, relations=rels),
            Record(f"{rid}-ee", "ee", text, events=evs)]


def convert_ace05(path: Path, errors: list | None = None) -> list[Record]:
    """A document whose fields do not fit (a missing list, an index outside its sentence) is reported with its
    line and left out; the other documents are read."""
    out: list[Record] = []
    for lineno, doc in json_lines(path, errors):
        try:
            sents = doc["sentences"]
            n = len(sents)
            per = {k: doc.get(k) or [[] for _ in range(n)] for k in ("ner", "relations", "events")}
            if any(len(v) != n for v in per.values()):
                raise ValueError(f"ner/relations/events must hold one list per sentence ({n})")
            recs, first = [], 0
            for i, toks in enumerate(sents):
                recs += _sentence_records(str(doc.get("doc_key", lineno)), i, toks, first, per["ner"][i],
                                          per["relations"][i], per["events"][i])
                first += len(toks)
        except (KeyError, TypeError, ValueError) as e:
            report(errors, path, lineno, f"document {doc.get('doc_key', '?') if isinstance(doc, dict) else '?'}: "
                                         f"{type(e).__name__}: {e}")
            continue
        out += recs
    schema = _schema(out)
    for r in out:
        r.schema = schema[r.task]
    return out


def _schema(records: list[Record]) -> dict:
    ents = sorted({e.type for r in records for e in r.entities if e.type})
    rels = sorted({x.type for r in records for x in r.relations})
    evs: dict[str, set] = {}
    for r in records:
        for e in r.events:
            evs.setdefault(e.type, set()).update(a.role for a in e.arguments)
    return {"ner": {"entity_types": ents}, "re": {"relation_types": rels, "entity_types": ents},
            "ee": {"event_types": {t: sorted(v) for t, v in sorted(evs.items())}}}
