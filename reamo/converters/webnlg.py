"""WebNLG relational triples (the OneRel/CasRel JSON: [{text, triple_list: [[head, relation, tail]]}]).
Triples carry surface strings, not offsets: each argument is located in the text (first occurrence); a
triple whose argument is not in the text keeps the strings without offsets."""
from __future__ import annotations

import json
from pathlib import Path

from reamo.converters.reading import read_json, report
from reamo.converters.tokens import find_span
from reamo.records import Entity, Record, Relation


def convert_webnlg(path: Path, errors: list | None = None) -> list[Record]:
    data = read_json(path, errors)
    if data is None:
        return []
    rel_file = path.parent / "rel2id.json"
    rels = None
    if rel_file.is_file():
        try:
            r2i = json.loads(rel_file.read_text())
            rels = sorted(r2i[0] if isinstance(r2i, list) else r2i)
        except (json.JSONDecodeError, IndexError, TypeError):
            rels = None
    out, seen = [], set()
    for i, d in enumerate(data):
        try:
            text = d["text"]
            ents, index, relations = [], {}, []
            for head, rel, tail in d["triple_list"]:
                ids = []
                for phrase in (head, tail):
                    if phrase not in index:
                        sp = find_span(text, phrase)
                        index[phrase] = len(ents)
                        ents.append(Entity(phrase, "", *(sp if sp else (None, None))))
                    ids.append(index[phrase])
                relations.append(Relation(ids[0], ids[1], rel))
                seen.add(rel)
        except (KeyError, TypeError, ValueError) as e:
            report(errors, path, None, f"entry {i}: {type(e).__name__}: {e}")
            continue
        out.append(Record(f"webnlg-{path.stem}-{i:05d}", "re", text, entities=ents, relations=relations))
    schema = {"relation_types": rels or sorted(seen)}
    for r in out:
        r.schema = schema
    return out
