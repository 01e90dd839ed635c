"""On-disk cache of frozen-encoder outputs, keyed by input content and encoder identity.

key = sha256(modality, input bytes (file content or array bytes), encoder config, checkpoint identity).
Entries are safetensors files written atomically (tmp + rename); an unreadable entry is recomputed.

A cache folder may also hold shards under `shards/` (written by `reamo cache build`, training.cache_build): one
safetensors file of many entries (tensors `KEY.pooled`, `KEY.tokens`), read lazily (memory-mapped) through a sorted
key index of 68 bytes an entry. Lookups try the shards first, then the per-entry files.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from encoders.config import ImageBindConfig
from encoders.imagebind import EncoderOutput

log = logging.getLogger("reamo.encoders")
SHARD_DIR = "shards"

def encoder_fingerprint(cfg: ImageBindConfig) -> str:
    d = cfg.to_dict()
    ck = cfg.checkpoint
    if ck and Path(ck).is_file():
        st = Path(ck).stat()
        d["checkpoint"] = [str(Path(ck).resolve()), st.st_size, int(st.st_mtime)]
    return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]


def content_hash(src) -> str:
    h = hashlib.sha256()
    if isinstance(src, (str, Path)):
        with open(src, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    elif isinstance(src, torch.Tensor):
        h.update(str(tuple(src.shape)).encode() + str(src.dtype).encode())
        h.update(src.detach().cpu().contiguous().numpy().tobytes())
    else:
        arr = np.ascontiguousarray(np.asarray(src))
        h.update(str(arr.shape).encode() + str(arr.dtype).encode())
        h.update(arr.tobytes())
    return h.hexdigest()


def _entry_tensors(out: EncoderOutput, prefix: str = "") -> dict[str, torch.Tensor]:
    tensors = {f"{prefix}pooled": out.pooled.detach().cpu().contiguous()}
    if out.tokens is not None:
        tensors[f"{prefix}tokens"] = out.tokens.detach().cpu().contiguous()
    return tensors


def _save_atomic(tensors: dict[str, torch.Tensor], path: Path, metadata: dict[str, str] | None = None) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    save_file(tensors, str(tmp), metadata=metadata)
    os.replace(tmp, path)


def write_shard(entries: dict[str, EncoderOutput], path: str | Path, metadata: dict[str, str] | None = None) -> Path:
    """Write many cache entries (key -> encoder output) as one safetensors shard, atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {}
    for key, out in entries.items():
        tensors.update({k: v.clone() for k, v in _entry_tensors(out, f"{key}.").items()})  # own storage each
    _save_atomic(tensors, path, metadata)
    return path


def shard_keys(path: str | Path) -> list[str] | None:
    """The entry keys of a shard, or None when its header cannot be read (missing, partial or corrupt file)."""
    try:
        with safe_open(str(path), framework="pt") as f:
            return [n[: -len(".pooled")] for n in f.keys() if n.endswith(".pooled")]
    except Exception:  # safetensors raises its own error types for a truncated or corrupt header
        return None


class EmbeddingShards:
    """Read-only lookup over the shards of a folder: a sorted array of keys (64 bytes each) with the shard each lives in
    (4 bytes); a tensor is read from its memory-mapped shard when asked for. An unreadable shard is reported
    and left out (its entries are recomputed by the caller)."""

    def __init__(self, directory: str | Path):
        self.files: list[Path] = []
        keys, where = [], []
        for f in sorted(Path(directory).glob("*.safetensors")):
            names = shard_keys(f)
            if names is None:
                log.warning("embedding cache shard %s is unreadable: left out", f)
                continue
            keys += names
            where += [len(self.files)] * len(names)
            self.files.append(f)
        full = np.array(keys, dtype="S64")
        order = np.argsort(full, kind="stable")
        self.full = full[order]
        self.where = np.array(where, dtype=np.int32)[order]
        self._handles: dict[int, object] = {}

    def __len__(self) -> int:
        return len(self.full)

    def _find(self, key: str) -> int | None:
        k = key.encode()
        i = int(np.searchsorted(self.full, k))
        return i if i < len(self.full) and self.full[i] == k else None

    def __contains__(self, key: str) -> bool:
        return self._find(key) is not None

    def get(self, key: str) -> EncoderOutput | None:
        i = self._find(key)
        if i is None:
            return None
        shard = int(self.where[i])
        h = self._handles.get(shard)
        if h is None:
            if len(self._handles) >= 64:  # bounded number of open shards
                self._handles.clear()
            f = safe_open(str(self.files[shard]), framework="pt")
            h = self._handles[shard] = (f, set(f.keys()))
        f, names = h
        try:
            tokens = f.get_tensor(f"{key}.tokens") if f"{key}.tokens" in names else None
            return EncoderOutput(f.get_tensor(f"{key}.pooled"), tokens)
        except Exception as e:  # a shard damaged after it was indexed
            log.warning("embedding cache shard %s: entry %s unreadable (%s)", self.files[shard], key, e)
            return None

    def __getstate__(self):  # DataLoader workers open their own handles
        state = dict(self.__dict__)
        state["_handles"] = {}
        return state


class EmbeddingCache:
    def __init__(self, directory: str | Path, cfg: ImageBindConfig):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.fingerprint = encoder_fingerprint(cfg)
        self.hits = self.misses = 0
        self.shards = EmbeddingShards(self.dir / SHARD_DIR) if (self.dir / SHARD_DIR).is_dir() else None

    def key(self, modality: str, src, extra: str = "") -> str:
        return hashlib.sha256(f"{modality}|{self.fingerprint}|{extra}|{content_hash(src)}".encode()).hexdigest()

    def _path(self, key: str) -> Path:
        return self.dir / key[:2] / f"{key}.safetensors"

    def get(self, key: str) -> EncoderOutput | None:
        if self.shards is not None:
            hit = self.shards.get(key)
            if hit is not None:
                return hit
        p = self._path(key)
        if not p.is_file():
            return None
        try:
            t = load_file(str(p))
            return EncoderOutput(t["pooled"], t.get("tokens"))
        except Exception:  # corrupt entry: drop it, the caller recomputes
            p.unlink(missing_ok=True)
            return None

    def put(self, key: str, out: EncoderOutput) -> None:
        p = self._path(key)
        p.parent.mkdir(parents=True, exist_ok=True)
        _save_atomic(_entry_tensors(out), p)

    def get_or_compute(self, modality: str, src, compute: Callable[[], EncoderOutput], extra: str = "") -> EncoderOutput:
        key = self.key(modality, src, extra)
        hit = self.get(key)
        if hit is not None:
            self.hits += 1
            return hit
        self.misses += 1
        out = compute()
        self.put(key, out)
        return out
