"""Every builder: name -> (phase, what it reads, its arguments, how it opens its samples); `build` runs one and
writes its output with a manifest (inputs, counts, bad entries)."""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from reamo.builders.compose import compose_meta, read_samples
from reamo.builders.pairs import audiocaps, caption_pairs
from reamo.builders.regions import ref_youtube_vos, refcoco, tao_tracks
from reamo.builders.schema_qa import schema_qa
from reamo.builders.speech import librispeech_alignments
from reamo.errors import InputError
from reamo.records.shards import Sample, write_folder, write_shards

log = logging.getLogger("reamo.builders")


def _event_schema(path) -> dict | None:
    from reamo.records.schemas import load_event_schema

    return load_event_schema(path) if path else None


@dataclass(frozen=True)
class Builder:
    phase: str
    help: str
    args: tuple[tuple[str, str], ...]  # (argument, help); all required paths unless the help says optional
    open: Callable[[dict, list], Iterator[Sample]]
    optional: tuple[str, ...] = ()


BUILDERS: dict[str, Builder] = {
    "caption-pairs": Builder("2", "image-text / video-text pairs as img2dataset and video2dataset write them",
                             (("shards", "a folder of .tar shards, a brace pattern or URLs (fsspec)"),),
                             lambda a, e: caption_pairs(a["shards"], e)),
    "audiocaps": Builder("2", "AudioCaps captions: its CSV and a folder of the downloaded clips",
                         (("csv", "AudioCaps' train.csv"), ("clips", "the folder of clips")),
                         lambda a, e: audiocaps(a["csv"], a["clips"], e)),
    "refcoco": Builder("3", "RefCOCO / RefCOCO+ / RefCOCOg regions: refs JSON or parquet, COCO instances, images",
                       (("refs", "the refs as JSON, JSON lines or parquet (one ref a row, as the Hugging Face "
                                 "copies hold them; never the pickle)"),
                        ("instances", "COCO's instances.json of the refs' images"),
                        ("images", "the folder of the COCO images"),
                        ("split", "the refs' split to build (default: train)")),
                       lambda a, e: refcoco(a["refs"], a["instances"], a["images"], a.get("split") or "train", e),
                       optional=("split",)),
    "ref-youtube-vos": Builder("3", "Ref-YouTube-VOS tracks: JPEGImages/, Annotations/, meta.json, expressions",
                               (("root", "the train folder (JPEGImages/, Annotations/, meta.json)"),
                                ("meta-expressions", "meta_expressions.json (default: ROOT/meta_expressions.json)")),
                               lambda a, e: ref_youtube_vos(a["root"], a.get("meta_expressions"), errors=e),
                               optional=("meta-expressions",)),
    "tao": Builder("3", "TAO tracks: its annotations JSON (boxes a second) and the frames folder",
                   (("annotations", "TAO's train.json or validation.json"),
                    ("frames", "the folder the annotations' file_name paths start from")),
                   lambda a, e: tao_tracks(a["annotations"], a["frames"], errors=e)),
    "librispeech": Builder("3", "speech spans: LibriSpeech merged with the MFA word alignments (*.alignment.txt)",
                           (("root", "the LibriSpeech split folder holding the alignments"),),
                           lambda a, e: librispeech_alignments(a["root"], e)),
    "meta": Builder("4", "extraction + meta-response records composed from grounded (phase-3) output",
                    (("grounded", "phase-3 output: shards (folder, pattern) or a records JSONL"),),
                    lambda a, e: compose_meta(lambda: read_samples(a["grounded"], e))),
    "schema-qa": Builder("1a", "MS-PIT stage 1a: event-schema instructions composed from text event records",
                         (("records", "a Reamo JSONL of text EE records (e.g. `reamo data convert`'s RAMS train)"),
                          ("schema", "an event schema giving each type's roles: JSON or an M2E2 folder "
                                     "(default: each record's own)")),
                         lambda a, e: schema_qa(read_samples(a["records"], e), _event_schema(a.get("schema")),
                                                errors=e),
                         optional=("schema",)),
    "records": Builder("any", "a Reamo JSONL with its media (e.g. the benchmark's spoken sets) as shards",
                       (("records", "the records JSONL"),), lambda a, e: read_samples(a["records"], e)),
}


def build(name: str, inputs: dict, out: str | Path, shards: bool = True, maxcount: int = 10000,
          max_errors_logged: int = 5) -> dict:
    """Run builder `name` on `inputs` (argument -> path, as BUILDERS lists them) and write out/ (shards, or
    records.jsonl + media/) with out/manifest.json. Bad entries are reported and counted; the rest is written."""
    if name not in BUILDERS:
        raise InputError("builder", f"unknown builder {name!r}; choose from {', '.join(BUILDERS)}")
    b = BUILDERS[name]
    inputs = {k.replace("-", "_"): v for k, v in inputs.items() if v is not None}
    for arg, _ in b.args:
        key = arg.replace("-", "_")
        if key not in inputs and arg not in b.optional:
            raise InputError(f"--{arg}", f"builder {name!r} needs --{arg}")
        if key in inputs and arg != "split" and "://" not in str(inputs[key]) and "{" not in str(inputs[key]) \
                and not Path(inputs[key]).exists():
            raise InputError(str(inputs[key]), f"--{arg} not found")
    errors: list = []
    samples = b.open(inputs, errors)
    out = Path(out)
    written = write_shards(samples, out, maxcount) if shards else write_folder(samples, out)
    for err in errors[:max_errors_logged]:
        log.warning("%s: skipped %s", name, err)
    manifest = {"builder": name, "phase": b.phase, "inputs": {k: str(v) for k, v in inputs.items()},
                **written, "bad_entries": len(errors), "first_bad_entries": [str(e) for e in errors[:20]]}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest
