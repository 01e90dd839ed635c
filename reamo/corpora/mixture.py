"""The phase-1 mixture (UIE instruction tuning on many text IE sets at once, as the paper's phase 1 does):
public training splits read through `reamo.converters`, drawn in the proportions the config gives, each record
given a sampled label list (reamo.corpora.labels), shuffled and written as one JSONL with a manifest of every
source (path, split, licence, SHA-256, counts). Evaluation sets (dev splits for choices, test splits for the
report) are written beside it as a benchmark folder (`eval/<combo>/<name>.jsonl`) that `reamo eval` reads.

    reamo data mix --config configs/data/phase1_public.yaml --out runs/phase1_public/data [--source nyt=DIR]
"""
from __future__ import annotations

import hashlib
import json
import logging
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from reamo.configbase import Config
from reamo.converters.registry import FORMATS, read_format
from reamo.corpora.labels import LabelSampling, load_synonyms, sample_labels, schema_types
from reamo.errors import InputError, RecordError
from reamo.records import Record, write_jsonl
from reamo.records.schemas import cut_schemas

log = logging.getLogger("reamo.corpora")


def _parse_part(part: str) -> tuple[int, int]:
    """"K/N" -> (K, N); ValueError unless 1 <= K <= N."""
    k, n = (int(x) for x in part.split("/"))
    if not 1 <= k <= n:
        raise ValueError(part)
    return k, n


def in_part(record_id: str, part: str | None) -> bool:
    """Whether a record belongs to `part` "K/N": the K-th of N parts drawn by a hash of its id (stable across runs
    and machines), so that one file can give a training part and an evaluation part that share no record."""
    if part is None:
        return True
    k, n = _parse_part(part)
    return zlib.crc32(record_id.encode()) % n == k - 1


def _part_ok(part: str | None) -> bool:
    if part is None:
        return True
    try:
        _parse_part(part)
    except (AttributeError, ValueError):
        return False
    return True


@dataclass
class SourceConfig(Config):
    name: str = ""
    format: str = ""
    path: str = ""  # relative to the data folder unless absolute; `--source NAME=PATH` overrides it
    split: str = "train"
    licence: str = ""
    weight: float = 1.0  # share of the mixture's examples (drawn again, with fresh labels, once exhausted)
    max_records: int | None = None  # read at most this many records of the source
    optional: bool = False  # a source whose file is absent is left out (and the manifest says so)
    part: str | None = None  # "K/N": only the K-th of N parts of its records (by a hash of the id; see in_part)

    def __post_init__(self):
        self.check(bool(self.name), "name", "every source needs a name")
        self.check(_part_ok(self.part), "part", "must be K/N with 1 <= K <= N, e.g. 1/2")
        self.check(self.format in FORMATS, "format", f"unknown format {self.format!r}; choose from {', '.join(FORMATS)}")
        self.check(bool(self.path), "path", "every source needs a path")
        self.check(self.weight > 0, "weight", "must be > 0")
        self.check(self.max_records is None or self.max_records > 0, "max_records", "must be positive")


@dataclass
class EvalSetConfig(Config):
    name: str = ""
    format: str = ""
    path: str = ""
    split: str = "test"
    combo: str = "T"
    role: str = "test"  # "dev": for choices; "test": read last, for the report
    limit: int | None = 200  # a seeded sample of this many records (None: all)
    optional: bool = False
    part: str | None = None  # "K/N": only the K-th of N parts of its records (see SourceConfig.part)
    # a longer event schema (relation list) is cut per record to its gold types + seeded distractors, as
    # `reamo bench build` does (reamo.records.schemas.cut_schemas): RAMS names 139 event types
    max_event_types: int = 12
    max_relation_types: int = 24

    def __post_init__(self):
        self.check(bool(self.name), "name", "every evaluation set needs a name")
        self.check(self.max_event_types > 0, "max_event_types", "must be positive")
        self.check(self.max_relation_types > 0, "max_relation_types", "must be positive")
        self.check(_part_ok(self.part), "part", "must be K/N with 1 <= K <= N, e.g. 2/2")
        self.check(self.format in FORMATS, "format", f"unknown format {self.format!r}")
        self.check(self.role in ("dev", "test"), "role", "must be dev or test")
        self.check(self.limit is None or self.limit > 0, "limit", "must be positive")


