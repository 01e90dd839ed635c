"""Atomic, resumable training checkpoints on top of DeepSpeed's engine checkpoints.

    OUT/checkpoints/step_000120/   engine state (model, optimizer, scheduler) + client state
    OUT/checkpoints/step_000120/reamo_state.json   the step, world size and global batch it was written with
    OUT/checkpoints/latest         the tag of the last *complete* checkpoint (written last, atomically)
    OUT/checkpoints/universal/step_000120/   DeepSpeed's universal form of it, made when a run resumes on
                                   another number of processes (ds_to_universal), loaded with load_universal

A checkpoint is written under a temporary tag, then renamed; `latest` is replaced only after the rename.
A crash at any point leaves the previous complete checkpoint and `latest` pointing at it.
"""
from __future__ import annotations

import json
import os
import random
import re
import shutil
from pathlib import Path

import numpy as np
import torch

TAG_RE = re.compile(r"^step_(\d{6,})$")
STATE = "reamo_state.json"
RUN_KEYS = ("step", "world_size", "global_batch")


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
            _atomic_write(final / STATE, json.dumps({k: client_state[k] for k in RUN_KEYS if k in client_state}))
            _atomic_write(self.root / "latest", tag)
            self._prune(keep_tag=tag)
        _barrier()
        return tag

    def run_state(self) -> dict | None:
        """The latest checkpoint's tag, step, world size and global batch (None when there is no checkpoint).
        A checkpoint written before these were recorded is taken as one of the current world size."""
        tag = self.latest_tag()
        if tag is None:
            return None
        f = self.root / tag / STATE
        if not f.is_file():
            return None
        return {"tag": tag, **json.loads(f.read_text())}

    def universal_dir(self) -> Path:
        return self.root / "universal"

    def make_universal(self, tag: str) -> Path:
        """DeepSpeed's universal checkpoint of `tag` (ds_to_universal: every parameter's fp32 value and Adam
        state whole, so that any number of processes can load it), made once by rank 0; every rank waits."""
        dst = self.universal_dir() / tag
        if _rank() == 0 and not dst.is_dir():
            from argparse import Namespace

            from deepspeed.checkpoint.ds_to_universal import main as ds_to_universal

            tmp = dst.with_name(tag + ".tmp")
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.parent.mkdir(parents=True, exist_ok=True)
            ds_to_universal(Namespace(input_folder=str(self.root / tag), output_folder=str(tmp), num_extract_workers=1,
                                      num_merge_workers=1, keep_temp_folder=False, strict=True,
                                      inject_missing_state=True))
            os.replace(tmp, dst)
        _barrier()
        return dst

    def load(self, engine, tag: str | None = None, universal: bool = False) -> dict | None:
        """Restore the engine from `tag` (default: latest); `universal`: from its universal form (make_universal)."""
        tag = tag or self.latest_tag()
        if tag is None:
            return None
        root = self.universal_dir() if universal else self.root
        optimizer = engine.optimizer
        names = [g.get("name") for g in optimizer.param_groups]
        path, client_state = engine.load_checkpoint(str(root), tag=tag, load_module_strict=False)
        if path is None:
            raise RuntimeError(f"{root / tag}: DeepSpeed could not load this checkpoint")
        if universal:
            # DeepSpeed's ZeRO-3 universal load (stage3._load_universal_checkpoint) gives every parameter group the
            # first group's settings (lr, name); the restored scheduler holds each group's own lr
            for g, name, lr in zip(optimizer.param_groups, names, engine.lr_scheduler.get_last_lr()):
                g["name"], g["lr"] = name, lr
            # ... and one `step` tensor to every parameter's Adam state, which torch's Adam then increments in
            # place once per group: each state gets its own copy, as a regular load gives it
            for st in getattr(optimizer, "optimizer", optimizer).state.values():
                if torch.is_tensor(st.get("step")):
                    st["step"] = st["step"].clone()
        return client_state

    def _prune(self, keep_tag: str) -> None:
        tags = sorted(p.name for p in self.root.iterdir() if p.is_dir() and TAG_RE.match(p.name))
        for t in tags[: max(0, len(tags) - self.keep)]:
            if t != keep_tag:
                shutil.rmtree(self.root / t, ignore_errors=True)
        uni = self.universal_dir()
        if uni.is_dir():  # universal forms of checkpoints that are gone
            for p in uni.iterdir():
                if p.is_dir() and not (self.root / p.name.removesuffix(".tmp")).is_dir():
                    shutil.rmtree(p, ignore_errors=True)
        for p in self.root.glob("*.tmp"):  # leftovers of interrupted writes
            if p.is_dir():
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink(missing_ok=True)


def _rank() -> int:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank()
    return 0


def _barrier():
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.barrier()
