"""Twitter-2015 / Twitter-2017 multimodal NER (UMT format: IMGID lines, token<TAB>BIO-tag). The tweet images
were never distributed with the annotations: records name them and mark them absent."""
from __future__ import annotations

from pathlib import Path

from reamo.converters.conll import CONLL03_TYPES, NER_SCHEMA
from reamo.converters.tokens import bio_sentences, bio_spans, offsets, span_entity
from reamo.records import Record


def convert_twitter(path: Path, errors: list | None = None, prefix: str = "twt17") -> list[Record]:
    out = []
    for rid, toks, tags, img in bio_sentences(path, f"{prefix}-{path.stem}", errors):
        text, starts = offsets(toks)
        ents = [span_entity(toks, starts, a, b, CONLL03_TYPES.get(t, t.lower())) for a, b, t in bio_spans(tags)]
        rec = Record(rid, "ner", text, image=f"images/{img}.jpg" if img else None, schema=dict(NER_SCHEMA),
                     entities=ents)
        if img:
            rec.extra["media_absent"] = ["image"]
        out.append(rec)
    return out


def convert_twitter2017(path: Path, errors: list | None = None) -> list[Record]:
    return convert_twitter(path, errors, "twt17")


def convert_twitter2015(path: Path, errors: list | None = None) -> list[Record]:
    return convert_twitter(path, errors, "twt15")
