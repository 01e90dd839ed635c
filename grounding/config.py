"""Configs of the grounding heads (DESIGN.md section 5). Every range is checked in `__post_init__`."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from reamo.configbase import Config

HEADS = ("image", "audio", "video")
SAM_VARIANTS = ("tiny", "vit_b", "vit_l", "vit_h")


@dataclass
class ImageHeadConfig(Config):
    """SEEM/LISA-style promptable segmentation on segment-anything.

    `sam: tiny` builds a small SAM from SAM's own classes (random weights unless `checkpoint` is given);
    vit_b / vit_l / vit_h build the real ones with segment-anything's registry builders and load `checkpoint`
    (a local .pth or .safetensors path; keys must match exactly). The image encoder is always frozen."""

    sam: Literal["tiny", "vit_b", "vit_l", "vit_h"] = "tiny"
    checkpoint: str | None = None
    image_size: int = 64  # SAM input side: 1024 for the real SAMs, small (64-128) for tiny
    tiny_embed_dim: int = 32  # tiny image encoder ViT width
    tiny_depth: int = 1
    tiny_heads: int = 2
    prompt_dim: int = 32  # SAM prompt / mask-decoder width (256 for the real SAMs)
    num_query_tokens: int = 2  # prompt tokens the query vector becomes
    train_mask_decoder: bool = True
    bce_weight: float = 2.0  # LISA
    dice_weight: float = 0.5  # LISA
    iou_weight: float = 1.0  # MSE of SAM's IoU prediction (the reported score) against the true IoU (SAM)
    encoder_batch_size: int = 8  # images per image-encoder call (frozen, no_grad)

    def __post_init__(self):
        if self.sam != "tiny":
            self.check(self.image_size == 1024, "image_size", f"SAM {self.sam} takes 1024x1024 inputs")
            self.check(self.prompt_dim == 256, "prompt_dim", f"SAM {self.sam} has a 256-wide prompt/decoder")
        self.check(self.image_size >= 32 and self.image_size % 16 == 0, "image_size",
                   "must be >= 32 and a multiple of 16 (SAM's patch size)")
        for k in ("tiny_embed_dim", "tiny_depth", "tiny_heads", "prompt_dim", "num_query_tokens", "encoder_batch_size"):
            self.check(getattr(self, k) >= 1, k, "must be >= 1")
        self.check(self.tiny_embed_dim % self.tiny_heads == 0, "tiny_embed_dim", "must be divisible by tiny_heads")
        self.check(self.prompt_dim % 16 == 0, "prompt_dim", "must be a multiple of 16 (SAM's mask decoder)")
        for k in ("bce_weight", "dice_weight", "iou_weight"):
            self.check(getattr(self, k) >= 0, k, "must be >= 0")
        self.check(self.bce_weight + self.dice_weight > 0, "bce_weight", "bce_weight + dice_weight must be > 0")
        self.check(self.checkpoint is None or self.checkpoint.strip() != "", "checkpoint", "must be a path or null")


@dataclass
class AudioHeadConfig(Config):
    """SHAS-style frame classifier over kaldi fbank frames conditioned on the query, then pDAC."""

    mel_bins: int = 128  # kaldi fbank bins (ImageBind: 128)
    frame_rate: float = 100.0  # fbank frames per second (10 ms shift)
    downsample: int = 4  # fbank frames averaged into one step: 100 / 4 = 25 steps/s
    width: int = 64
    layers: int = 2
    heads: int = 4
    window_s: float = 30.0  # the transformer sees windows of this length (longer audio is cut into windows)
    max_segment_s: float = 10.0  # pDAC: no span is longer than this
    min_segment_s: float = 0.08  # pDAC: shorter spans are dropped
    threshold: float = 0.5  # pDAC: frame probability a span must reach on average (and at its edges)
    loss_weight: float = 1.0  # multiplies the per-frame BCE

    def __post_init__(self):
        for k in ("mel_bins", "downsample", "width", "layers", "heads"):
            self.check(getattr(self, k) >= 1, k, "must be >= 1")
        self.check(self.width % self.heads == 0, "width", "must be divisible by heads")
        self.check(self.width % 2 == 0, "width", "must be even (sinusoidal positions)")
        self.check(self.frame_rate > 0, "frame_rate", "must be > 0")
        self.check(0.0 < self.threshold < 1.0, "threshold", "must be in (0, 1)")
        self.check(self.min_segment_s >= 0, "min_segment_s", "must be >= 0")
        self.check(self.max_segment_s > self.min_segment_s, "max_segment_s", "must exceed min_segment_s")
        self.check(self.max_segment_s * self.frame_rate / self.downsample >= 1, "max_segment_s",
                   "must hold at least one step")
        self.check(self.window_s * self.frame_rate / self.downsample >= 1, "window_s", "must hold at least one step")
        self.check(self.loss_weight >= 0, "loss_weight", "must be >= 0")


@dataclass
class VideoHeadConfig(Config):
    """The image head on `num_frames` sampled frames + a presence score per frame + box-IoU linking."""

    num_frames: int = 8  # frames sampled per video for the head
    presence_threshold: float = 0.5  # a frame belongs to the time span when its presence probability reaches this
    link_iou: float = 0.3  # box IoU with the track's last box for a mask component to continue the track
    presence_weight: float = 1.0  # multiplies the presence BCE

    def __post_init__(self):
        self.check(self.num_frames >= 1, "num_frames", "must be >= 1")
        self.check(0.0 < self.presence_threshold < 1.0, "presence_threshold", "must be in (0, 1)")
        self.check(0.0 <= self.link_iou <= 1.0, "link_iou", "must be in [0, 1]")
        self.check(self.presence_weight >= 0, "presence_weight", "must be >= 0")


@dataclass
class GroundingConfig(Config):
    """Which heads exist and their settings. `query_dim` is the LLM hidden size; null means the model gives it
    (ReamoModel passes its LLM's hidden size to GroundingHeads)."""

    heads: list[str] = field(default_factory=lambda: list(HEADS))
    query_dim: int | None = None
    image: ImageHeadConfig = field(default_factory=ImageHeadConfig)
    audio: AudioHeadConfig = field(default_factory=AudioHeadConfig)
    video: VideoHeadConfig = field(default_factory=VideoHeadConfig)

    def __post_init__(self):
        self.check_choices(self.heads, HEADS, "heads", "head")
        self.check(len(set(self.heads)) == len(self.heads), "heads", "lists a head twice")
        self.check("video" not in self.heads or "image" in self.heads, "heads",
                   "the video head runs the image head on frames: enable image too")
        self.check(self.query_dim is None or self.query_dim >= 1, "query_dim", "must be >= 1")
