"""ImageBindConfig: sizes of the ImageBind towers Reamo uses (vision for images and video, audio, text)."""
from __future__ import annotations

from dataclasses import dataclass, field

from reamo.configbase import Config

TOWERS = ("vision", "audio", "text")


@dataclass
class ImageBindConfig(Config):
    """Shapes of the ImageBind architecture. `huge()` is imagebind_huge; `tiny()` is for tests.

    `checkpoint`: a local imagebind_huge.pth (or .safetensors) to load; None = random initialisation."""

    towers: list[str] = field(default_factory=lambda: list(TOWERS))
    out_embed_dim: int = 1024
    # vision (images are 1-frame videos repeated to `video_frames`)
    image_size: int = 224
    video_frames: int = 2
    vision_patch: int = 14
    vision_embed_dim: int = 1280
    vision_num_blocks: int = 32
    vision_num_heads: int = 16
    # audio (kaldi fbank "images")
    audio_num_mel_bins: int = 128
    audio_target_len: int = 204
    audio_kernel: int = 16
    audio_stride: int = 10
    audio_embed_dim: int = 768
    audio_num_blocks: int = 12
    audio_num_heads: int = 12
    audio_drop_path: float = 0.1
    # text (CLIP BPE)
    text_vocab_size: int = 49408
    text_context_length: int = 77
    text_embed_dim: int = 1024
    text_num_blocks: int = 24
    text_num_heads: int = 16
    checkpoint: str | None = None

    def __post_init__(self):
        self.check_choices(self.towers, TOWERS, "towers", "tower")
        for t in ("vision", "audio", "text"):
            d, h = getattr(self, f"{t}_embed_dim"), getattr(self, f"{t}_num_heads")
            self.check(d > 0 and h > 0 and d % h == 0, f"{t}_embed_dim", f"must be positive and divisible by {t}_num_heads")
            self.check(getattr(self, f"{t}_num_blocks") >= 1, f"{t}_num_blocks", "must be >= 1")
        self.check(self.image_size % self.vision_patch == 0, "image_size", "must be a multiple of vision_patch")
        self.check(self.audio_target_len >= self.audio_kernel and self.audio_num_mel_bins >= self.audio_kernel,
                   "audio_kernel", "larger than the fbank")
        self.check(0.0 <= self.audio_drop_path < 1.0, "audio_drop_path", "must be in [0, 1)")

    @classmethod
    def huge(cls, **kw) -> "ImageBindConfig":
        return cls(**kw)

    @classmethod
    def tiny(cls, **kw) -> "ImageBindConfig":
        base = dict(out_embed_dim=64, vision_embed_dim=32, vision_num_blocks=1, vision_num_heads=2,
                    audio_embed_dim=32, audio_num_blocks=1, audio_num_heads=2, audio_drop_path=0.0,
                    text_embed_dim=32, text_num_blocks=1, text_num_heads=2)
        base.update(kw)
        return cls(**base)
