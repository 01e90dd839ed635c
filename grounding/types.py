"""Typed grounding results; `to_dict()` gives the record format of DESIGN.md 3.1."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from reamo.records.masks import mask_to_box, rle_encode


@dataclass
class ImageGrounding:
    mask: np.ndarray  # HxW bool, original image size
    score: float
    box: list[int] | None = None

    def __post_init__(self):
        if self.box is None:
            self.box = mask_to_box(self.mask)

    def to_dict(self) -> dict:
        return {"box": self.box, "mask_rle": rle_encode(self.mask), "score": round(float(self.score), 4)}


@dataclass
class AudioGrounding:
    spans: list[list[float]]  # [[start_s, end_s], ...]
    scores: list[float] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"spans": [[round(a, 3), round(b, 3)] for a, b in self.spans],
                "scores": [round(float(s), 4) for s in self.scores]}


@dataclass
class VideoFrameGrounding:
    t: float
    mask: np.ndarray
    score: float
    box: list[int] | None = None

    def __post_init__(self):
        if self.box is None:
            self.box = mask_to_box(self.mask)


@dataclass
class VideoGrounding:
    span: list[float] | None  # [start_s, end_s] where the item is present, None if never
    frames: list[VideoFrameGrounding]
    fps: float | None = None  # the video's frame rate: frame number = round(t * fps) + 1
    duration: float | None = None  # the video's length in seconds

    def to_dict(self) -> dict:
        d = {"span": None if self.span is None else [round(self.span[0], 3), round(self.span[1], 3)],
             "frames": [{"t": round(f.t, 3), "box": f.box, "mask_rle": rle_encode(f.mask), "score": round(float(f.score), 4)}
                        for f in self.frames]}
        if self.fps:
            d["fps"] = round(self.fps, 6)
        if self.duration:
            d["duration"] = round(self.duration, 3)
        return d


@dataclass
class GroundingFailure:
    """An instruction that could not be executed (module not enabled, media absent...)."""

    module: str
    problem: str

    def to_dict(self) -> dict:
        return {"error": f"{self.module}: {self.problem}"}
