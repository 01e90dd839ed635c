"""Training data: records (JSONL, DESIGN 3.1) -> phase examples -> collated batches.

Order is deterministic and resumable: epoch e visits a permutation seeded by (seed, e); each global
micro-batch (micro_batch_size x world_size examples) is split across ranks, so one process with the same
global batch sees the same examples. `iter_steps(s)` starts at optimizer step s (resume, on any number of
processes with the same global batch).
Bad records are reported with file and line, skipped, and counted (`loader.skipped`).
`data.replay` mixes examples of earlier phases into this one (drawn once, seeded; see ReplayConfig).
`data.group_by_length` groups each epoch's examples by length into micro-batches (see PhaseLoader._grouped).
"""
from __future__ import annotations

import logging
import math

import numpy as np

from reamo.errors import ConfigError, MediaError, RecordError
from reamo.records import Record, read_jsonl
from training.config import TrainConfig
from training.examples import PhaseExamples

log = logging.getLogger("reamo.training")
GROUP_MEGABATCH = 50  # data.group_by_length: micro-batches per length-sorted mega-batch (transformers' default)


def load_records(cfg: TrainConfig) -> tuple[list[tuple[Record, str]], list[RecordError]]:
    records, errors = [], []
    for path in cfg.data.train:
        p = cfg.resolve(path)
        for rec in read_jsonl(p, errors=errors):
            records.append((rec, str(p)))
            if cfg.data.max_records and len(records) >= cfg.data.max_records:
                break
    for e in errors:
        log.warning("skipped bad training record %s", e)
    return records, errors


