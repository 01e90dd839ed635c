"""`reamo bench build`: an open zero-shot MUIE benchmark from public data, in the layout `reamo eval` reads
(BENCH/<combo>/<set>.jsonl, media paths relative to each file) with a manifest.json.

The paper's MUIE test set was never released. This builds its open counterpart from the public files a user
has (by default the ../shared/data folder; each source can be named by its own flag):

- text sets, as distributed: twitter-2017 NER, MNRE RE and M2E2 EE under T+I (their images were never
  distributed: the records mark them absent and evaluation runs on the text), CoNLL04 and WebNLG RE, RAMS
  and WikiEvents EE under T;
- speech variants of the sentence-level sets (twitter-2017 NER, CoNLL04 RE, M2E2 EE): the text spoken by
  espeak-ng with word times, as audio-only (A/<set>-aud) and text+audio (T+A/<set>-aud) sets whose every
  entity, argument and trigger carries a gold audio span;
- moment retrieval (QVHighlights, TACoS, Charades-STA) under V when a folder of their videos is given
  (the annotations ship without videos); otherwise listed in the manifest as skipped, with the reason.

Each set is a seeded sample of `per_set` records (200, as in the paper). Event schemas larger than
`max_event_types` types, and relation lists longer than `max_relation_types` (WebNLG names 216), are cut per
record to its gold types plus seeded distractors, so prompts stay within the model's length; the manifest says
so.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from reamo.converters import read_format
from reamo.records import Record, write_jsonl
from reamo.records.schemas import cut_schemas

LICENSES = {
    "twitter2017": "Twitter-2017 (Yu et al. 2020, UMT): research use; tweet texts under Twitter's terms",
    "mnre": "MNRE (Zheng et al. 2021): research use",
    "m2e2": "M2E2 (Li et al. 2020): research use; ACE 2005 ontology",
    "conll04": "CoNLL04 (Roth and Yih 2004): research use",
    "webnlg": "WebNLG (Gardent et al. 2017): CC BY-NC-SA 4.0",
    "rams": "RAMS 1.0 (Ebner et al. 2020): CC BY-SA 4.0",
    "wikievents": "WikiEvents (Li et al. 2021): research use; KAIROS ontology",
    "qvhighlights": "QVHighlights (Lei et al. 2021): CC BY-NC-SA 4.0",
    "tacos": "TACoS (Regneri et al. 2013): research use",
    "charades-sta": "Charades-STA (Gao et al. 2017): non-commercial research use",
}
# (combo, set name, format, default source under the data folder, speech variant?)
TEXT_SETS = [
    ("T+I", "twt17", "twitter2017", "multimodal/twitter2017/test.txt", True),
    ("T+I", "mnre", "mnre", "multimodal/mnre/mnre_test.txt", False),
    ("T+I", "m2e2", "m2e2", "multimodal/m2e2", True),
    ("T", "conll04", "conll04", "text/conll04/conll04_test.json", True),
    ("T", "webnlg", "webnlg", "text/webnlg/sample_triples.json", False),
    ("T", "rams", "rams", "text/rams/dev.jsonlines", False),
    ("T", "wikievents", "wikievents", "text/wikievents/dev.jsonl", False),
]
MOMENT_SETS = [
    ("V", "qvhighlights", "qvhighlights", "grounding/qvhighlights/highlight_val_sample.jsonl"),
    ("V", "tacos", "tacos", "grounding/tacos/test_sample.json"),
    ("V", "charades-sta", "charades-sta", "grounding/charades_sta/charades_sta_test.txt"),
]


@dataclass
class BuildOptions:
    data_dir: Path | None = None
    per_set: int = 200
    seed: int = 0
    speech: bool = True
    max_event_types: int = 12
    max_relation_types: int = 24
    sources: dict = field(default_factory=dict)  # format -> a file the user names (overrides data_dir)
    videos: dict = field(default_factory=dict)  # moment format -> folder of its videos

    def __post_init__(self):
        if self.per_set < 1:
            raise ValueError(f"per_set must be positive, got {self.per_set}")
        for k in ("max_event_types", "max_relation_types"):
            if getattr(self, k) < 1:
                raise ValueError(f"{k} must be positive, got {getattr(self, k)}")


def _source(fmt: str, default: str, opts: BuildOptions) -> Path | None:
    if fmt in opts.sources:
        return Path(opts.sources[fmt])
    if opts.data_dir is not None and (opts.data_dir / default).exists():
        return opts.data_dir / default
    return None


def _sample(records: list[Record], n: int, seed: int, name: str) -> list[Record]:
    if len(records) <= n:
        return records
    rng = np.random.default_rng([seed, sum(map(ord, name))])
    return [records[i] for i in sorted(rng.choice(len(records), n, replace=False))]


def _text_only(records: list[Record]) -> list[Record]:
    """Records whose images were never distributed go in with the image named and marked absent; image-only
    records (no text) are dropped, as nothing of them could be evaluated."""
    return [r for r in records if r.text]


def _spoken(records: list[Record], speaker, folder: Path, audio_only: bool, cache: dict) -> tuple[list, dict]:
    """Speech variants of `records`: a WAV per record in folder/audio/ and every span with its audio span."""
    from reamo.benchmark.speech import check_word_times, write_wav

    out, checks = [], []
    for r in records:
        key = r.id
        if key not in cache:
            cache[key] = speaker.speak(r.text)
        spoken = cache[key]
        wav_rel = f"audio/{_safe(r.id)}.wav"
        write_wav(folder / wav_rel, spoken.wave)
        checks.append(check_word_times(spoken))
        d = r.to_dict()
        d["id"] = f"{r.id}-aud" if audio_only else f"{r.id}-txtaud"
        d["audio"] = wav_rel
        d["image"] = d["video"] = None
        d.pop("media_absent", None)
        for e in d["entities"]:
            _ground(e, spoken)
        for ev in d["events"]:
            _ground(ev, spoken, trig=ev["trigger"])
            for a in ev["arguments"]:
                _ground(a, spoken)
        if audio_only:
            d["text"] = None
            for x in d["entities"] + [a for ev in d["events"] for a in ev["arguments"]]:
                x["start"] = x["end"] = None
            for ev in d["events"]:
                ev["trigger"]["start"] = ev["trigger"]["end"] = None
        out.append(Record.from_dict(d))
    ok = [c for c in checks if "mean_abs_ms" in c]
    summary = {"files": len(checks), "checked": len(ok),
               "mean_abs_ms": round(float(np.mean([c["mean_abs_ms"] for c in ok])), 2) if ok else None}
    return out, summary


def _ground(item: dict, spoken, trig: dict | None = None) -> None:
    """The item's (or its trigger's) audio span from the spoken words; other groundings are dropped (the
    spoken variant has no image or video)."""
    from reamo.benchmark.speech import span_times

    src = trig if trig is not None else item
    span = span_times(spoken, src.get("start"), src.get("end"))
    g = {k: v for k, v in (item.get("grounding") or {}).items() if k == "audio"}
    if span:
        g["audio"] = {"spans": [span]}
    item["grounding"] = g


def _safe(s: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in s)[:120]


def build_benchmark(out: str | Path, opts: BuildOptions, progress=print) -> dict:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    manifest = {"created_by": "reamo bench build", "per_set": opts.per_set, "seed": opts.seed, "sets": {},
                "skipped": {}}
    speaker = None
    if opts.speech:
        from reamo.benchmark.speech import Speaker

        speaker = Speaker()
    for combo, name, fmt, default, speak in TEXT_SETS:
        src = _source(fmt, default, opts)
        if src is None:
            manifest["skipped"][f"{combo}/{name}"] = f"no {fmt} file (give --source {fmt}=PATH)"
            continue
        errors = []
        records = _text_only(read_format(fmt, src, errors))
        sample = _sample(records, opts.per_set, opts.seed, name)
        cut = cut_schemas(sample, opts.max_event_types, opts.max_relation_types, opts.seed)
        write_jsonl(out / combo / f"{name}.jsonl", sample)
        entry = {"source": str(src), "format": fmt, "license": LICENSES[fmt], "task": sample[0].task if sample else None,
                 "records": len(sample), "of": len(records), "bad_lines": len(errors),
                 "media_absent": sorted({m for r in sample for m in (r.extra.get("media_absent") or [])}),
                 "counts": _counts(sample)}
        if cut:
            n = opts.max_event_types if sample[0].task == "ee" else opts.max_relation_types
            entry["schema"] = f"per record: gold {'event' if sample[0].task == 'ee' else 'relation'} types + distractors, {n} types"
        manifest["sets"][f"{combo}/{name}"] = entry
        progress(f"{combo}/{name}: {len(sample)} records from {src}")
        if speak and speaker is not None:
            cache: dict = {}
            for sp_combo, audio_only in (("A", True), ("T+A", False)):
                folder = out / sp_combo
                spoken, check = _spoken(sample, speaker, folder, audio_only, cache)
                write_jsonl(folder / f"{name}-aud.jsonl", spoken)
                manifest["sets"][f"{sp_combo}/{name}-aud"] = {
                    "source": f"{combo}/{name} spoken by espeak-ng ({speaker.voice}, {speaker.wpm} wpm)",
                    "format": fmt, "license": LICENSES[fmt], "task": entry["task"], "records": len(spoken),
                    "counts": _counts(spoken), "word_time_check": check,
                    "audio_spans": sum(1 for r in spoken for x in _items(r) if x.grounding.get("audio"))}
                progress(f"{sp_combo}/{name}-aud: {len(spoken)} spoken records (word times vs audio: "
                         f"{check['mean_abs_ms']} ms mean)")
    for combo, name, fmt, default in MOMENT_SETS:
        src = _source(fmt, default, opts)
        videos = opts.videos.get(fmt)
        if src is None:
            manifest["skipped"][f"{combo}/{name}"] = f"no {fmt} annotations (give --source {fmt}=PATH)"
            continue
        if not videos:
            manifest["skipped"][f"{combo}/{name}"] = (f"{fmt} videos are not distributed with the annotations; "
                                                      f"give --videos {fmt}=DIR to include this set")
            continue
        records = [r for r in read_format(fmt, src) if (Path(videos) / Path(r.video).name).is_file()]
        sample = _sample(records, opts.per_set, opts.seed, name)
        for r in sample:
            r.video = str((Path(videos) / Path(r.video).name).resolve())
            r.extra.pop("media_absent", None)
        write_jsonl(out / combo / f"{name}.jsonl", sample)
        manifest["sets"][f"{combo}/{name}"] = {"source": str(src), "videos": str(videos), "format": fmt,
                                               "license": LICENSES[fmt], "task": "moment retrieval",
                                               "records": len(sample), "of": len(records)}
    manifest["build_s"] = round(time.time() - t0, 1)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return manifest


def _items(r: Record):
    return list(r.entities) + list(r.events) + [a for e in r.events for a in e.arguments]


def _counts(records: list[Record]) -> dict:
    return {"entities": sum(len(r.entities) for r in records), "relations": sum(len(r.relations) for r in records),
            "events": sum(len(r.events) for r in records),
            "arguments": sum(len(e.arguments) for r in records for e in r.events)}
