"""Every dataset format Reamo reads: name -> (converter, what it reads). `convert(name, in, out)` writes JSONL
records and reports malformed lines (file and line) without losing the others."""
from __future__ import annotations

from pathlib import Path

from reamo.converters.ace import convert_ace05
from reamo.converters.conll import convert_conll04, convert_conll2003
from reamo.converters.doc_events import convert_rams, convert_wikievents
from reamo.converters.m2e2 import convert_m2e2
from reamo.converters.mnre import convert_mnre
from reamo.converters.moments import convert_charades_sta, convert_qvhighlights, convert_tacos
from reamo.converters.ontonotes import convert_ontonotes
from reamo.converters.triples import convert_nyt, convert_nyt11_hrl, convert_webnlg
from reamo.converters.tweets import convert_twitter2015, convert_twitter2017
from reamo.converters.maven import convert_maven
from reamo.errors import InputError, RecordError
from reamo.records import write_jsonl

FORMATS = {
    "conll2003": (convert_conll2003, "CoNLL-2003 NER: token<TAB>BIO-tag lines"),
    "conll04": (convert_conll04, "CoNLL04 entities + relations (SpERT JSON)"),
    "twitter2015": (convert_twitter2015, "Twitter-2015 multimodal NER (UMT: IMGID lines + BIO; images absent)"),
    "twitter2017": (convert_twitter2017, "Twitter-2017 multimodal NER (UMT: IMGID lines + BIO; images absent)"),
    "mnre": (convert_mnre, "MNRE multimodal RE (one dict literal per line; images absent)"),
    "m2e2": (convert_m2e2, "M2E2 multimedia events (the folder; images absent)"),
    "rams": (convert_rams, "RAMS 1.0 document-level event arguments (*.jsonlines; meta.json beside it)"),
    "wikievents": (convert_wikievents, "WikiEvents document-level events with entity mentions (*.jsonl)"),
    "webnlg": (convert_webnlg, "WebNLG relational triples ([{text, triple_list}] JSON; rel2id.json beside it)"),
    "charades-sta": (convert_charades_sta, "Charades-STA moments: 'VID start end##sentence' (videos absent)"),
    "qvhighlights": (convert_qvhighlights, "QVHighlights moment retrieval JSONL (videos absent)"),
    "tacos": (convert_tacos, "TACoS moments, timestamps in frames -> seconds (JSON; videos absent)"),
    "ontonotes": (convert_ontonotes, "OntoNotes 5 named entities, CoNLL-2012 *_gold_conll (LDC licence)"),
    "nyt": (convert_nyt, "NYT relational triples, CopyRE/CasRel JSON ([{text, triple_list}]; rel2id.json beside it)"),
    "nyt11-hrl": (convert_nyt11_hrl, "NYT10/NYT11 of HRL-RE: JSON lines {sentext, relations [{rtext, tags}]}"),
    "maven": (convert_maven, "MAVEN event detection / MAVEN-Arg JSON lines (train and valid; test hides labels)"),
    "ace05": (convert_ace05, "ACE 2005 in DyGIE++ JSON lines (LDC licence): NER, RE and EE records per sentence"),
}


def read_format(name: str, in_path: str | Path, errors: list[RecordError] | None = None):
    """The records of one dataset file (or folder, for M2E2). Bad lines go to `errors` when it is given."""
    if name not in FORMATS:
        raise InputError("--format", f"unknown format {name!r}; choose from {', '.join(FORMATS)}")
    p = Path(in_path)
    if not p.exists():
        raise InputError(str(p), "input not found")
    return FORMATS[name][0](p, errors)


def convert(name: str, in_path: str | Path, out_path: str | Path, errors: list | None = None) -> dict:
    errors = [] if errors is None else errors
    recs = read_format(name, in_path, errors)
    write_jsonl(out_path, recs)
    return {"records": len(recs), "entities": sum(len(r.entities) for r in recs),
            "relations": sum(len(r.relations) for r in recs), "events": sum(len(r.events) for r in recs),
            "bad_lines": len(errors)}


def formats_help() -> str:
    return "\n".join(f"  {k:<13} {v[1]}" for k, v in FORMATS.items())
