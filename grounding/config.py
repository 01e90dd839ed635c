"""Configs of the grounding heads (DESIGN.md section 5)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from reamo.configbase import Config

HEADS = ("image", "audio", "video")


@dataclass
class ImageHeadConfig(Config):
    """SEEM/LISA-style promptable segmentation on segment-anything. `sam: tiny` builds a small SAM from SAM's
    own classes (random weights); vit_b/vit_l/vit_h build the real ones and load `checkpoint` (local path)."""

    sam: Literal["tiny", "vit_b", "vit_l", "vit_h"] = "tiny"
    checkpoint: str | None = None
    image_size: int = 64  # SAM input side (1024 for the real SAMs)
    tiny_embed_dim: int = 32
    tiny_depth: int = 1
    tiny_heads: int = 2
    prompt_dim: int = 32  # SAM prompt/transformer width (256 for the real SAMs)
    num_query_tokens: int = 2
    train_mask_decoder: bool = True
    bce_weight: float = 2.0
    dice_weight: float = 0.5

    def __post_init__(self):
        if self.sam != "tiny":
            self.check(self.image_size == 1024, "image_size", "real SAM checkpoints take 1024")
            self.check(self.prompt_dim == 256, "prompt_dim", "real SAM checkpoints use 256")
        self.check(self.image_size % 16 == 0, "image_size", "must be a multiple of 16 (SAM's patch)")
        self.check(self.num_query_tokens >= 1, "num_query_tokens", "must be >= 1")


@dataclass
class AudioHeadConfig(Config):
    """SHAS-style frame classifier over kaldi fbank frames (100 frames/s) conditioned on the query, + pDAC."""

    mel_bins: int = 128
    downsample: int = 4  # frames averaged into one step: 100/4 = 25 steps/s
    width: int = 64
    layers: int = 2
    heads: int = 4
    max_segment_s: float = 10.0
    min_segment_s: float = 0.08
    threshold: float = 0.5
    window_s: float = 60.0  # inference on longer audio runs window by window (SHAS), then pDAC over all of it

    def __post_init__(self):
        self.check(self.width % self.heads == 0, "width", "must be divisible by heads")
        self.check(self.window_s >= 1.0, "window_s", "must be at least 1 second")
        self.check(self.downsample >= 1, "downsample", "must be >= 1")
        self.check(0.0 < self.threshold < 1.0, "threshold", "must be in (0, 1)")
        self.check(self.max_segment_s > self.min_segment_s >= 0, "max_segment_s", "must exceed min_segment_s")


@dataclass
class VideoHeadConfig(Config):
    num_frames: int = 8
    presence_threshold: float = 0.5

    def __post_init__(self):
        self.check(self.num_frames >= 1, "num_frames", "must be >= 1")


@dataclass
class GroundingConfig(Config):
    heads: list[str] = field(default_factory=lambda: list(HEADS))
    image: ImageHeadConfig = field(default_factory=ImageHeadConfig)
    audio: AudioHeadConfig = field(default_factory=AudioHeadConfig)
    video: VideoHeadConfig = field(default_factory=VideoHeadConfig)

    def __post_init__(self):
        self.check_choices(self.heads, HEADS, "heads", "head")
        self.check("video" not in self.heads or "image" in self.heads, "heads", "the video head needs the image head")
