"""MNRE multimodal relation extraction: one Python dict literal per line (token, h, t, img_id, relation).
Images are not distributed with the annotations: records name them and mark them absent.

MNRE annotates one entity pair per sentence, with one of 22 relations or `None` (no relation; 974 of the 1,614
test pairs). A `None` pair is a record with its two entities and no relation, and `None` is not a relation type
of the schema: a triple (h, None, t) is not a relation to extract. MNRE poses relation classification: the pair
is part of the input, so each record's schema names it (`entity_pairs`) and the prompt asks for its relation."""
from __future__ import annotations

import ast
from pathlib import Path

from reamo.converters.reading import report
from reamo.converters.tokens import offsets, span_entity
from reamo.records import Record, Relation

NO_RELATION = "None"  # MNRE's label for a pair with no relation


def convert_mnre(path: Path, errors: list | None = None) -> list[Record]:
    rows = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            d = ast.literal_eval(line)
            toks = d["token"]
            text, starts = offsets(toks)
            h = span_entity(toks, starts, d["h"]["pos"][0], d["h"]["pos"][1], "")
            t = span_entity(toks, starts, d["t"]["pos"][0], d["t"]["pos"][1], "")
            rows.append((d, text, h, t))
        except (ValueError, SyntaxError, KeyError, TypeError, IndexError) as e:
            report(errors, path, lineno, f"{type(e).__name__}: {e}")
    rels = sorted({d["relation"] for d, *_ in rows} - {NO_RELATION})
    out = []
    for i, (d, text, h, t) in enumerate(rows):
        rec = Record(f"mnre-{path.stem}-{i:06d}", "re", text, image=f"images/{d['img_id']}",
                     schema={"relation_types": rels, "entity_pairs": [[h.text, t.text]]}, entities=[h, t],
                     relations=[] if d["relation"] == NO_RELATION else [Relation(0, 1, d["relation"])])
        rec.extra["media_absent"] = ["image"]
        out.append(rec)
    return out
