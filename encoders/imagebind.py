"""The ImageBind architecture (vision, audio, text towers), written for Reamo.

State-dict compatible with the official `imagebind_huge.pth`: module names follow the official layout
(`modality_preprocessors`, `modality_trunks`, `modality_heads`, `modality_postprocessors`), so a checkpoint
loads with no key missing or unexpected for the towers we build. Unlike the official forward, which returns
one pooled vector per input, `encode` also returns token-level features mapped into the joint space (the
head's norm and projection applied to every patch token), which the LLM and grounding can use.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from encoders.config import ImageBindConfig
from reamo.errors import CheckpointError, UnsupportedModalityError

MODALITY_TOWER = {"image": "vision", "video": "vision", "audio": "audio", "text": "text"}
OTHER_TOWERS = ("depth", "thermal", "imu")  # in imagebind_huge.pth, not used by Reamo


@dataclass
class EncoderOutput:
    pooled: torch.Tensor  # [B, out_dim]: exactly the official model's output for this modality
    tokens: torch.Tensor | None  # [B, N, out_dim]: per-token features (all clips' patch tokens, in order)


# ---- building blocks -------------------------------------------------------------------------------------
class RepeatFrames(nn.Module):
    """Images [B,C,H,W] (or 1-frame videos) become `frames`-frame videos by repetition."""

    def __init__(self, frames: int):
        super().__init__()
        self.frames = frames

    def forward(self, x):
        if x.ndim == 4:
            x = x.unsqueeze(2)
        if x.shape[2] == 1:
            x = x.expand(-1, -1, self.frames, -1, -1)
        return x


class PatchStem(nn.Module):
    def __init__(self, proj: nn.Module, norm_layer: nn.Module | None = None):
        super().__init__()
        self.proj = proj
        self.norm_layer = norm_layer

    def forward(self, x):
        x = self.proj(x).flatten(2).transpose(1, 2)
        return self.norm_layer(x) if self.norm_layer is not None else x


class PositionEmbedding(nn.Module):
    def __init__(self, num_tokens: int, dim: int):
        super().__init__()
        self.pos_embed = nn.Parameter(torch.randn(1, num_tokens, dim) * dim**-0.5)


class PatchTokenizer(nn.Module):
    """Stem + [CLS] + learned positions (vision and audio preprocessors)."""

    def __init__(self, stem: PatchStem, num_patches: int, dim: int):
        super().__init__()
        self.rgbt_stem = stem
        self.cls_token = nn.Parameter(torch.randn(1, 1, dim) * dim**-0.5)
        self.pos_embedding_helper = PositionEmbedding(num_patches + 1, dim)

    def forward(self, x):
        tokens = self.rgbt_stem(x)
        tokens = torch.cat([self.cls_token.expand(tokens.shape[0], -1, -1), tokens], dim=1)
        pos = self.pos_embedding_helper.pos_embed
        if pos.shape[1] != tokens.shape[1]:
            raise ValueError(f"input gives {tokens.shape[1] - 1} patches, the model expects {pos.shape[1] - 1}")
        return tokens + pos


class TextTokenizer(nn.Module):
    def __init__(self, vocab: int, context: int, dim: int):
        super().__init__()
        self.token_embedding = nn.Embedding(vocab, dim)
        nn.init.normal_(self.token_embedding.weight, std=0.02)
        self.pos_embed = nn.Parameter(torch.randn(1, context, dim) * 0.01)
        self.register_buffer("mask", torch.full((context, context), float("-inf")).triu_(1))

    def forward(self, ids):
        return self.token_embedding(ids) + self.pos_embed


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))


class DropPath(nn.Module):
    """Stochastic depth (training only; the encoders are frozen in Reamo, so this is the identity there)."""

    def __init__(self, p: float):
        super().__init__()
        self.p = p

    def forward(self, x):
        if not self.training or self.p == 0.0:
            return x
        keep = torch.rand(x.shape[0], *([1] * (x.ndim - 1)), device=x.device) >= self.p
        return x * keep / (1 - self.p)


class Block(nn.Module):
    def __init__(self, dim: int, heads: int, add_bias_kv: bool, drop_path: float):
        super().__init__()
        self.attn = nn.MultiheadAttention(dim, heads, bias=True, add_bias_kv=add_bias_kv, batch_first=True)
        self.norm_1 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, 4 * dim)
        self.norm_2 = nn.LayerNorm(dim, eps=1e-6)
        self.drop_path = DropPath(drop_path)

    def forward(self, x, attn_mask=None):
        h = self.norm_1(x)
        x = x + self.drop_path(self.attn(h, h, h, need_weights=False, attn_mask=attn_mask)[0])
        return x + self.drop_path(self.mlp(self.norm_2(x)))


class Trunk(nn.Module):
    def __init__(self, dim: int, blocks: int, heads: int, pre_ln: bool, add_bias_kv: bool, drop_path: float):
        super().__init__()
        self.pre_transformer_layer = nn.Sequential(nn.LayerNorm(dim, eps=1e-6) if pre_ln else nn.Identity())
        rates = [drop_path * i / (blocks - 1) if blocks > 1 else 0.0 for i in range(blocks)]  # linspace(0, p)
        self.blocks = nn.Sequential(*[Block(dim, heads, add_bias_kv, r) for r in rates])
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, x, attn_mask=None):
        x = self.pre_transformer_layer(x)
        for blk in self.blocks:
            x = blk(x, attn_mask)
        return x


class SelectFirst(nn.Module):
    def forward(self, x):
        return x[:, 0]


class TextHead(nn.Module):
    """Pool at the end-of-text token (the highest id of each row, as in CLIP) and project."""

    def __init__(self, dim: int, out: int):
        super().__init__()
        self.proj = nn.Sequential(nn.LayerNorm(dim, eps=1e-6), nn.Linear(dim, out, bias=False))


class L2Normalize(nn.Module):
    def forward(self, x):
        return F.normalize(x, dim=-1, p=2)


class LogitScale(nn.Module):
    def __init__(self, init: float, learnable: bool, max_scale: float = 100.0):
        super().__init__()
        value = torch.tensor(math.log(init), dtype=torch.float32)
        self.max_scale = max_scale
        if learnable:
            self.log_logit_scale = nn.Parameter(value)
        else:
            self.register_buffer("log_logit_scale", value)

    def forward(self, x):
        return torch.clip(self.log_logit_scale.exp(), max=self.max_scale) * x


# ---- the model -------------------------------------------------------------------------------------------
class ImageBindModel(nn.Module):
    def __init__(self, cfg: ImageBindConfig):
        super().__init__()
        self.cfg = cfg
        pre, trunks, heads, post = {}, {}, {}, {}
        if "vision" in cfg.towers:
            d, p = cfg.vision_embed_dim, cfg.vision_patch
            kernel = (cfg.video_frames, p, p)
            conv = nn.Conv3d(3, d, kernel_size=kernel, stride=kernel, bias=False)
            n = (cfg.image_size // p) ** 2
            pre["vision"] = PatchTokenizer(PatchStem(nn.Sequential(RepeatFrames(cfg.video_frames), conv)), n, d)
            trunks["vision"] = Trunk(d, cfg.vision_num_blocks, cfg.vision_num_heads, True, False, 0.0)
            heads["vision"] = nn.Sequential(nn.LayerNorm(d, eps=1e-6), SelectFirst(), nn.Linear(d, cfg.out_embed_dim, bias=False))
            post["vision"] = L2Normalize()
        if "audio" in cfg.towers:
            d = cfg.audio_embed_dim
            conv = nn.Conv2d(1, d, kernel_size=cfg.audio_kernel, stride=cfg.audio_stride, bias=False)
            n = ((cfg.audio_num_mel_bins - cfg.audio_kernel) // cfg.audio_stride + 1) * \
                ((cfg.audio_target_len - cfg.audio_kernel) // cfg.audio_stride + 1)
            pre["audio"] = PatchTokenizer(PatchStem(conv, nn.LayerNorm(d)), n, d)
            trunks["audio"] = Trunk(d, cfg.audio_num_blocks, cfg.audio_num_heads, False, True, cfg.audio_drop_path)
            heads["audio"] = nn.Sequential(nn.LayerNorm(d, eps=1e-6), SelectFirst(), nn.Linear(d, cfg.out_embed_dim, bias=False))
            post["audio"] = nn.Sequential(L2Normalize(), LogitScale(20.0, learnable=False))
        if "text" in cfg.towers:
            d = cfg.text_embed_dim
            pre["text"] = TextTokenizer(cfg.text_vocab_size, cfg.text_context_length, d)
            trunks["text"] = Trunk(d, cfg.text_num_blocks, cfg.text_num_heads, False, False, 0.0)
            heads["text"] = TextHead(d, cfg.out_embed_dim)
            post["text"] = nn.Sequential(L2Normalize(), LogitScale(1 / 0.07, learnable=True))
        self.modality_preprocessors = nn.ModuleDict(pre)
        self.modality_trunks = nn.ModuleDict(trunks)
        self.modality_heads = nn.ModuleDict(heads)
        self.modality_postprocessors = nn.ModuleDict(post)

    def encode_tower(self, tower: str, x: torch.Tensor, with_tokens: bool = True) -> EncoderOutput:
        """x: vision [B,3,H,W] / [B,3,T,H,W] / clips [B,S,3,T,H,W]; audio [B,1,M,L] / clips [B,S,1,M,L];
        text ids [B, context]. Clip inputs are averaged after the postprocessor, as the official model does."""
        if tower not in self.modality_trunks:
            raise UnsupportedModalityError(tower, list(self.modality_trunks))
        clips = (tower == "vision" and x.ndim == 6) or (tower == "audio" and x.ndim == 5)
        b = x.shape[0]
        s = x.shape[1] if clips else 1
        if clips:
            x = x.reshape(b * s, *x.shape[2:])
        if tower == "text":
            tok = self.modality_preprocessors.text(x)
            h = self.modality_trunks.text(tok, attn_mask=self.modality_preprocessors.text.mask)
            eos = h[torch.arange(h.shape[0], device=h.device), x.argmax(dim=-1)]
            pooled = self.modality_heads.text.proj(eos)
            tokens = self.modality_heads.text.proj(h) if with_tokens else None
        else:
            h = self.modality_trunks[tower](self.modality_preprocessors[tower](x))
            head = self.modality_heads[tower]
            pooled = head(h)
            tokens = head[2](head[0](h[:, 1:])) if with_tokens else None
        pooled = self.modality_postprocessors[tower](pooled)
        if clips:
            pooled = pooled.reshape(b, s, -1).mean(dim=1)
            if tokens is not None:
                tokens = tokens.reshape(b, s * tokens.shape[1], -1)
        return EncoderOutput(pooled, tokens)


def load_imagebind_checkpoint(model: ImageBindModel, path: str | Path) -> list[str]:
    """Load a local imagebind checkpoint safely (weights_only / safetensors). Keys of towers we do not build
    (depth, thermal, imu, or any tower left out of the config) are dropped and returned; for the rest the
    load is strict: any missing or unexpected key raises CheckpointError naming them."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise CheckpointError(path, "ImageBind checkpoint not found")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            sd = load_file(str(path))
        except Exception as e:
            raise CheckpointError(path, f"unreadable safetensors file: {e}") from None
    else:
        try:
            sd = torch.load(str(path), map_location="cpu", weights_only=True)
        except Exception as e:  # pickled objects other than tensors are refused by weights_only
            raise CheckpointError(path, f"refused or unreadable checkpoint (only plain tensors load): {e}") from None
    if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise CheckpointError(path, "not a state dict of tensors")
    built = set(model.modality_trunks)
    dropped = [k for k in sd if k.split(".")[1] not in built]
    sd = {k: v for k, v in sd.items() if k.split(".")[1] in built}
    own = model.state_dict()
    missing = sorted(set(own) - set(sd))
    unexpected = sorted(set(sd) - set(own))
    wrong = sorted(k for k in set(sd) & set(own) if sd[k].shape != own[k].shape)
    if missing or unexpected or wrong:
        raise CheckpointError(path, f"does not match the configured ImageBind: missing {missing[:8]}, "
                                    f"unexpected {unexpected[:8]}, wrong shapes {wrong[:8]}")
    model.load_state_dict(sd, strict=True)
    return dropped


class ImageBindEncoder(nn.Module):
    """Frozen ImageBind for Reamo: `encode("image"|"video"|"audio"|"text", inputs) -> EncoderOutput`."""

    def __init__(self, cfg: ImageBindConfig, frozen: bool = True):
        super().__init__()
        self.cfg = cfg
        self.model = ImageBindModel(cfg)
        if cfg.checkpoint:
            load_imagebind_checkpoint(self.model, cfg.checkpoint)
        self.frozen = frozen
        if frozen:
            self.model.requires_grad_(False)
            self.model.eval()

    def train(self, mode: bool = True):
        super().train(mode)
        if self.frozen:
            self.model.eval()
        return self

    def encode(self, modality: str, x: torch.Tensor, with_tokens: bool = True) -> EncoderOutput:
        tower = MODALITY_TOWER.get(modality)
        if tower is None or tower not in self.model.modality_trunks:
            raise UnsupportedModalityError(modality, [m for m, t in MODALITY_TOWER.items() if t in self.model.modality_trunks])
        ref = next(self.model.modality_trunks[tower].parameters())
        x = x.to(ref.device, dtype=ref.dtype if x.is_floating_point() else None)
        return self.model.encode_tower(tower, x, with_tokens)
