"""Atomic, resumable training checkpoints on top of DeepSpeed's engine checkpoints.

    OUT/checkpoints/step_000120/   engine state (model, optimizer, scheduler) + client state
    OUT/checkpoints/latest         the tag of the last *complete* checkpoint (written last, atomically)

A checkpoint is written under a temporary tag, then renamed; `latest` is replaced only after the rename.
A crash at any point leaves the previous complete checkpoint and `latest` pointing at it.
"""
from __future__ import annotations

import os
import random
import re
import shutil
from pathlib import Path

import numpy as np
import torch

TAG_RE = re.compile(r"^step_(\d{6,})$")


def rng_state() -> dict:
    return {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}


def set_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class CheckpointManager:
    def __init__(self, root: str | Path, keep: int = 2):
        self.root = Path(root)
        self.keep = keep

    def latest_tag(self) -> str | None:
        f = self.root / "latest"
        if not f.is_file():
            return None
        tag = f.read_text().strip()
        return tag if (self.root / tag).is_dir() and TAG_RE.match(tag) else None

    def save(self, engine, step: int, client_state: dict) -> str:
        tag = f"step_{step:06d}"
        tmp_tag = tag + ".tmp"
        self.root.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(self.root / tmp_tag, ignore_errors=True)
        engine.save_checkpoint(str(self.root), tag=tmp_tag, client_state=client_state, save_latest=False)
        if engine.global_rank == 0:
            final = self.root / tag
            if final.exists():
                shutil.rmtree(final)
            os.replace(self.root / tmp_tag, final)
            _atomic_write(self.root / "latest", tag)
            self._prune(keep_tag=tag)
        _barrier()
        return tag

    def load(self, engine, tag: str | None = None) -> dict | None:
        tag = tag or self.latest_tag()
        if tag is None:
            return None
        path, client_state = engine.load_checkpoint(str(self.root), tag=tag, load_module_strict=False)
        if path is None:
            raise RuntimeError(f"{self.root / tag}: DeepSpeed could not load this checkpoint")
        return client_state

    def _prune(self, keep_tag: str) -> None:
        tags = sorted(p.name for p in self.root.iterdir() if p.is_dir() and TAG_RE.match(p.name))
        for t in tags[: max(0, len(tags) - self.keep)]:
            if t != keep_tag:
                shutil.rmtree(self.root / t, ignore_errors=True)
        for p in self.root.glob("*.tmp"):  # leftovers of interrupted writes
            if p.is_dir():
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink(missing_ok=True)


def _barrier():
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.barrier()
