"""CoNLL-2003 (NER, token<TAB>BIO-tag) and CoNLL04 (entities + relations, SpERT JSON)."""
from __future__ import annotations

from pathlib import Path

from reamo.converters.reading import read_json, report
from reamo.converters.tokens import bio_sentences, bio_spans, offsets, span_entity
from reamo.records import Record, Relation

CONLL03_TYPES = {"PER": "person", "LOC": "location", "ORG": "organization", "MISC": "miscellaneous",
                 "OTHER": "miscellaneous"}
CONLL04_TYPES = {"Peop": "person", "Loc": "location", "Org": "organization", "Other": "other"}
NER_SCHEMA = {"entity_types": ["person", "location", "organization", "miscellaneous"]}


def convert_conll2003(path: Path, errors: list | None = None) -> list[Record]:
    out = []
    for rid, toks, tags, _ in bio_sentences(path, f"conll03-{path.stem}", errors):
        text, starts = offsets(toks)
        ents = [span_entity(toks, starts, a, b, CONLL03_TYPES.get(t, t.lower())) for a, b, t in bio_spans(tags)]
        out.append(Record(rid, "ner", text, schema=dict(NER_SCHEMA), entities=ents))
    return out


def convert_conll04(path: Path, errors: list | None = None) -> list[Record]:
    """A JSON list of sentences; a malformed sentence is reported by its index and skipped."""
    data = read_json(path, errors)
    if data is None:
        return []
    rels = sorted({r["type"] for d in data if isinstance(d, dict) for r in d.get("relations", [])})
    schema = {"relation_types": [r.replace("_", " ").lower() for r in rels],
              "entity_types": list(CONLL04_TYPES.values())}
    out = []
    for i, d in enumerate(data):
        try:
            toks = d["tokens"]
            text, starts = offsets(toks)
            ents = [span_entity(toks, starts, a, b, CONLL04_TYPES.get(t, t.lower())) for a, b, t in bio_spans(d["tags"])]
            relations = [Relation(r["head"], r["tail"], r["type"].replace("_", " ").lower())
                         for r in d.get("relations", []) if r["head"] < len(ents) and r["tail"] < len(ents)]
        except (KeyError, TypeError, ValueError) as e:
            report(errors, path, None, f"sentence {i}: {type(e).__name__}: {e}")
            continue
        out.append(Record(f"conll04-{path.stem}-{d.get('orig_id', i)}", "re", text, schema=schema, entities=ents,
                          relations=relations))
    return out
