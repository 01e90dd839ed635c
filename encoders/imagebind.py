"""The ImageBind architecture (vision for images and video, audio, text), written for Reamo.

The module tree reproduces the parameter layout of the official `imagebind_huge.pth`
(`modality_preprocessors.*`, `modality_trunks.*`, `modality_heads.*`, `modality_postprocessors.*`), so the
official checkpoint loads strictly for the towers we build. The computation follows the published model:

  vision   image [B,3,H,W] -> repeated to a 2-frame clip -> Conv3d patches (2x14x14) -> [CLS] + learned positions
           -> LayerNorm -> pre-norm transformer -> LayerNorm -> [CLS] -> Linear -> L2 normalise
  audio    fbank [B,1,128,204] -> Conv2d 16x16 stride 10 -> LayerNorm -> [CLS] + learned positions
           -> transformer with a learned extra key/value token -> LayerNorm -> [CLS] -> Linear -> L2 -> x20
  text     CLIP ids [B,77] -> token + position embeddings -> causal transformer -> token at the highest id
           (end of text) -> LayerNorm -> Linear -> L2 -> x learned logit scale
  Inputs made of several clips ([B,S,...]: video clips x crops, audio clips) are encoded clip by clip and the
  final embeddings averaged over the clips.

Beyond the official forward, which gives one vector per input, every tower also returns token-level features:
each output token of the transformer passed through the head's LayerNorm and projection ([B, N, out_dim]).

Attention uses `torch.nn.functional.scaled_dot_product_attention` with the parameters stored the way
`torch.nn.MultiheadAttention` stores them (`in_proj_weight`, `in_proj_bias`, `bias_k`, `bias_v`, `out_proj`).
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from encoders.config import TOWERS, ImageBindConfig
from reamo.errors import CheckpointError, UnsupportedModalityError

log = logging.getLogger(__name__)

MODALITY_TOWER = {"image": "vision", "video": "vision", "audio": "audio", "text": "text"}
STATE_GROUPS = ("modality_preprocessors", "modality_trunks", "modality_heads", "modality_postprocessors")
OFFICIAL_ONLY_TOWERS = ("depth", "thermal", "imu")  # in imagebind_huge.pth, not built by Reamo
AUDIO_LOGIT_SCALE = 20.0  # fixed scale of the audio embedding
TEXT_LOGIT_SCALE_INIT = 1 / 0.07  # initial value of the learned text scale (CLIP)
MAX_LOGIT_SCALE = 100.0


@dataclass
class EncoderOutput:
    """What a tower gives for a batch of B inputs.

    pooled: [B, out_dim], exactly the official model's output for the modality (postprocessing included;
        inputs made of clips are averaged over their clips).
    tokens: [B, num_clips * tokens_per_clip, out_dim] or None: every output token of the transformer, clip
        after clip, mapped into the joint space by the head's LayerNorm and projection (no L2 normalisation).
        Per clip, the first `num_prefix_tokens` are [CLS] (vision, audio: 1; text: 0), then the patches in
        row-major order of `grid`.
    num_clips: clips per input (video: clips x spatial crops, audio: clips; images and text: 1).
    grid: layout of one clip's patch tokens: vision (T', H', W'), audio (mel', frames'), text (context,).
    """

    pooled: torch.Tensor
    tokens: torch.Tensor | None = None
    num_clips: int = 1
    num_prefix_tokens: int = 0
    grid: tuple[int, ...] = ()

    @property
    def tokens_per_clip(self) -> int:
        return self.num_prefix_tokens + math.prod(self.grid)

    def clip_tokens(self) -> torch.Tensor:
        """Tokens split per clip: [B, num_clips, tokens_per_clip, out_dim]."""
        if self.tokens is None:
            raise ValueError("this output was computed without token features (with_tokens=False)")
        return self.tokens.reshape(self.tokens.shape[0], self.num_clips, self.tokens_per_clip, -1)

    def patch_tokens(self) -> torch.Tensor:
        """Patch tokens only ([CLS] dropped), per clip: [B, num_clips, prod(grid), out_dim]."""
        return self.clip_tokens()[:, :, self.num_prefix_tokens:]


# ---- building blocks ------------------------------------------------------------------------------------
class RepeatToFrames(nn.Module):
    """Images [B,C,H,W] or 1-frame videos [B,C,1,H,W] -> `frames`-frame videos by repeating the frame."""

    def __init__(self, frames: int):
        super().__init__()
        self.frames = frames

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim == 4:
            x = x.unsqueeze(2)
        if x.shape[2] == 1 and self.frames > 1:
            x = x.expand(-1, -1, self.frames, -1, -1)
        return x


class PatchEmbed(nn.Module):
    """Convolutional patches -> [B, num_patches, dim] (flattened in row-major order), optionally normalised."""

    def __init__(self, proj: nn.Module, norm_layer: nn.Module | None = None):
        super().__init__()
        self.proj = proj
        self.norm_layer = norm_layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.proj(x).flatten(2).transpose(1, 2)
        return self.norm_layer(x) if self.norm_layer is not None else x


class LearnedPositions(nn.Module):
    def __init__(self, num_tokens: int, dim: int):
        super().__init__()
        self.pos_embed = nn.Parameter(torch.randn(1, num_tokens, dim) * dim**-0.5)


class PatchTokenizer(nn.Module):
    """Patch embedding, a [CLS] token in front, learned positions (the vision and audio preprocessors)."""

    def __init__(self, stem: PatchEmbed, num_patches: int, dim: int, input_shape: tuple[int, ...]):
        super().__init__()
        self.rgbt_stem = stem
        self.cls_token = nn.Parameter(torch.randn(1, 1, dim) * dim**-0.5)
        self.pos_embedding_helper = LearnedPositions(1 + num_patches, dim)
        self.input_shape = input_shape  # one clip, without the batch axis (for error messages)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        patches = self.rgbt_stem(x)
        pos = self.pos_embedding_helper.pos_embed
        if patches.shape[1] + 1 != pos.shape[1]:
            raise ValueError(f"input of shape {tuple(x.shape[1:])} gives {patches.shape[1]} patches; this model "
                             f"takes {pos.shape[1] - 1} patches (inputs of shape {self.input_shape})")
        cls = self.cls_token.expand(patches.shape[0], -1, -1)
        return torch.cat([cls, patches], dim=1) + pos


class TextTokenizer(nn.Module):
    """Token + learned position embeddings; holds the causal attention mask (a checkpoint buffer)."""

    def __init__(self, vocab_size: int, context_length: int, dim: int):
        super().__init__()
        self.token_embedding = nn.Embedding(vocab_size, dim)
        nn.init.normal_(self.token_embedding.weight, std=0.02)
        self.pos_embed = nn.Parameter(torch.randn(1, context_length, dim) * 0.01)
        self.register_buffer("mask", torch.full((context_length, context_length), float("-inf")).triu_(1))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        if ids.shape[1] != self.pos_embed.shape[1]:
            raise ValueError(f"text ids have length {ids.shape[1]}; this model takes exactly "
                             f"{self.pos_embed.shape[1]} (pad with 0 after the end-of-text token)")
        return self.token_embedding(ids) + self.pos_embed


class SelfAttention(nn.Module):
    """Multi-head self-attention (SDPA), parameters in `nn.MultiheadAttention`'s layout.

    With `kv_bias_token`, a learned key/value pair is appended to every sequence (`bias_k`, `bias_v`), which
    every query can attend to (the audio tower)."""

    def __init__(self, dim: int, num_heads: int, kv_bias_token: bool = False):
        super().__init__()
        self.num_heads = num_heads
        self.in_proj_weight = nn.Parameter(torch.empty(3 * dim, dim))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * dim))
        nn.init.xavier_uniform_(self.in_proj_weight)
        if kv_bias_token:
            self.bias_k = nn.Parameter(torch.empty(1, 1, dim))
            self.bias_v = nn.Parameter(torch.empty(1, 1, dim))
            nn.init.xavier_normal_(self.bias_k)
            nn.init.xavier_normal_(self.bias_v)
        else:
            self.bias_k = self.bias_v = None
        self.out_proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor | None = None) -> torch.Tensor:
        b, n, d = x.shape
        q, k, v = F.linear(x, self.in_proj_weight, self.in_proj_bias).chunk(3, dim=-1)
        if self.bias_k is not None:
            k = torch.cat([k, self.bias_k.expand(b, 1, d)], dim=1)
            v = torch.cat([v, self.bias_v.expand(b, 1, d)], dim=1)
            if attn_mask is not None:
                attn_mask = F.pad(attn_mask, (0, 1))

        def heads(t: torch.Tensor) -> torch.Tensor:
            return t.reshape(b, t.shape[1], self.num_heads, d // self.num_heads).transpose(1, 2)

        if attn_mask is not None:
            attn_mask = attn_mask.to(q.dtype)
        out = F.scaled_dot_product_attention(heads(q), heads(k), heads(v), attn_mask=attn_mask)
        return self.out_proj(out.transpose(1, 2).reshape(b, n, d))


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class DropPath(nn.Module):
    """Stochastic depth: in training, drop the residual branch of a whole sample with probability p."""

    def __init__(self, p: float):
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(1.0 - self.p)
        return x * keep / (1.0 - self.p)


class TransformerBlock(nn.Module):
    """Pre-norm block: x + attn(LN(x)), then x + mlp(LN(x)), with stochastic depth on both branches."""

    def __init__(self, dim: int, num_heads: int, kv_bias_token: bool, drop_path: float):
        super().__init__()
        self.attn = SelfAttention(dim, num_heads, kv_bias_token)
        self.drop_path = DropPath(drop_path)
        self.norm_1 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, 4 * dim)
        self.norm_2 = nn.LayerNorm(dim, eps=1e-6)

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor | None = None) -> torch.Tensor:
        x = x + self.drop_path(self.attn(self.norm_1(x), attn_mask))
        return x + self.drop_path(self.mlp(self.norm_2(x)))


class Transformer(nn.Module):
    """Optional input LayerNorm, then blocks; stochastic depth grows linearly from 0 to `drop_path`."""

    def __init__(self, dim: int, num_blocks: int, num_heads: int, *, input_norm: bool, kv_bias_token: bool,
                 drop_path: float):
        super().__init__()
        self.pre_transformer_layer = nn.Sequential(nn.LayerNorm(dim, eps=1e-6) if input_norm else nn.Identity())
        rates = [drop_path * i / (num_blocks - 1) if num_blocks > 1 else 0.0 for i in range(num_blocks)]
        self.blocks = nn.Sequential(*[TransformerBlock(dim, num_heads, kv_bias_token, r) for r in rates])
        for m in self.blocks.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor | None = None) -> torch.Tensor:
        x = self.pre_transformer_layer(x)
        for block in self.blocks:
            x = block(x, attn_mask)
        return x


class TakeToken(nn.Module):
    def __init__(self, index: int = 0):
        super().__init__()
        self.index = index

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, self.index]


class EndOfTextProjection(nn.Module):
    """Text head: the token at each row's end-of-text position, then `proj` (LayerNorm + Linear)."""

    def __init__(self, dim: int, out_dim: int):
        super().__init__()
        self.proj = nn.Sequential(nn.LayerNorm(dim, eps=1e-6), nn.Linear(dim, out_dim, bias=False))

    def forward(self, x: torch.Tensor, eot_index: torch.Tensor) -> torch.Tensor:
        return self.proj(x[torch.arange(x.shape[0], device=x.device), eot_index])


