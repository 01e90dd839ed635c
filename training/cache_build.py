"""`reamo cache build`: the frozen encoder's features of a phase's media, computed once before training, in shards.

A phase config names the data (JSONL files and/or webdataset shards, as `data.train`), the model (whose encoder
and media settings make the cache key) and the cache folder (`data.cache_dir`). The media are cut into units:
the distinct media files of the JSONL records (sorted, `shard_size` a unit), then one unit per data shard (.tar).
Unit u is encoded by rank u mod world and written as CACHE/shards/emb-TAG-u.safetensors (TAG: a hash of the data,
the encoder and the unit size), so that what a unit holds does not depend on the number of processes:

- run under torchrun or the deepspeed launcher, each rank encodes its own units (RANK / WORLD_SIZE from the
  environment; gloo for the closing barrier);
- resumable and idempotent: a unit whose shard is already there and readable is not encoded again, whatever
  number of processes wrote it (a partial or corrupt shard is encoded again; shards are written atomically);
- training reads the shards through encoders.cache.EmbeddingCache (what is not in them is computed as before).

A medium that does not load is reported with its name and left out (training computes it itself or skips the
example); the unit's other media are kept.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import torch

from encoders.cache import SHARD_DIR, EmbeddingCache, shard_keys, write_shard
from encoders.imagebind import EncoderOutput
from reamo.errors import ConfigError, ReamoError
from reamo.model.inputs import load_media
from reamo.model.tokens import MEDIA_MODALITIES
from reamo.process_group import ensure
from reamo.records import read_jsonl
from reamo.records.shards import iter_shard_samples, shard_urls
from training.config import TrainConfig
from training.examples import cache_dir, cache_extra, cached_output
from training.streaming import is_shard_spec

log = logging.getLogger("reamo.training")
MEDIA_PHASES = ("alignment", "schema_visual", "grounding", "meta")


@dataclass
class Unit:
    index: int
    files: list[tuple[str, str]] = field(default_factory=list)  # (modality, path) of JSONL records' media
    shard: str | None = None  # or: one webdataset shard


@dataclass
class BuildReport:
    rank: int
    world: int
    tag: str  # the build's data, encoder and unit size
    units: int  # units of the whole build
    mine: list[int] = field(default_factory=list)  # this rank's units
    encoded: list[int] = field(default_factory=list)
    present: list[int] = field(default_factory=list)  # already there: not encoded again
    entries: int = 0  # entries this rank wrote
    failed: list[str] = field(default_factory=list)  # media that did not load, with the reason

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def plan_units(cfg: TrainConfig, modalities, shard_size: int) -> list[Unit]:
    files, shards = set(), []
    for entry in cfg.data.train:
        if is_shard_spec(entry):
            shards += shard_urls(entry if "://" in entry else str(cfg.resolve(entry)))
            continue
        path = cfg.resolve(entry)
        errors: list = []
        for rec in read_jsonl(path, errors=errors):
            for m in MEDIA_MODALITIES:
                if getattr(rec, m) and m in modalities:
                    files.add((m, str(rec.media_path(m, path).resolve())))
        for e in errors:
            log.warning("cache build: skipped bad record %s", e)
    files = sorted(files)
    units = [Unit(i, files[s: s + shard_size]) for i, s in enumerate(range(0, len(files), shard_size))]
    return units + [Unit(len(units) + j, shard=u) for j, u in enumerate(shards)]


def plan_tag(cache: EmbeddingCache, media_key: str, units: list[Unit], shard_size: int) -> str:
    h = hashlib.sha256(f"{cache.fingerprint}|{media_key}|{shard_size}".encode())
    for u in units:
        h.update(json.dumps([u.files, u.shard]).encode())
    return h.hexdigest()[:12]


def frozen_encoder(cfg: TrainConfig):
    """The model config and the frozen encoder the phase trains with. An encoder loaded from a checkpoint is built
    alone; a randomly initialised one (tiny configs) comes with its model, which holds its seeded weights."""
    from encoders import ImageBindEncoder
    from reamo.model.config import ReamoConfig
    from training.engine import build_model, model_overrides

    overrides = model_overrides(cfg)
    if cfg.init_from:
        config = ReamoConfig.from_yaml(cfg.resolve(cfg.init_from) / "config.yaml", overrides)
    else:
        config = ReamoConfig.named(str(cfg.model), overrides)
    if config.encoder.checkpoint:
        return config, ImageBindEncoder(config.encoder)
    return config, build_model(cfg).encoder


class _Encoder:
    """Loads and encodes media in batches of one modality and input shape."""

    def __init__(self, config, encoder, device, batch_size: int):
        self.config, self.encoder, self.device, self.batch_size = config, encoder.to(device), device, batch_size

    def encode(self, items: list[tuple[str, str, Path, str]], report: BuildReport) -> dict[str, EncoderOutput]:
        """items: (key, modality, path, name) -> {key: output}; media that do not load go to report.failed."""
        groups: dict[tuple, list] = {}
        for key, mod, path, name in items:
            try:
                x = load_media(mod, path, self.config, name).encoder_input
            except (ReamoError, OSError, ValueError, RuntimeError) as e:
                report.failed.append(f"{name}: {e}")
                log.warning("cache build: %s did not load: %s", name, e)
                continue
            groups.setdefault((mod, tuple(x.shape)), []).append((key, x))
        out = {}
        for (mod, _), rows in groups.items():
            for s in range(0, len(rows), self.batch_size):
                chunk = rows[s: s + self.batch_size]
                with torch.no_grad():
                    o = self.encoder.encode(mod, torch.stack([x for _, x in chunk]).to(self.device))
                for i, (key, _) in enumerate(chunk):
                    out[key] = cached_output(self.config, mod, o.pooled[i], None if o.tokens is None else o.tokens[i])
        return out


def _unit_items(unit: Unit, cache: EmbeddingCache, media_key: str, modalities, spool: Path, report: BuildReport):
    if unit.shard is None:
        return [(cache.key(m, p, media_key), m, Path(p), p) for m, p in unit.files]
    items, seen, errors = [], set(), []
    for n, sample in enumerate(iter_shard_samples(unit.shard, errors=errors)):
        for m in sample.media:
            if m not in modalities:
                continue
            ext = sample.media[m][0]
            path = spool / f"{n}.{m}.{ext}"
            path.write_bytes(sample.media_bytes(m))
            key = cache.key(m, path, media_key)  # the same key training computes for the spooled member
            if key not in seen:
                seen.add(key)
                items.append((key, m, path, f"{unit.shard} sample {sample.record.id} {m}"))
    report.failed += [str(e) for e in errors]
    return items


def build_cache(cfg: TrainConfig, *, shard_size: int = 1000, batch_size: int = 32, rank: int = 0, world: int = 1,
                max_units: int | None = None, device: str | torch.device = "cpu") -> BuildReport:
    """Encode this rank's units (those not written yet) into CACHE/shards. `max_units` stops after encoding that
    many (a job split into runs of bounded length; the next run goes on)."""
    if cfg.phase not in MEDIA_PHASES:
        raise ConfigError("phase", cfg.phase, f"uses no media: the embedding cache serves {', '.join(MEDIA_PHASES)}")
    for name, v in (("shard_size", shard_size), ("batch_size", batch_size)):
        if v < 1:
            raise ConfigError(name, v, "must be >= 1")
    config, encoder = frozen_encoder(cfg)
    root = cache_dir(cfg)
    cache = EmbeddingCache(root, config.encoder)
    media_key = cache_extra(config)
    units = plan_units(cfg, config.modalities, shard_size)
    tag = plan_tag(cache, media_key, units, shard_size)
    report = BuildReport(rank, world, tag, len(units))
    enc = _Encoder(config, encoder, device, batch_size)
    meta = {"fingerprint": cache.fingerprint, "media": media_key, "tag": tag}
    for unit in units[rank::world]:
        report.mine.append(unit.index)
        path = root / SHARD_DIR / f"emb-{tag}-{unit.index:06d}.safetensors"
        if shard_keys(path) is not None:
            report.present.append(unit.index)
            continue
        if max_units is not None and len(report.encoded) >= max_units:
            continue
        with tempfile.TemporaryDirectory(prefix="reamo-cache-") as spool:
            items = _unit_items(unit, cache, media_key, config.modalities, Path(spool), report)
            entries = enc.encode(items, report)
        write_shard(entries, path, {**meta, "unit": str(unit.index)})
        report.encoded.append(unit.index)
        report.entries += len(entries)
        log.info("cache build: rank %d wrote unit %d (%d entries)", rank, unit.index, len(entries))
    return report


def run_distributed(cfg: TrainConfig, **kw) -> BuildReport:
    """build_cache on this process's rank (RANK / WORLD_SIZE from torchrun or the deepspeed launcher); every rank
    waits for the others at the end, and rank 0 writes CACHE/shards/build-TAG.json with the reports of all."""
    rank, world = int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))
    local = int(os.environ.get("LOCAL_RANK", 0))
    device = f"cuda:{local}" if torch.cuda.is_available() else "cpu"
    dist = None
    if ensure(rank, world):
        import torch.distributed as dist
    report = build_cache(cfg, rank=rank, world=world, device=device, **kw)
    reports = [report.to_dict()]
    if dist is not None:
        gathered = [None] * world
        dist.all_gather_object(gathered, report.to_dict())
        reports = gathered
        dist.destroy_process_group()
    if rank == 0:
        summary = {"world": world, "tag": report.tag, "units": report.units, "encoded": sum(len(r["encoded"]) for r in reports),
                   "present": sum(len(r["present"]) for r in reports), "entries": sum(r["entries"] for r in reports),
                   "failed": [f for r in reports for f in r["failed"]], "ranks": reports}
        out = cache_dir(cfg) / SHARD_DIR / f"build-{report.tag}.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(summary, indent=1))
    return report