class PhaseLoader:
    """The examples of a phase in optimizer steps. A step takes the next `global_batch` examples of the epoch's
    seeded permutation and splits them into micro-batches of `micro_batch_size`: micro-batch m of rank r holds
    chunk m x world + r. So the examples of a step, and how they are grouped into micro-batches, do not depend
    on how many processes share them: 1 process with 2 micro-batches per step trains on what 2 processes with
    1 each do, and a run can resume on another number of processes at the same step."""

    def __init__(self, examples: list, collate, cfg: TrainConfig, rank: int, world: int, skipped: int,
                 accumulation: int | None = None, length=None):
        self.examples = examples
        self.collate = collate
        self.cfg = cfg
        self.rank, self.world = rank, world
        self.skipped = skipped
        self.accumulation = accumulation or cfg.grad_accum
        self.global_batch = cfg.micro_batch_size * world * self.accumulation
        self._stand_in = None
        if not examples:
            raise RecordError(", ".join(cfg.data.train) or "<no data>", None,
                              f"no usable training examples for phase {cfg.phase!r}")
        # identical on every rank (every rank reads every record): whether the grounding heads run every step
        self.has_grounding = any(getattr(ex, "targets", None) for ex in examples)
        self.lengths, self._epoch_order = None, None
        if cfg.data.group_by_length:
            if length is None:
                raise ConfigError("data.group_by_length", True, "this loader was given no way to measure examples")
            self.lengths = np.array([length(ex) for ex in examples])

    @property
    def steps_per_epoch(self) -> int:
        return max(1, len(self.examples) // self.global_batch)

    def _order(self, epoch: int) -> np.ndarray:
        """The epoch's order of examples (kept for the epoch: every step of it reads it)."""
        if self._epoch_order is None or self._epoch_order[0] != epoch:
            n = len(self.examples)
            order = np.random.default_rng([self.cfg.seed, epoch]).permutation(n) if self.cfg.data.shuffle \
                else np.arange(n)
            self._epoch_order = (epoch, order if self.lengths is None else self._grouped(order, epoch))
        return self._epoch_order[1]

    def _grouped(self, order: np.ndarray, epoch: int) -> np.ndarray:
        """`order` grouped by length: cut into mega-batches of GROUP_MEGABATCH micro-batches, each sorted by length
        (longest first), cut into micro-batches, and the whole micro-batches of the epoch shuffled (seeded), a last
        short one left at the end. Micro-batches, not steps, are the unit, so a step still holds the same examples
        on any number of processes with the same global batch."""
        mb = self.cfg.micro_batch_size
        chunks, rest = [], []
        for s in range(0, len(order), GROUP_MEGABATCH * mb):
            mega = sorted(order[s: s + GROUP_MEGABATCH * mb].tolist(), key=lambda i: (-self.lengths[i], i))
            for k in range(0, len(mega), mb):
                (chunks if k + mb <= len(mega) else rest).append(mega[k: k + mb])
        shuffled = np.random.default_rng([self.cfg.seed, epoch, 1]).permutation(len(chunks)) \
            if self.cfg.data.shuffle else range(len(chunks))
        return np.array([i for c in shuffled for i in chunks[c]] + [i for c in rest for i in c], dtype=np.int64)

    def step_indices(self, step: int) -> list[list[int]]:
        """This rank's micro-batches of optimizer step `step` (counted from the run's start), as example indices."""
        epoch, j = divmod(step, self.steps_per_epoch)
        order = self._order(epoch) if len(self.examples) >= self.global_batch else \
            np.resize(self._order(epoch), self.global_batch)  # fewer examples than one step: wrap around
        mb, base = self.cfg.micro_batch_size, j * self.global_batch
        return [order[base + (m * self.world + self.rank) * mb: base + (m * self.world + self.rank + 1) * mb].tolist()
                for m in range(self.accumulation)]

    def iter_steps(self, start_step: int = 0):
        """(step, [micro-batch] x accumulation) from `start_step` on, for as many epochs as the config asks
        (without end when max_steps is set). A micro-batch whose items all fail to load is replaced by a
        stand-in batch whose loss counts 0 (`loss_scale`), so that every rank still takes part in the step."""
        total_epochs = math.ceil(self.cfg.epochs) if self.cfg.max_steps is None else 10**9
        step = start_step
        while step // self.steps_per_epoch < total_epochs:
            batches = []
            for idx in self.step_indices(step):
                batch = self.collate([self.examples[i] for i in idx])
                batches.append(batch if batch is not None else self.stand_in())
            yield step, batches
            step += 1

    def stand_in(self):
        """A batch worth nothing (loss_scale 0): the first example of the phase that loads."""
        if self._stand_in is None:
            for ex in self.examples:
                b = self.collate([ex])
                if b is not None:
                    b.loss_scale = 0.0
                    self._stand_in = b
                    break
            else:
                raise RecordError(", ".join(self.cfg.data.train), None, f"no example of phase {self.cfg.phase!r} loads")
        return self._stand_in


def phase_examples(model, cfg: TrainConfig) -> tuple[PhaseExamples, list, int]:
    """The phase's example builder, its examples from cfg.data.train, and how many records were skipped."""
    records, errors = load_records(cfg)
    builder = PhaseExamples(model, cfg)
    examples, skipped = [], len(errors)
    for rec, path in records:
        try:
            examples.extend(builder.examples(rec, path))
        except (ValueError, MediaError) as e:  # a record the phase cannot use: report and skip
            log.warning("skipped record %s from %s: %s", rec.id, path, e)
            skipped += 1
    return builder, examples, skipped


def replayed_examples(model, cfg: TrainConfig, n_phase: int) -> list:
    """cfg.data.replay: for each replayed phase, round(fraction x n_phase) of its examples, drawn once without
    replacement (with, when more are asked than it has), seeded by (seed, position in the list)."""
    out = []
    for k, r in enumerate(cfg.data.replay):
        sub = cfg.replace(phase=r.phase, data=cfg.data.replace(train=list(r.train), replay=[], max_records=None))
        _, pool, _ = phase_examples(model, sub)
        if not pool:
            raise RecordError(", ".join(r.train), None, f"no usable examples to replay for phase {r.phase!r}")
        n = round(r.fraction * n_phase)
        idx = np.random.default_rng([cfg.seed, 7919, k]).choice(len(pool), n, replace=n > len(pool))
        out.extend(pool[i] for i in sorted(idx))
        log.info("replaying %d %s examples (of %d) in phase %s", n, r.phase, len(pool), cfg.phase)
    return out


def build_dataloader(model, cfg: TrainConfig, accumulation: int | None = None) -> PhaseLoader:
    # from the launcher's environment: the loader is built before deepspeed.initialize sets up the group
    import os

    rank = int(os.environ.get("RANK", 0))
    world = int(os.environ.get("WORLD_SIZE", 1))
    from training.streaming import StreamLoader, is_shard_spec

    streamed = [is_shard_spec(str(cfg.resolve(p)) if "://" not in p and "{" not in p else p) for p in cfg.data.train]
    if any(streamed):
        if not all(streamed):
            raise ConfigError("data.train", cfg.data.train, "mixes JSONL files and shards; give one kind per phase")
        if cfg.data.group_by_length:
            raise ConfigError("data.group_by_length", True, "streamed shards are read in order; use JSONL files")
        return StreamLoader(PhaseExamples(model, cfg), cfg, rank, world, accumulation)
    builder, examples, skipped = phase_examples(model, cfg)
    if examples and cfg.data.replay:  # collation is the same for every phase: one loader holds both
        examples = examples + replayed_examples(model, cfg, len(examples))
    return PhaseLoader(examples, builder.collate, cfg, rank, world, skipped, accumulation, builder.length)
