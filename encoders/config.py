"""`ImageBindConfig`: the sizes of the ImageBind towers Reamo builds (vision for images and video, audio, text).

`ImageBindConfig.huge()` gives the shapes of the official `imagebind_huge` (its `imagebind_huge.pth` loads into
it with no key missing or left over); `ImageBindConfig.tiny()` is the same architecture with tiny widths, for
tests: it builds in milliseconds and still takes real 224x224 images, 2-frame video clips, 128x204 fbanks and
77-token CLIP ids.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from reamo.configbase import Config

TOWERS = ("vision", "audio", "text")


@dataclass
class ImageBindConfig(Config):
    """Shapes of the ImageBind architecture.

    towers: which towers to build ("vision" serves images and video, "audio", "text").
    checkpoint: a local imagebind `.pth` / `.safetensors` to load, or None for random initialisation.
    """

    towers: list[str] = field(default_factory=lambda: list(TOWERS))
    out_embed_dim: int = 1024
    # vision: images are 1-frame videos repeated to `video_frames` frames; one Conv3d patch embed for both
    image_size: int = 224
    video_frames: int = 2
    vision_patch: int = 14  # spatial kernel and stride of the patch embed
    vision_temporal_kernel: int = 2  # temporal kernel and stride of the patch embed
    vision_embed_dim: int = 1280
    vision_num_blocks: int = 32
    vision_num_heads: int = 16
    vision_drop_path: float = 0.0
    # audio: kaldi fbank "images" [1, mel bins, frames], overlapping square patches
    audio_num_mel_bins: int = 128
    audio_target_len: int = 204
    audio_kernel: int = 16
    audio_stride: int = 10
    audio_embed_dim: int = 768
    audio_num_blocks: int = 12
    audio_num_heads: int = 12
    audio_drop_path: float = 0.1
    # text: CLIP BPE ids, causal attention, pooled at the end-of-text token
    text_vocab_size: int = 49408
    text_context_length: int = 77
    text_embed_dim: int = 1024
    text_num_blocks: int = 24
    text_num_heads: int = 16
    text_drop_path: float = 0.0
    checkpoint: str | None = None

    def __post_init__(self) -> None:
        self.check_choices(self.towers, TOWERS, "towers", "tower")
        self.check(len(self.towers) > 0 and len(set(self.towers)) == len(self.towers), "towers",
                   "must name at least one tower, each once")
        self.check(self.out_embed_dim > 0, "out_embed_dim", "must be positive")
        for t in TOWERS:
            d, h = getattr(self, f"{t}_embed_dim"), getattr(self, f"{t}_num_heads")
            self.check(d > 0 and h > 0 and d % h == 0, f"{t}_embed_dim", f"must be positive and divisible by {t}_num_heads ({h})")
            self.check(getattr(self, f"{t}_num_blocks") >= 1, f"{t}_num_blocks", "must be >= 1")
            self.check(0.0 <= getattr(self, f"{t}_drop_path") < 1.0, f"{t}_drop_path", "must be in [0, 1)")
        self.check(self.vision_patch > 0 and self.image_size % self.vision_patch == 0, "image_size",
                   f"must be a positive multiple of vision_patch ({self.vision_patch})")
        self.check(self.video_frames >= 1 and self.vision_temporal_kernel >= 1
                   and self.video_frames % self.vision_temporal_kernel == 0, "video_frames",
                   f"must be a positive multiple of vision_temporal_kernel ({self.vision_temporal_kernel})")
        self.check(self.audio_kernel > 0 and self.audio_stride > 0, "audio_kernel", "kernel and stride must be positive")
        self.check(min(self.audio_num_mel_bins, self.audio_target_len) >= self.audio_kernel, "audio_kernel",
                   "must fit in the fbank (audio_num_mel_bins x audio_target_len)")
        self.check(self.text_vocab_size > 0 and self.text_context_length > 0, "text_context_length", "must be positive")

    # ---- derived shapes ----------------------------------------------------------------------------------
    def patch_grid(self, tower: str) -> tuple[int, ...]:
        """Layout of the patch tokens of one input (one clip): vision (T', H', W'), audio (mel', frames'),
        text (context,)."""
        if tower == "vision":
            s = self.image_size // self.vision_patch
            return (self.video_frames // self.vision_temporal_kernel, s, s)
        if tower == "audio":
            k, st = self.audio_kernel, self.audio_stride
            return ((self.audio_num_mel_bins - k) // st + 1, (self.audio_target_len - k) // st + 1)
        if tower == "text":
            return (self.text_context_length,)
        raise KeyError(tower)

    # ---- presets --------------------------------------------------------------------------------------------
    @classmethod
    def huge(cls, **overrides) -> "ImageBindConfig":
        """The official imagebind_huge: ViT-H/14 vision (1280 x 32), audio 768 x 12, text 1024 x 24, joint 1024."""
        return cls(**overrides)

    @classmethod
    def tiny(cls, **overrides) -> "ImageBindConfig":
        """Tiny widths, one block per tower; real input sizes (224x224 images, 128x204 fbanks, 77 CLIP ids)."""
        sizes = dict(out_embed_dim=64, vision_embed_dim=32, vision_num_blocks=1, vision_num_heads=2,
                     audio_embed_dim=32, audio_num_blocks=1, audio_num_heads=2, audio_drop_path=0.0,
                     text_embed_dim=32, text_num_blocks=1, text_num_heads=2)
        sizes.update(overrides)
        return cls(**sizes)
