"""OntoNotes 5 named entities in the CoNLL-2012 format (`*_gold_conll`; for users who hold the LDC licence):
`#begin document` / `#end document` lines, one token a line (document, part, word number, word, POS, parse,
lemma, frameset, sense, speaker, named entity, predicate arguments..., coreference), a blank line between
sentences. The named-entity column (the 11th) brackets spans: `(PERSON*` opens one, `*)` closes it, `(GPE)` is a
one-token span. Each sentence gives an NER record; types in words (GPE -> geo-political entity, WORK_OF_ART ->
work of art). Penn Treebank escapes are undone (-LRB- -> "(", /. -> ".")."""
from __future__ import annotations

import re
from pathlib import Path

from reamo.converters.reading import report
from reamo.converters.tokens import offsets, span_entity
from reamo.records import Record

NE_COLUMN = 10
NE_TAG = re.compile(r"^(\((?P<type>[A-Z_]+)\*?\)?|\*\)?)$")  # (TYPE*  (TYPE)  (TYPE*)  *  *)
NAMED_TYPES = {"PERSON": "person", "ORG": "organization", "GPE": "geo-political entity", "LOC": "location",
               "FAC": "facility", "NORP": "nationality, religious or political group"}
ESCAPES = {"-LRB-": "(", "-RRB-": ")", "-LSB-": "[", "-RSB-": "]", "-LCB-": "{", "-RCB-": "}", "/.": ".", "/?": "?",
           "/-": "-"}


def ontonotes_type(t: str) -> str:
    return NAMED_TYPES.get(t, t.lower().replace("_", " "))


class _Unbalanced(ValueError):
    """A sentence's named-entity brackets do not balance; `line` is where it shows."""

    def __init__(self, line: int, problem: str):
        self.line = line
        super().__init__(problem)


def _sentence(rows: list[tuple[int, list[str]]]) -> tuple[list[str], list[tuple[int, int, str]]]:
    """Tokens and (start, end, TYPE) spans of one sentence's rows; _Unbalanced if the brackets do not balance."""
    toks, spans, open_at = [], [], None
    for i, (lineno, cols) in enumerate(rows):
        toks.append(ESCAPES.get(cols[3], cols[3]))
        m = NE_TAG.match(cols[NE_COLUMN])
        if m.group("type"):
            if open_at is not None:
                raise _Unbalanced(lineno, "a named entity opens inside another")
            open_at = (i, m.group("type"))
        if cols[NE_COLUMN].endswith(")"):
            if open_at is None:
                raise _Unbalanced(lineno, "a named entity closes that never opened")
            spans.append((open_at[0], i + 1, open_at[1]))
            open_at = None
    if open_at is not None:
        raise _Unbalanced(rows[open_at[0]][0], "a named entity never closes")
    return toks, spans


def convert_ontonotes(path: Path, errors: list | None = None) -> list[Record]:
    """A line with too few columns or no named-entity tag in its 11th, or a sentence whose brackets do not
    balance, is reported (file and line) and that sentence left out; the others are read."""
    out, rows, bad = [], [], False
    counts: dict[tuple, int] = {}

    def flush():
        nonlocal rows, bad
        if rows and not bad:
            try:
                toks, spans = _sentence(rows)
            except _Unbalanced as e:
                report(errors, path, e.line, str(e))
            else:
                doc, part = rows[0][1][0], rows[0][1][1]
                n = counts.get((doc, part), 0)
                counts[(doc, part)] = n + 1
                text, starts = offsets(toks)
                ents = [span_entity(toks, starts, a, b, ontonotes_type(t)) for a, b, t in spans]
                out.append(Record(f"ontonotes-{doc.replace('/', '-')}-{part}-{n:03d}", "ner", text, entities=ents))
        rows, bad = [], False

    for lineno, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if line.startswith("#begin document") or line.startswith("#end document") or not line.strip():
            flush()
            continue
        cols = line.split()
        if len(cols) <= NE_COLUMN + 1 or not NE_TAG.match(cols[NE_COLUMN]):
            report(errors, path, lineno, f"expected a CoNLL-2012 row with a named-entity tag in column "
                                         f"{NE_COLUMN + 1}, got {line.strip()[:60]!r}")
            bad = True
            continue
        rows.append((lineno, cols))
    flush()
    schema = {"entity_types": sorted({e.type for r in out for e in r.entities})}
    for r in out:
        r.schema = schema
    return out