@dataclass
class MixtureConfig(Config):
    sources: list[SourceConfig] = field(default_factory=list)
    eval: list[EvalSetConfig] = field(default_factory=list)
    size: int = 8000  # training examples in the mixture
    seed: int = 0
    labels: LabelSampling = field(default_factory=LabelSampling)
    data_dir: str = "../shared/data"

    def __post_init__(self):
        self.check(bool(self.sources), "sources", "a mixture needs at least one source")
        self.check(self.size > 0, "size", "must be positive")
        names = [s.name for s in self.sources]
        self.check(len(set(names)) == len(names), "sources", "source names must be unique")
        sets = [(e.name, e.role) for e in self.eval]
        self.check(len(set(sets)) == len(sets), "eval", "an evaluation set's name must be unique within its role")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for f in files:
        h.update(f.read_bytes())
    return h.hexdigest()


def _resolve(path: str, cfg: MixtureConfig, overrides: dict[str, str], name: str, base: Path) -> Path:
    if name in overrides:
        p = Path(overrides[name])
        # a folder given for a file source: the file of the same name in it
        return p / Path(path).name if p.is_dir() and Path(path).suffix else p
    p = Path(path).expanduser()
    if p.is_absolute():
        return p
    data = Path(cfg.data_dir).expanduser()
    return (data if data.is_absolute() else base / data) / p


def _load(entry: SourceConfig | EvalSetConfig, kind: str, cfg: MixtureConfig, overrides: dict[str, str], base: Path,
          manifest: dict) -> tuple[Path, list[Record], list[RecordError]] | None:
    """The text records of a source or evaluation set and its bad lines; None for an optional one that is absent
    (noted in the manifest's left_out)."""
    path = _resolve(entry.path, cfg, overrides, entry.name, base)
    if not path.exists():
        if entry.optional:
            manifest["left_out"].append({"name": entry.name, "path": str(path), "why": f"not found (optional {kind})"})
            return None
        raise InputError(str(path), f"{kind} {entry.name!r} ({entry.format}, {entry.split}) not found; give it with "
                                    f"--source {entry.name}=PATH")
    errors: list[RecordError] = []
    recs = read_format(entry.format, path, errors)
    for e in errors[:5]:
        log.warning("%s: skipped %s", entry.name, e)
    return path, [r for r in recs if r.text and in_part(r.id, entry.part)], errors  # phase 1 is text IE


def _counts(recs: list[Record]) -> dict:
    return {"records": len(recs), "tasks": {t: sum(r.task == t for r in recs) for t in ("ner", "re", "ee")
                                            if any(r.task == t for r in recs)},
            "entities": sum(len(r.entities) for r in recs), "relations": sum(len(r.relations) for r in recs),
            "events": sum(len(r.events) for r in recs)}


