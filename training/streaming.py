"""Streaming phase data: records read from webdataset tar shards (reamo.records.shards; local paths or any fsspec
URL) as training goes, never held in memory as a whole.

Each shard is indexed once at start (one pass over its tar headers: where each sample's members begin and end,
16 bytes a sample), so a rank reads only its own samples with one seek each. The order of an epoch is a seeded
permutation of the shards, then of the samples inside each (block shuffle: reads stay local to a shard). Step s
takes the records at positions [s x G, (s + 1) x G) of its epoch (G: the global batch, in records) and micro-batch m
of rank r holds chunk m x world + r, as training.data.PhaseLoader does for examples: so what a step trains on does
not depend on how many processes share it, a run resumes at the checkpoint's step (its sample position, s x G) on
any number of processes, and nothing is seen twice or skipped.

`data.workers` > 0 reads and unpacks the micro-batches in DataLoader worker processes (worker w takes micro-batches
w, w + W, ...; the DataLoader hands them back in order). A sample's media are spooled to files under the phase's
output folder for the collation (which loads media by path, and keys the embedding cache by content) and removed
after it. A record that fails to read or that the phase cannot use is reported, counted and skipped; a micro-batch
left empty runs as a stand-in worth 0, as in PhaseLoader.
"""
from __future__ import annotations

import hashlib
import io
import json
import logging
import math
import shutil
import tarfile
from pathlib import Path

import numpy as np

from reamo.errors import ConfigError, MediaError, RecordError
from reamo.records import Record
from reamo.records.shards import MEDIA, RECORD_MEMBER, shard_urls
from training.config import TrainConfig

log = logging.getLogger("reamo.training")


def is_shard_spec(entry: str) -> bool:
    """A data.train entry that names shards (a .tar, a brace pattern, a URL, a folder of .tar) and not a JSONL."""
    if entry.endswith(".jsonl"):
        return False
    return entry.endswith(".tar") or "{" in entry or "://" in entry or Path(entry).is_dir()


def _open(url: str):
    if "://" in url:
        import fsspec

        return fsspec.open(url, "rb").open()
    return open(url, "rb")


