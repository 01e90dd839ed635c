"""Audio grounding, SHAS-style: per-frame probabilities from a small transformer over fbank frames,
conditioned on the query, then pDAC (probabilistic divide-and-conquer) turns them into time spans."""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from grounding.config import AudioHeadConfig
from grounding.types import AudioGrounding

FBANK_FPS = 100.0


def sinusoid(n: int, d: int, device=None) -> torch.Tensor:
    pos = torch.arange(n, device=device, dtype=torch.float32)[:, None]
    div = torch.exp(torch.arange(0, d, 2, device=device, dtype=torch.float32) * (-math.log(10000.0) / d))
    pe = torch.zeros(n, d, device=device)
    pe[:, 0::2] = torch.sin(pos * div)
    pe[:, 1::2] = torch.cos(pos * div)[:, : d // 2]
    return pe


def pdac(probs: np.ndarray, max_len: int, threshold: float, min_len: int = 1) -> list[tuple[int, int]]:
    """Split frames into segments (SHAS pDAC). Start from the runs of frames above `threshold`; while a
    segment is longer than `max_len`, split it at its least probable inner frame (which becomes the
    boundary, in neither half); keep segments whose mean
    probability reaches `threshold` and whose length is at least `min_len`. Returns [start, end) frames."""
    probs = np.asarray(probs, dtype=np.float64)
    above = probs >= threshold
    edges = np.flatnonzero(np.diff(np.concatenate([[0], above.astype(np.int8), [0]])))
    todo = [(int(a), int(b)) for a, b in zip(edges[0::2], edges[1::2])]
    out = []
    while todo:
        a, b = todo.pop()
        if b - a > max_len:
            inner = np.arange(a + 1, b - 1)
            # least probable frame; among (near-)ties the one closest to the middle, so flat regions halve
            score = probs[inner] + 1e-9 * np.abs(inner - (a + b - 1) / 2)
            cut = int(inner[np.argmin(score)]) if inner.size else a + (b - a) // 2
            todo += [(a, cut), (cut + 1, b)]  # the split frame is the boundary between the halves
            continue
        if b - a >= min_len and probs[a:b].mean() >= threshold:
            out.append((a, b))
    return sorted(out)


class AudioSegmentationHead(nn.Module):
    def __init__(self, cfg: AudioHeadConfig, query_dim: int):
        super().__init__()
        self.cfg = cfg
        self.frame_proj = nn.Linear(cfg.mel_bins, cfg.width)
        self.query_proj = nn.Linear(query_dim, cfg.width)
        layer = nn.TransformerEncoderLayer(cfg.width, cfg.heads, 4 * cfg.width, dropout=0.0, batch_first=True,
                                           norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, cfg.layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(cfg.width)
        self.classifier = nn.Linear(cfg.width, 1)

    @property
    def steps_per_second(self) -> float:
        return FBANK_FPS / self.cfg.downsample

    def downsample(self, frames: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Average every `downsample` fbank frames: [B,T,M] -> [B,T',M] (and the mask)."""
        k = self.cfg.downsample
        if k == 1:
            return frames, mask
        b, t, mel = frames.shape
        pad = (-t) % k
        f = F.pad(frames, (0, 0, 0, pad)).reshape(b, (t + pad) // k, k, mel)
        m = F.pad(mask, (0, pad)).reshape(b, (t + pad) // k, k)
        mf = m.to(f.dtype)[..., None]
        return (f * mf).sum(2) / mf.sum(2).clamp(min=1), m.any(2)

    def forward(self, frames: torch.Tensor, frame_mask: torch.Tensor, queries: torch.Tensor) -> torch.Tensor:
        """frames [B,T,mel] fbank at 100 fps, frame_mask [B,T] (True = real frame), queries [B, query_dim]
        -> logits [B, T'] at steps_per_second."""
        dtype = self.frame_proj.weight.dtype
        f, m = self.downsample(frames.to(dtype), frame_mask.bool())
        x = self.frame_proj(f) + sinusoid(f.shape[1], self.cfg.width, f.device).to(dtype)
        q = self.query_proj(queries.to(dtype))[:, None]
        x = torch.cat([q, x + q], dim=1)  # the query as a prefix token and as a FiLM-like shift of every frame
        pad = torch.cat([torch.zeros_like(m[:, :1]), ~m], dim=1)
        h = self.encoder(x, src_key_padding_mask=pad)
        return self.classifier(self.norm(h[:, 1:]))[..., 0]

    def targets_from_spans(self, spans: list[list[list[float]]], steps: int) -> torch.Tensor:
        """Gold spans in seconds -> frame targets [B, steps] (a step is positive if its centre is inside)."""
        centres = (torch.arange(steps) + 0.5) / self.steps_per_second
        out = torch.zeros(len(spans), steps)
        for i, sp in enumerate(spans):
            for a, b in sp:
                out[i] = torch.maximum(out[i], ((centres >= a) & (centres < b)).float())
        return out

    def loss(self, logits: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        logits = logits.float()  # float32 even in a bf16 model: the mean runs over many frames
        m = mask.to(logits.dtype)
        bce = F.binary_cross_entropy_with_logits(logits, target.to(logits.dtype), reduction="none")
        return (bce * m).sum() / m.sum().clamp(min=1)

    @torch.no_grad()
    def predict(self, logits: torch.Tensor, mask: torch.Tensor) -> list[AudioGrounding]:
        return [self.spans(lg[: int(m.sum())]) for lg, m in
                zip(logits.float().sigmoid().cpu().numpy(), mask.cpu().numpy())]

    def spans(self, probs: np.ndarray) -> AudioGrounding:
        """Per-step probabilities -> spans in seconds (pDAC) with their mean probabilities."""
        sps = self.steps_per_second
        segs = pdac(probs, max_len=max(1, int(self.cfg.max_segment_s * sps)), threshold=self.cfg.threshold,
                    min_len=max(1, int(round(self.cfg.min_segment_s * sps))))
        return AudioGrounding([[a / sps, b / sps] for a, b in segs], [float(probs[a:b].mean()) for a, b in segs])

    @property
    def window_frames(self) -> int:
        """Fbank frames per inference window: `window_s`, a whole number of steps."""
        k = self.cfg.downsample
        return max(k, int(self.cfg.window_s * FBANK_FPS) // k * k)

    @torch.no_grad()
    def predict_windows(self, windows, query: torch.Tensor) -> AudioGrounding:
        """Long audio: `windows` yields fbank frames [T, mel] of consecutive windows of `window_frames`
        frames (the last may be shorter); each is classified on its own with the same query, and pDAC runs
        over the probabilities of the whole recording. Memory holds one window and one probability per step."""
        probs = []
        for frames in windows:
            x = frames[None].to(query.device)
            m = torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)
            probs.append(self(x, m, query[None])[0].float().sigmoid().cpu().numpy())
        return self.spans(np.concatenate(probs) if probs else np.zeros(0))
