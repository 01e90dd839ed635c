"""Token-level helpers shared by the converters: texts rebuilt from tokens with exact character offsets,
BIO/BILOU spans, CoNLL-style sentence reading, phrases located in a text."""
from __future__ import annotations

import re

from pathlib import Path

from reamo.converters.reading import report
from reamo.records import Entity


def offsets(tokens: list[str]) -> tuple[str, list[int]]:
    """The text (tokens joined by single spaces) and each token's start offset in it."""
    starts, pos = [], 0
    for t in tokens:
        starts.append(pos)
        pos += len(t) + 1
    return " ".join(tokens), starts


def span_entity(tokens, starts, a: int, b: int, typ: str) -> Entity:
    """The entity over tokens [a, b) with exact offsets into the joined text."""
    if not 0 <= a < b <= len(tokens):
        raise ValueError(f"token span [{a}, {b}) outside the {len(tokens)} tokens")
    s, e = starts[a], starts[b - 1] + len(tokens[b - 1])
    return Entity(" ".join(tokens[a:b]), typ, s, e)


def bio_spans(tags: list[str]) -> list[tuple[int, int, str]]:
    """(start, end, type) token spans from BIO / BILOU tags."""
    spans, start, typ = [], None, None
    for i, tag in enumerate(tags + ["O"]):
        head, _, t = tag.partition("-")
        if start is not None and (head in ("O", "B", "U", "S") or t != typ):
            spans.append((start, i, typ))
            start = None
        if head in ("B", "U", "S") or (head in ("I", "L", "E") and start is None):
            start, typ = i, t
        if head in ("L", "E", "U", "S") and start is not None:
            spans.append((start, i + 1, typ))
            start = None
    return spans


BIO_TAG = re.compile(r"^(O|[BIELUS]-\S+)$")  # O, or B-/I-/E-/L-/U-/S- and a type


def bio_sentences(path: Path, id_prefix: str, errors: list | None = None):
    """(id, tokens, tags, image_id) from CoNLL-style `token<TAB>tag` files (IMGID: lines for tweets); the tag is
    the last column. A line without a tag, or whose last column is not a BIO/BILOU tag, is reported (file and
    line) and its sentence dropped; reading goes on."""
    toks, tags, img, n, bad = [], [], None, 0, False
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines() + [""], 1):
        if line.startswith("IMGID:"):
            img = line.split(":", 1)[1].strip()
            continue
        if not line.strip() or line.startswith("-DOCSTART-"):
            if toks and not bad:
                yield f"{id_prefix}-{n:06d}", toks, tags, img
                n += 1
            toks, tags, bad = [], [], False
            img = None if not line.startswith("-DOCSTART-") else img
            continue
        parts = line.split()
        if len(parts) < 2:
            report(errors, path, lineno, f"expected 'token<TAB>tag', got {line[:60]!r}")
            bad = True
            continue
        if not BIO_TAG.match(parts[-1]):
            report(errors, path, lineno, f"the last column {parts[-1][:30]!r} is not a BIO tag (O, B-TYPE, I-TYPE, ...): "
                                         f"{line[:60]!r}")
            bad = True
            continue
        toks.append(parts[0])
        tags.append(parts[-1])


def find_span(text: str, phrase: str, after: int = 0) -> tuple[int, int] | None:
    """Character offsets of `phrase` in `text` (first occurrence at or after `after`, else anywhere)."""
    i = text.find(phrase, after)
    if i < 0:
        i = text.find(phrase)
    return None if i < 0 else (i, i + len(phrase))
