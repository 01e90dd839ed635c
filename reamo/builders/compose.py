"""Phase 4 (invocation-based meta-response tuning): extraction instructions composed from grounded records, as the
quickstart composes its own. Each record keeps one phrase per grounded object (drawn, seeded by the record's id),
its entities typed by their object's category, and gets a sampled label list (reamo.corpora.labels: missing and
negative types, shuffled) over the types of the whole input; the meta phase then writes the answer in the paper's
format, `(phrase, type)` items followed by one `<Module>..</Module><Instruction>phrase</Instruction>` per grounded
item, and learns each instruction's region, span or track.

Also here: Reamo JSONL (with media beside it) read as samples, so any corpus, the benchmark's spoken sets among
them, can be written as shards."""
from __future__ import annotations

import json
import zlib
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np

from reamo.corpora.labels import LabelSampling, sample_labels
from reamo.errors import RecordError
from reamo.records import Record, read_jsonl
from reamo.records.shards import MEDIA, Sample, iter_shard_samples, shard_urls

UNTYPED = ("phrase", "")  # phrases of speech alignments: no category to extract


def records_jsonl(path: str | Path, errors: list | None = None) -> Iterator[Sample]:
    """A Reamo JSONL's records with their media (paths beside the file); a bad line or a record whose media file
    is absent is reported and skipped."""
    path = Path(path)
    for rec in read_jsonl(path, errors):
        media = {}
        for m in MEDIA:
            p = rec.media_path(m, path)
            if p is not None:
                media[m] = (p.suffix.lstrip("."), p)
        gone = [str(p) for _, p in media.values() if not Path(p).is_file()]
        if gone:
            err = RecordError(path, None, f"record {rec.id}: media not found: {gone[0]}")
            if errors is None:
                raise err
            errors.append(err)
            continue
        yield Sample(rec, media)


def read_samples(spec, errors: list | None = None) -> Iterator[Sample]:
    """Samples from shards (a folder of .tar, a brace pattern, URLs) or from a Reamo JSONL."""
    if str(spec).endswith(".jsonl"):
        yield from records_jsonl(spec, errors)
        return
    for url in shard_urls(spec):
        yield from iter_shard_samples(url, errors)


def _one_phrase_per_object(rec: Record, rng: np.random.Generator) -> Record:
    groups: dict[str, list] = {}
    for e in rec.entities:
        if e.type not in UNTYPED and e.grounding:
            groups.setdefault(json.dumps(e.grounding, sort_keys=True), []).append(e)
    out = Record.from_dict(rec.to_dict())
    out.entities = [g[int(rng.integers(len(g)))] for g in groups.values()]
    out.schema = {"entity_types": sorted({e.type for e in out.entities})}
    return out


def compose_meta(open_samples: Callable[[], Iterable[Sample]], labels: LabelSampling | None = None,
                 seed: int = 0) -> Iterator[Sample]:
    """Grounded samples -> phase-4 samples. `open_samples` is called twice: once for the label pool (every type
    of the input), once to compose. Records with no typed grounded entity are left out."""
    labels = labels or LabelSampling(drop=0.0, negatives=[0, 3], max_labels=12)
    pool = sorted({e.type for s in open_samples() for e in s.record.entities if e.type not in UNTYPED})
    for s in open_samples():
        rng = np.random.default_rng([seed, zlib.crc32(s.record.id.encode())])
        rec = _one_phrase_per_object(s.record, rng)
        if not rec.entities:
            continue
        rec = sample_labels(rec, pool, {}, labels, rng)
        if not rec.entities:
            continue
        rec.extra["composed_from"] = s.record.id
        yield Sample(rec, s.media)
