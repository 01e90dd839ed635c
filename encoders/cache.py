"""On-disk cache of frozen-encoder outputs, keyed by input content and encoder identity.

key = sha256(modality, input bytes (file content or array bytes), encoder config, checkpoint identity).
Entries are safetensors files written atomically (tmp + rename); an unreadable entry is recomputed.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from encoders.config import ImageBindConfig
from encoders.imagebind import EncoderOutput


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


class EmbeddingCache:
    def __init__(self, directory: str | Path, cfg: ImageBindConfig):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.fingerprint = encoder_fingerprint(cfg)
        self.hits = self.misses = 0

    def key(self, modality: str, src, extra: str = "") -> str:
        return hashlib.sha256(f"{modality}|{self.fingerprint}|{extra}|{content_hash(src)}".encode()).hexdigest()

    def _path(self, key: str) -> Path:
        return self.dir / key[:2] / f"{key}.safetensors"

    def get(self, key: str) -> EncoderOutput | None:
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
        tensors = {"pooled": out.pooled.detach().cpu().contiguous()}
        if out.tokens is not None:
            tensors["tokens"] = out.tokens.detach().cpu().contiguous()
        tmp = p.with_name(f".{p.name}.{os.getpid()}.tmp")
        save_file(tensors, str(tmp))
        os.replace(tmp, p)

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
