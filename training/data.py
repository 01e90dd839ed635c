"""Training data: records (JSONL, DESIGN 3.1) -> phase examples -> collated batches.

Order is deterministic and resumable: epoch e visits a permutation seeded by (seed, e); each global
micro-batch (micro_batch_size x world_size examples) is split across ranks, so one process with the same
global batch sees the same examples. `iter_from(k)` skips the first k micro-batches (resume).
Bad records are reported with file and line, skipped, and counted (`loader.skipped`).
`data.replay` mixes examples of earlier phases into this one (drawn once, seeded; see ReplayConfig).
"""
from __future__ import annotations

import logging
import math

import numpy as np

from reamo.errors import MediaError, RecordError
from reamo.records import Record, read_jsonl
from training.config import TrainConfig
from training.examples import PhaseExamples

log = logging.getLogger("reamo.training")


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
    def __init__(self, examples: list, collate, cfg: TrainConfig, rank: int, world: int, skipped: int):
        self.examples = examples
        self.collate = collate
        self.cfg = cfg
        self.rank, self.world = rank, world
        self.skipped = skipped
        self.global_micro = cfg.micro_batch_size * world
        if not examples:
            raise RecordError(", ".join(cfg.data.train) or "<no data>", None,
                              f"no usable training examples for phase {cfg.phase!r}")

    def __len__(self) -> int:
        """Micro-batches per epoch (per rank)."""
        return max(1, len(self.examples) // self.global_micro)

    def _order(self, epoch: int) -> np.ndarray:
        n = len(self.examples)
        if not self.cfg.data.shuffle:
            return np.arange(n)
        return np.random.default_rng([self.cfg.seed, epoch]).permutation(n)

    def iter_from(self, start_micro: int = 0):
        per_epoch = len(self)
        total_epochs = math.ceil(self.cfg.epochs) if self.cfg.max_steps is None else 10**9
        k = start_micro
        while k // per_epoch < total_epochs:
            epoch, j = divmod(k, per_epoch)
            order = self._order(epoch)
            lo = j * self.global_micro + self.rank * self.cfg.micro_batch_size
            idx = order[lo: lo + self.cfg.micro_batch_size]
            items = [self.examples[i] for i in idx]
            batch = self.collate(items)
            k += 1
            if batch is None:  # every item of this micro-batch failed to load
                continue
            yield batch


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


def build_dataloader(model, cfg: TrainConfig) -> PhaseLoader:
    # from the launcher's environment: the loader is built before deepspeed.initialize sets up the group
    import os

    rank = int(os.environ.get("RANK", 0))
    world = int(os.environ.get("WORLD_SIZE", 1))
    builder, examples, skipped = phase_examples(model, cfg)
    if examples and cfg.data.replay:  # collation is the same for every phase: one loader holds both
        examples = examples + replayed_examples(model, cfg, len(examples))
    return PhaseLoader(examples, builder.collate, cfg, rank, world, skipped)
