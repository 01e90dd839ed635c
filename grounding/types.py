"""Typed grounding results. `to_dict()` gives the groundings of the record format (DESIGN.md 3.1):

    image  {"box": [x1, y1, x2, y2], "mask_rle": COCO RLE, "score": s}
    audio  {"spans": [[start_s, end_s], ...], "scores": [...]}
    video  {"span": [start_s, end_s], "frames": [{"t": s, "box": [...], "mask_rle": ..., "score": s}]}

Boxes are pixel boxes with x2, y2 exclusive (the same convention as reamo.masks.mask_to_box); an empty mask has
box None. `to_dict(rle_encoder=None)` uses reamo.masks.rle_encode (COCO compressed RLE) unless given an encoder.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

RleEncoder = Callable[[np.ndarray], dict]


def box_from_mask(mask: np.ndarray) -> list[int] | None:
    """Tight [x1, y1, x2, y2] box around the True pixels of an HxW mask (x2, y2 exclusive); None when empty."""
    m = np.asarray(mask)
    if m.ndim != 2:
        raise ValueError(f"mask must be 2-D (H x W), got shape {m.shape}")
    rows, cols = np.flatnonzero(m.any(axis=1)), np.flatnonzero(m.any(axis=0))
    if rows.size == 0:
        return None
    return [int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1]


def box_iou(a, b) -> float:
    """IoU of two [x1, y1, x2, y2] boxes (0 when either is None or empty)."""
    if a is None or b is None:
        return 0.0
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def _encoder(rle_encoder: RleEncoder | None) -> RleEncoder:
    if rle_encoder is not None:
        return rle_encoder
    from reamo.masks import rle_encode  # the project's COCO RLE (kept lazy: grounding does not need it to run)

    return rle_encode


def _r(x: float, nd: int) -> float:
    return round(float(x), nd)


@dataclass
class ImageGrounding:
    mask: np.ndarray  # HxW bool, at the original image size
    score: float  # SAM's predicted IoU of the mask, in [0, 1]
    box: list[int] | None = None  # from the mask when not given

    def __post_init__(self):
        self.mask = np.asarray(self.mask, dtype=bool)
        if self.box is None:
            self.box = box_from_mask(self.mask)

    @property
    def empty(self) -> bool:
        return not self.mask.any()

    def to_dict(self, rle_encoder: RleEncoder | None = None) -> dict:
        return {"box": self.box, "mask_rle": _encoder(rle_encoder)(self.mask), "score": _r(self.score, 4)}


@dataclass
class AudioGrounding:
    spans: list[list[float]]  # [[start_s, end_s], ...] in time order
    scores: list[float] = field(default_factory=list)  # mean frame probability of each span

    def to_dict(self, rle_encoder: RleEncoder | None = None) -> dict:
        return {"spans": [[_r(a, 3), _r(b, 3)] for a, b in self.spans], "scores": [_r(s, 4) for s in self.scores]}


@dataclass
class VideoFrameGrounding:
    t: float  # the frame's time in seconds
    mask: np.ndarray  # HxW bool at the video's frame size
    score: float  # the frame's presence probability
    box: list[int] | None = None

    def __post_init__(self):
        self.mask = np.asarray(self.mask, dtype=bool)
        if self.box is None:
            self.box = box_from_mask(self.mask)

    def to_dict(self, rle_encoder: RleEncoder | None = None) -> dict:
        return {"t": _r(self.t, 3), "box": self.box, "mask_rle": _encoder(rle_encoder)(self.mask),
                "score": _r(self.score, 4)}


@dataclass
class VideoGrounding:
    span: list[float] | None  # [start_s, end_s] where the item is present; None when it never is
    frames: list[VideoFrameGrounding]  # the tracklet: one linked mask per frame where the item is present

    def to_dict(self, rle_encoder: RleEncoder | None = None) -> dict:
        enc = _encoder(rle_encoder) if self.frames else rle_encoder
        return {"span": None if self.span is None else [_r(self.span[0], 3), _r(self.span[1], 3)],
                "frames": [f.to_dict(enc) for f in self.frames]}


@dataclass
class GroundingFailure:
    """An instruction that could not be run (unknown module, head not enabled, media absent or unusable...).
    It takes the place of that instruction's grounding; the other instructions still run."""

    module: str
    problem: str
    index: int | None = None  # the instruction's position in the call, when known

    def to_dict(self, rle_encoder: RleEncoder | None = None) -> dict:
        return {"error": f"{self.module}: {self.problem}"}


Grounding = ImageGrounding | AudioGrounding | VideoGrounding