class L2Normalize(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(x, p=2, dim=-1)


class LogitScale(nn.Module):
    """Multiplies by exp(log_logit_scale), capped at 100; learned (a parameter) or fixed (a buffer)."""

    def __init__(self, init: float, learnable: bool):
        super().__init__()
        value = torch.tensor(math.log(init), dtype=torch.float32)
        if learnable:
            self.log_logit_scale = nn.Parameter(value)
        else:
            self.register_buffer("log_logit_scale", value)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.log_logit_scale.exp().clamp(max=MAX_LOGIT_SCALE) * x


def _token_head(dim: int, out_dim: int) -> nn.Sequential:
    """Vision/audio head: LayerNorm, take [CLS], Linear (indices 0 and 2 hold the checkpoint's weights)."""
    return nn.Sequential(nn.LayerNorm(dim, eps=1e-6), TakeToken(0), nn.Linear(dim, out_dim, bias=False))


# ---- the model -------------------------------------------------------------------------------------------
class ImageBindModel(nn.Module):
    """The towers named in `cfg.towers`, with the official module names (checkpoint-compatible)."""

    def __init__(self, cfg: ImageBindConfig):
        super().__init__()
        self.cfg = cfg
        pre, trunks, heads, post = {}, {}, {}, {}
        if "vision" in cfg.towers:
            d, p, kt = cfg.vision_embed_dim, cfg.vision_patch, cfg.vision_temporal_kernel
            conv = nn.Conv3d(3, d, kernel_size=(kt, p, p), stride=(kt, p, p), bias=False)
            stem = PatchEmbed(nn.Sequential(RepeatToFrames(cfg.video_frames), conv))
            pre["vision"] = PatchTokenizer(stem, math.prod(cfg.patch_grid("vision")), d,
                                           (3, cfg.video_frames, cfg.image_size, cfg.image_size))
            trunks["vision"] = Transformer(d, cfg.vision_num_blocks, cfg.vision_num_heads, input_norm=True,
                                           kv_bias_token=False, drop_path=cfg.vision_drop_path)
            heads["vision"] = _token_head(d, cfg.out_embed_dim)
            post["vision"] = L2Normalize()
        if "audio" in cfg.towers:
            d = cfg.audio_embed_dim
            conv = nn.Conv2d(1, d, kernel_size=cfg.audio_kernel, stride=cfg.audio_stride, bias=False)
            pre["audio"] = PatchTokenizer(PatchEmbed(conv, nn.LayerNorm(d)), math.prod(cfg.patch_grid("audio")), d,
                                          (1, cfg.audio_num_mel_bins, cfg.audio_target_len))
            trunks["audio"] = Transformer(d, cfg.audio_num_blocks, cfg.audio_num_heads, input_norm=False,
                                          kv_bias_token=True, drop_path=cfg.audio_drop_path)
            heads["audio"] = _token_head(d, cfg.out_embed_dim)
            post["audio"] = nn.Sequential(L2Normalize(), LogitScale(AUDIO_LOGIT_SCALE, learnable=False))
        if "text" in cfg.towers:
            d = cfg.text_embed_dim
            pre["text"] = TextTokenizer(cfg.text_vocab_size, cfg.text_context_length, d)
            trunks["text"] = Transformer(d, cfg.text_num_blocks, cfg.text_num_heads, input_norm=False,
                                         kv_bias_token=False, drop_path=cfg.text_drop_path)
            heads["text"] = EndOfTextProjection(d, cfg.out_embed_dim)
            post["text"] = nn.Sequential(L2Normalize(), LogitScale(TEXT_LOGIT_SCALE_INIT, learnable=True))
        self.modality_preprocessors = nn.ModuleDict(pre)
        self.modality_trunks = nn.ModuleDict(trunks)
        self.modality_heads = nn.ModuleDict(heads)
        self.modality_postprocessors = nn.ModuleDict(post)

    @property
    def towers(self) -> tuple[str, ...]:
        return tuple(t for t in TOWERS if t in self.modality_trunks)

    def encode_tower(self, tower: str, x: torch.Tensor, with_tokens: bool = True) -> EncoderOutput:
        """Encode a batch with one tower.

        vision: images [B,3,H,W], one clip [B,3,T,H,W] or clips [B,S,3,T,H,W];
        audio: one fbank [B,1,M,L] or clips [B,S,1,M,L]; text: ids [B, context] (int64)."""
        if tower not in self.modality_trunks:
            raise UnsupportedModalityError(tower, self.towers)
        allowed = {"vision": (4, 5, 6), "audio": (4, 5), "text": (2,)}[tower]
        if x.ndim not in allowed:
            raise ValueError(f"{tower} input has shape {tuple(x.shape)}; expected {' or '.join(map(str, allowed))} "
                             "dims (vision [B,3,H,W] / [B,3,T,H,W] / [B,S,3,T,H,W], audio [B,1,M,L] / [B,S,1,M,L], "
                             "text [B, context])")
        has_clips = x.ndim == allowed[-1] and tower != "text"
        batch = x.shape[0]
        clips = x.shape[1] if has_clips else 1
        if has_clips:
            x = x.reshape(batch * clips, *x.shape[2:])
        trunk, head = self.modality_trunks[tower], self.modality_heads[tower]
        if tower == "text":
            h = trunk(self.modality_preprocessors.text(x), attn_mask=self.modality_preprocessors.text.mask)
            pooled = head(h, eot_index=x.argmax(dim=-1))
            tokens = head.proj(h) if with_tokens else None
            prefix = 0
        else:
            h = trunk(self.modality_preprocessors[tower](x))
            pooled = head(h)
            tokens = head[2](head[0](h)) if with_tokens else None
            prefix = 1
        pooled = self.modality_postprocessors[tower](pooled)
        if has_clips:
            pooled = pooled.reshape(batch, clips, -1).mean(dim=1)
        if tokens is not None:
            tokens = tokens.reshape(batch, clips * tokens.shape[1], tokens.shape[2])
        return EncoderOutput(pooled, tokens, clips, prefix, self.cfg.patch_grid(tower))

    def forward(self, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Like the official forward: {"vision"|"audio"|"text": input} -> {tower: pooled embedding}."""
        return {tower: self.encode_tower(tower, x, with_tokens=False).pooled for tower, x in inputs.items()}


# ---- checkpoints -------------------------------------------------------------------------------------------
def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """A flat {name: tensor} from a .safetensors or a torch zip/legacy file; pickled objects are refused."""
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            sd = load_file(str(path))
        except Exception as e:
            raise CheckpointError(path, f"unreadable safetensors file: {e}") from None
    else:
        try:
            try:  # memory-mapped: the 4.5 GB huge checkpoint is not copied into memory twice
                sd = torch.load(str(path), map_location="cpu", weights_only=True, mmap=True)
            except RuntimeError as e:
                if "mmap" not in str(e):
                    raise
                sd = torch.load(str(path), map_location="cpu", weights_only=True)  # legacy (non-zip) format
        except Exception as e:  # weights_only refuses anything but tensors and plain containers
            raise CheckpointError(path, "refused or unreadable checkpoint (only plain tensors are loaded, "
                                        f"never pickled objects): {type(e).__name__}: {e}") from None
    if not isinstance(sd, dict):
        raise CheckpointError(path, f"holds a {type(sd).__name__}, not a state dict")
    bad = [k for k, v in sd.items() if not isinstance(k, str) or not isinstance(v, torch.Tensor)]
    if bad:
        raise CheckpointError(path, f"not a flat state dict of tensors: entries {bad[:5]} are not tensors")
    return sd


def _describe(keys: list[str], limit: int = 20) -> str:
    more = f" (+{len(keys) - limit} more)" if len(keys) > limit else ""
    return ", ".join(keys[:limit]) + more


def load_imagebind_checkpoint(model: "ImageBindModel | ImageBindEncoder", path: str | Path) -> list[str]:
    """Load a local ImageBind checkpoint (`.pth` read with `weights_only=True`, or `.safetensors`) into `model`.

    Keys of towers the model does not build (depth, thermal, imu, and any of vision/audio/text left out of
    `cfg.towers`) are dropped, logged and returned. For the rest the load is strict: a missing key, an
    unexpected key or a shape mismatch raises `CheckpointError` listing them. A model built on the meta
    device receives the checkpoint's tensors directly (no second copy in memory)."""
    if isinstance(model, ImageBindEncoder):
        model = model.model
    path = Path(path).expanduser()
    if not path.is_file():
        raise CheckpointError(path, "ImageBind checkpoint not found" + (" (it is a directory)" if path.is_dir() else ""))
    sd = _read_state_dict(path)
    built = set(model.towers)
    known = built | set(TOWERS) | set(OFFICIAL_ONLY_TOWERS)

    def tower_of(key: str) -> str | None:
        parts = key.split(".")
        return parts[1] if len(parts) > 2 and parts[0] in STATE_GROUPS else None

    dropped = sorted(k for k in sd if tower_of(k) in known - built)
    sd = {k: v for k, v in sd.items() if tower_of(k) not in known - built}
    own = model.state_dict()
    missing = sorted(set(own) - set(sd))
    unexpected = sorted(set(sd) - set(own))
    wrong = sorted(f"{k} {tuple(sd[k].shape)} (model: {tuple(own[k].shape)})"
                   for k in set(sd) & set(own) if sd[k].shape != own[k].shape)
    problems = [f"{what}: {_describe(keys)}" for what, keys in
                (("missing keys", missing), ("unexpected keys", unexpected), ("wrong shapes", wrong)) if keys]
    if problems:
        raise CheckpointError(path, f"does not match the configured ImageBind (towers {sorted(built)}): "
                                    + "; ".join(problems))
    on_meta = any(t.is_meta for t in own.values())
    sd = {k: v.to(own[k].dtype) if v.is_floating_point() else v for k, v in sd.items()}
    model.load_state_dict(sd, strict=True, assign=on_meta)
    if dropped:
        towers = sorted({k.split(".")[1] for k in dropped})
        log.info("%s: dropped %d keys of towers not built here (%s)", path, len(dropped), ", ".join(towers))
    return dropped


# ---- the frozen encoder Reamo uses ---------------------------------------------------------------------------
class ImageBindEncoder(nn.Module):
    """ImageBind for Reamo: `encode("image"|"video"|"audio"|"text", inputs) -> EncoderOutput`.

    Frozen by default (eval mode kept through `.train()`, no gradients, encoding under no_grad). With
    `cfg.checkpoint` set, the model is built on the meta device and takes the checkpoint's tensors, so the
    huge model is not randomly initialised first."""

    def __init__(self, cfg: ImageBindConfig, frozen: bool = True):
        super().__init__()
        self.cfg = cfg
        self.frozen = frozen
        if cfg.checkpoint:
            with torch.device("meta"):
                self.model = ImageBindModel(cfg)
            load_imagebind_checkpoint(self.model, cfg.checkpoint)
        else:
            self.model = ImageBindModel(cfg)
        if frozen:
            self.model.requires_grad_(False)
            self.model.eval()

    @property
    def modalities(self) -> tuple[str, ...]:
        return tuple(m for m, t in MODALITY_TOWER.items() if t in self.model.modality_trunks)

    def train(self, mode: bool = True) -> "ImageBindEncoder":
        super().train(mode)
        if self.frozen:
            self.model.eval()
        return self

    def encode(self, modality: str, x: torch.Tensor, with_tokens: bool = True) -> EncoderOutput:
        """image [B,3,H,W]; video [B,S,3,T,H,W] (clips) or [B,3,T,H,W]; audio [B,S,1,M,L] (clips) or [B,1,M,L];
        text int ids [B, context]. Inputs are moved to the encoder's device and dtype."""
        tower = MODALITY_TOWER.get(modality)
        if tower is None or tower not in self.model.modality_trunks:
            raise UnsupportedModalityError(modality, self.modalities)
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"{modality} input must be a preprocessed tensor, got {type(x).__name__}")
        expected = {"image": (4,), "video": (5, 6), "audio": (4, 5), "text": (2,)}[modality]
        if x.ndim not in expected:
            raise ValueError(f"{modality} input has shape {tuple(x.shape)}; expected "
                             f"{' or '.join(f'{n} dims' for n in expected)} ({self.encode.__doc__.splitlines()[0]})")
        param = next(self.model.modality_trunks[tower].parameters())
        if modality == "text":
            if x.is_floating_point():
                raise ValueError("text input must be integer token ids")
            x = x.to(param.device, torch.long)
        else:
            x = x.to(param.device, param.dtype)
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.frozen):
            return self.model.encode_tower(tower, x, with_tokens)

    def forward(self, modality: str, x: torch.Tensor, with_tokens: bool = True) -> EncoderOutput:
        return self.encode(modality, x, with_tokens)