def build_mixture(cfg: MixtureConfig, out: str | Path, overrides: dict[str, str] | None = None,
                  base: str | Path = ".") -> dict:
    """Write out/train.jsonl, out/eval/<combo>/<name>.jsonl and out/manifest.json; return the manifest."""
    overrides = dict(overrides or {})
    unknown = set(overrides) - {s.name for s in cfg.sources} - {e.name for e in cfg.eval}
    if unknown:
        raise InputError("--source", f"no source or evaluation set named {sorted(unknown)[0]!r}")
    out, base = Path(out), Path(base)
    out.mkdir(parents=True, exist_ok=True)
    manifest: dict = {"seed": cfg.seed, "size": cfg.size, "labels": cfg.labels.to_dict(), "sources": [], "eval": [],
                      "left_out": []}
    loaded = []
    for s in cfg.sources:
        got = _load(s, "source", cfg, overrides, base, manifest)
        if got is None:
            continue
        path, recs, errors = got
        if s.max_records:
            recs = recs[: s.max_records]
        if not recs:
            raise RecordError(path, None, f"source {s.name!r} gave no text records")
        loaded.append((s, recs))
        manifest["sources"].append({"name": s.name, "format": s.format, "path": str(path), "split": s.split,
                                    "part": s.part, "licence": s.licence, "sha256": _sha256(path),
                                    "bad_lines": len(errors), **_counts(recs)})
    if not loaded:
        raise InputError("sources", "no source of the mixture was found")
    # the label pool of each task: every type of every source of that task (and EE's roles per type)
    pool: dict[str, list[str]] = {}
    roles: dict[str, list[str]] = {}
    for _, recs in loaded:
        for r in recs:
            for t in schema_types(r.task, r.schema):
                if t not in pool.setdefault(r.task, []):
                    pool[r.task].append(t)
            if r.task == "ee":
                for t, rs in r.schema.get("event_types", {}).items():
                    roles.setdefault(t, list(rs))
    manifest["label_pool"] = {t: len(v) for t, v in pool.items()}
    weights = np.array([s.weight for s, _ in loaded])
    shares = np.floor(cfg.size * weights / weights.sum()).astype(int)
    shares[: cfg.size - shares.sum()] += 1  # the remainder, one each to the first sources
    synonyms = None
    if cfg.labels.synonyms:
        syn = Path(cfg.labels.synonyms).expanduser()
        syn = syn if syn.is_absolute() else base / syn
        synonyms = load_synonyms(syn)
        manifest["synonyms"] = {"path": cfg.labels.synonyms, "labels": len(synonyms), "sha256": _sha256(syn)}
    rng = np.random.default_rng(cfg.seed)
    examples: list[Record] = []
    for k, ((s, recs), n) in enumerate(zip(loaded, shares)):
        src_rng = np.random.default_rng([cfg.seed, k])
        order: list[int] = []
        while len(order) < n:
            order += src_rng.permutation(len(recs)).tolist()
        for j, i in enumerate(order[:n]):
            ex = sample_labels(recs[i], pool[recs[i].task], roles, cfg.labels, src_rng, synonyms)
            ex.id = f"{s.name}/{j:06d}/{recs[i].id}"
            ex.extra["source"] = s.name
            examples.append(ex)
        manifest["sources"][k]["examples"] = int(n)
        manifest["sources"][k]["epochs_of_source"] = round(n / len(recs), 3)
    examples = [examples[i] for i in rng.permutation(len(examples))]
    write_jsonl(out / "train.jsonl", examples)
    for e in cfg.eval:
        got = _load(e, "evaluation set", cfg, overrides, base, manifest)
        if got is None:
            continue
        path, recs, errors = got
        if e.limit and len(recs) > e.limit:
            idx = np.sort(np.random.default_rng([cfg.seed, 104729, len(manifest["eval"])]).choice(len(recs), e.limit,
                                                                                                  replace=False))
            recs = [recs[i] for i in idx]
        cut = cut_schemas(recs, e.max_event_types, e.max_relation_types, cfg.seed)
        target = out / "eval" / e.role / e.combo / f"{e.name}.jsonl"
        target.parent.mkdir(parents=True, exist_ok=True)
        write_jsonl(target, recs)
        manifest["eval"].append({"name": e.name, "role": e.role, "format": e.format, "path": str(path),
                                 "split": e.split, "part": e.part, "sha256": _sha256(path),
                                 "file": str(target.relative_to(out)), "bad_lines": len(errors), **_counts(recs),
                                 **({"schema": f"per record: gold types + distractors, {e.max_event_types} event / "
                                               f"{e.max_relation_types} relation types at most"} if cut else {})})
    manifest["examples"] = len(examples)
    manifest["tasks"] = {t: sum(x.task == t for x in examples) for t in ("ner", "re", "ee")}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")
    return manifest