class ShardIndex:
    """Where each sample of each shard lies: per shard, the byte offsets of its samples' first member header and of
    the end of their last member."""

    def __init__(self, urls: list[str], max_records: int | None = None):
        self.urls = urls
        self.starts: list[np.ndarray] = []
        self.ends: list[np.ndarray] = []
        total = 0
        for url in urls:
            s, e = self._scan(url)
            if max_records is not None:
                s, e = s[: max(0, max_records - total)], e[: max(0, max_records - total)]
            self.starts.append(s)
            self.ends.append(e)
            total += len(s)
        self.counts = np.array([len(s) for s in self.starts], dtype=np.int64)
        self._handles: dict[int, object] = {}

    @staticmethod
    def _scan(url: str) -> tuple[np.ndarray, np.ndarray]:
        starts, ends, key = [], [], None
        with _open(url) as fh, tarfile.open(fileobj=fh, mode="r:") as tar:
            for info in tar:  # headers only: a seekable file skips the data
                if not info.isfile():
                    continue
                k = info.name.rsplit("/", 1)[-1].partition(".")[0]
                end = info.offset_data + ((info.size + 511) // 512) * 512
                if k != key:
                    starts.append(info.offset)
                    ends.append(end)
                    key = k
                else:
                    ends[-1] = end
        return np.array(starts, dtype=np.int64), np.array(ends, dtype=np.int64)

    def __len__(self) -> int:
        return int(self.counts.sum())

    def read(self, shard: int, i: int) -> dict[str, bytes]:
        """{member suffix: bytes} of sample i of shard `shard`."""
        fh = self._handles.get(shard)
        if fh is None:
            if len(self._handles) >= 4:
                self._handles.pop(next(iter(self._handles))).close()
            fh = self._handles[shard] = _open(self.urls[shard])
        start, end = int(self.starts[shard][i]), int(self.ends[shard][i])
        fh.seek(start)
        data = fh.read(end - start) + b"\0" * 1024
        out = {}
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
            for info in tar:
                if info.isfile():
                    out[info.name.rsplit("/", 1)[-1].partition(".")[2]] = tar.extractfile(info).read()
        return out

    def close(self) -> None:
        for fh in self._handles.values():
            fh.close()
        self._handles.clear()

    def __getstate__(self):  # DataLoader workers open their own files
        d = dict(self.__dict__)
        d["_handles"] = {}
        return d


class EpochOrder:
    """Position in an epoch -> (shard, sample): shards in a seeded order, samples in a seeded order inside each."""

    def __init__(self, counts: np.ndarray, seed: int, epoch: int, shuffle: bool):
        self.counts, self.seed, self.epoch, self.shuffle = counts, seed, epoch, shuffle
        self.shards = np.random.default_rng([seed, epoch]).permutation(len(counts)) if shuffle else np.arange(len(counts))
        self.cum = np.cumsum(counts[self.shards])
        self._perm: tuple[int, np.ndarray] | None = None

    def locate(self, pos: int) -> tuple[int, int]:
        k = int(np.searchsorted(self.cum, pos, side="right"))
        shard = int(self.shards[k])
        within = pos - (int(self.cum[k - 1]) if k else 0)
        if not self.shuffle:
            return shard, within
        if self._perm is None or self._perm[0] != shard:
            self._perm = (shard, np.random.default_rng([self.seed, self.epoch, 104729, shard]).permutation(
                int(self.counts[shard])))
        return shard, int(self._perm[1][within])


def _unpack(group: dict[str, bytes], spool: Path, tag: str) -> Record:
    """A sample's record with its media written to `spool` (files named by content, so the cache sees the same
    key as for the original file)."""
    if RECORD_MEMBER not in group:
        raise ValueError(f"no {RECORD_MEMBER}")
    rec = Record.from_dict(json.loads(group[RECORD_MEMBER]))
    for m in MEDIA:
        name = getattr(rec, m)
        if name is None:
            continue
        if name not in group:
            raise ValueError(f"its {m} member {name!r} is missing")
        data = group[name]
        path = spool / f"{tag}-{hashlib.sha256(data).hexdigest()[:16]}.{name}"
        path.write_bytes(data)
        setattr(rec, m, str(path.resolve()))
    return rec


class MicroBatchRecords:
    """The records of this rank's micro-batches from `start_step` on: (step, m, records, problems), read by index
    (and, as an IterableDataset, split over DataLoader workers by micro-batch)."""

    def __init__(self, index: ShardIndex, cfg: TrainConfig, rank: int, world: int, accumulation: int,
                 start_step: int, steps_per_epoch: int, total_epochs: int, spool: Path):
        self.index, self.cfg, self.rank, self.world = index, cfg, rank, world
        self.accumulation, self.start_step = accumulation, start_step
        self.steps_per_epoch, self.total_epochs, self.spool = steps_per_epoch, total_epochs, spool

    def positions(self, step: int, m: int) -> tuple[int, list[int]]:
        epoch, j = divmod(step, self.steps_per_epoch)
        mb = self.cfg.micro_batch_size
        global_batch = mb * self.world * self.accumulation
        base = j * global_batch + (m * self.world + self.rank) * mb
        n = len(self.index)
        return epoch, [p % n for p in range(base, base + mb)]  # fewer records than one step: wrap around

    def read(self, step: int, m: int):
        epoch, pos = self.positions(step, m)
        order = EpochOrder(self.index.counts, self.cfg.seed, epoch, self.cfg.data.shuffle)
        recs, problems = [], []
        for k, p in enumerate(pos):
            shard, i = order.locate(p)
            try:
                recs.append(_unpack(self.index.read(shard, i), self.spool, f"{step}-{m}-{k}"))
            except (ValueError, TypeError, UnicodeDecodeError, tarfile.TarError, OSError) as e:
                problems.append(f"{self.index.urls[shard]} sample {i}: {e}")
        return step, m, recs, problems

    def __iter__(self):
        import torch.utils.data as tud

        info = tud.get_worker_info()
        w, nw = (info.id, info.num_workers) if info else (0, 1)
        q, step = 0, self.start_step
        while step // self.steps_per_epoch < self.total_epochs:
            for m in range(self.accumulation):
                if q % nw == w:
                    yield self.read(step, m)
                q += 1
            step += 1


def _identity(x):
    return x


class StreamLoader:
    """PhaseLoader's interface (steps_per_epoch, global_batch, iter_steps, stand_in, skipped, has_grounding) over
    streamed shards."""

    def __init__(self, builder, cfg: TrainConfig, rank: int, world: int, accumulation: int | None = None):
        if cfg.data.replay:
            raise ConfigError("data.replay", cfg.data.replay, "replay is not available with streamed shards")
        self.builder, self.collate = builder, builder.collate
        self.cfg, self.rank, self.world = cfg, rank, world
        self.accumulation = accumulation or cfg.grad_accum
        self.global_batch = cfg.micro_batch_size * world * self.accumulation
        urls = [u for entry in cfg.data.train for u in shard_urls(
            entry if "://" in entry or "{" in entry else str(cfg.resolve(entry)))]
        if not urls:
            raise RecordError(", ".join(cfg.data.train), None, "no shard found")
        self.index = ShardIndex(urls, cfg.data.max_records)
        if len(self.index) == 0:
            raise RecordError(", ".join(cfg.data.train), None, f"no training records for phase {cfg.phase!r}")
        self.skipped = 0
        # the same on every rank without reading every record: whether the grounding heads run every step
        self.has_grounding = cfg.phase in ("grounding", "meta")
        self.spool = cfg.resolve(cfg.output_dir) / ".stream_spool" / f"rank{rank}"
        self._stand_in = None

    @property
    def steps_per_epoch(self) -> int:
        return max(1, len(self.index) // self.global_batch)

    def _examples(self, recs: list[Record]) -> list:
        out = []
        for rec in recs:
            try:
                out.extend(self.builder.examples(rec, str(self.spool / "records.jsonl")))
            except (ValueError, MediaError) as e:
                log.warning("skipped streamed record %s: %s", rec.id, e)
                self.skipped += 1
        return out

    def _batch(self, recs: list[Record]):
        examples = self._examples(recs)
        batch = self.collate(examples) if examples else None
        for rec in recs:  # the spooled media are read: drop them
            for m in MEDIA:
                if getattr(rec, m):
                    Path(getattr(rec, m)).unlink(missing_ok=True)
        return batch

    def iter_steps(self, start_step: int = 0):
        total_epochs = math.ceil(self.cfg.epochs) if self.cfg.max_steps is None else 10**9
        self.spool.mkdir(parents=True, exist_ok=True)
        source = MicroBatchRecords(self.index, self.cfg, self.rank, self.world, self.accumulation, start_step,
                                   self.steps_per_epoch, total_epochs, self.spool)
        if self.cfg.data.workers:
            import torch.utils.data as tud

            class _Stream(tud.IterableDataset):
                def __iter__(self_inner):
                    return iter(source)

            items = iter(tud.DataLoader(_Stream(), batch_size=None, num_workers=self.cfg.data.workers,
                                        collate_fn=_identity, prefetch_factor=2))
        else:
            items = iter(source)
        try:
            pending: list = []
            for step, m, recs, problems in items:
                for p in problems:
                    log.warning("skipped streamed sample %s", p)
                self.skipped += len(problems)
                batch = self._batch(recs)
                pending.append(batch if batch is not None else self.stand_in())
                if m == self.accumulation - 1:
                    yield step, pending
                    pending = []
        finally:
            shutil.rmtree(self.spool, ignore_errors=True)

    def stand_in(self):
        """A batch worth nothing (loss_scale 0): the first record of the stream that loads."""
        if self._stand_in is None:
            self.spool.mkdir(parents=True, exist_ok=True)
            for shard in range(len(self.index.counts)):
                for i in range(int(self.index.counts[shard])):
                    try:
                        rec = _unpack(self.index.read(shard, i), self.spool, "stand-in")
                    except (ValueError, TypeError, tarfile.TarError, OSError):
                        continue
                    b = self._batch([rec])
                    if b is not None:
                        b.loss_scale = 0.0
                        self._stand_in = b
                        return b
            raise RecordError(", ".join(self.cfg.data.train), None, f"no record of phase {self.cfg.phase!r} loads")
        return self._stand_in
