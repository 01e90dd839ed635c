"""Relational triples of the joint entity-relation extraction literature, in the formats their releases use:

  CasRel / OneRel JSON (WebNLG, NYT of CopyRE):  [{"text": ..., "triple_list": [[head, relation, tail], ...]}]
      with `rel2id.json` beside it ([{id: relation}, {relation: id}]). Triples carry surface strings, not
      offsets: each argument is located in the text (first occurrence); one not in the text keeps its string
      without offsets.
  NYT11-HRL (HRL-RE's NYT10 / NYT11):  one JSON a line, {"sentext": ..., "relations": [{"rtext": relation,
      "tags": [...], ...}]}; a relation's tags mark its two entities over the whitespace tokens of `sentext`
      (4 begins the head and 1 continues it, 5 begins the tail and 2 continues it, 0 elsewhere).
"""
from __future__ import annotations

import json
from pathlib import Path

from reamo.converters.reading import json_lines, read_json, report
from reamo.converters.tokens import find_span, offsets, span_entity
from reamo.records import Entity, Record, Relation


def relation_names(path: Path) -> list[str] | None:
    """The relation types of a `rel2id.json` beside the data file ([{id: name}, {name: id}] or {name: id}), or
    None when there is none or it cannot be read."""
    f = path.parent / "rel2id.json"
    if not f.is_file():
        return None
    try:
        r2i = json.loads(f.read_text())
        names = r2i[1] if isinstance(r2i, list) else r2i  # the {name: id} half
    except (json.JSONDecodeError, IndexError, TypeError, KeyError):
        return None
    return sorted(names) if isinstance(names, dict) else None


def _casrel(path: Path, errors: list | None, prefix: str) -> list[Record]:
    data = read_json(path, errors)
    if data is None:
        return []
    if not isinstance(data, list):
        report(errors, path, None, "expected a JSON list of {text, triple_list}")
        return []
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
        except (KeyError, TypeError, ValueError) as e:
            report(errors, path, None, f"entry {i}: {type(e).__name__}: {e}")
            continue
        seen.update(r.type for r in relations)
        out.append(Record(f"{prefix}-{path.stem}-{i:05d}", "re", text, entities=ents, relations=relations))
    return _with_schema(out, relation_names(path) or sorted(seen))


def _with_schema(records: list[Record], relation_types: list[str]) -> list[Record]:
    schema = {"relation_types": relation_types}
    for r in records:
        r.schema = schema
    return records


def convert_webnlg(path: Path, errors: list | None = None) -> list[Record]:
    return _casrel(path, errors, "webnlg")


def convert_nyt(path: Path, errors: list | None = None) -> list[Record]:
    return _casrel(path, errors, "nyt")


HRL_HEAD, HRL_TAIL = (4, 1), (5, 2)  # (begin, inside) tags of the head and the tail entity


def _hrl_span(tags: list[int], begin: int, inside: int) -> tuple[int, int]:
    """The token span [a, b) that a relation's tags give one of its entities."""
    if begin not in tags:
        raise ValueError(f"no tag {begin} (the {'head' if begin == HRL_HEAD[0] else 'tail'} entity's begin)")
    a = tags.index(begin)
    b = a + 1
    while b < len(tags) and tags[b] == inside:
        b += 1
    return a, b


def convert_nyt11_hrl(path: Path, errors: list | None = None) -> list[Record]:
    """A line that is not JSON, or whose tags do not fit its tokens, is reported with its line number."""
    out, seen = [], set()
    for lineno, d in json_lines(path, errors):
        try:
            toks = d["sentext"].split()
            text, starts = offsets(toks)
            ents, index, relations = [], {}, []
            for r in d["relations"]:
                tags = r["tags"]
                if len(tags) != len(toks):
                    raise ValueError(f"{len(tags)} tags for {len(toks)} tokens")
                ids = []
                for begin, inside in (HRL_HEAD, HRL_TAIL):
                    a, b = _hrl_span(tags, begin, inside)
                    if (a, b) not in index:
                        index[(a, b)] = len(ents)
                        ents.append(span_entity(toks, starts, a, b, ""))
                    ids.append(index[(a, b)])
                relations.append(Relation(ids[0], ids[1], r["rtext"]))
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            report(errors, path, lineno, f"{type(e).__name__}: {e}")
            continue
        seen.update(x.type for x in relations)
        out.append(Record(f"nyt11-{path.stem}-{lineno:06d}", "re", text, entities=ents, relations=relations))
    return _with_schema(out, sorted(seen))
