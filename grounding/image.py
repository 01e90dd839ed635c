"""Image grounding, SEEM/LISA-style, on the official segment-anything modules.

The query (an LLM hidden state, layer-normalised) is projected into `num_query_tokens` prompt tokens that join
SAM's sparse prompt embeddings, and into a vector added to SAM's dense prompt embedding (so every location of
the image embedding is conditioned on it); SAM's mask decoder is called directly (`Sam.forward` runs under no_grad). SAM's image
encoder stays frozen; the mask decoder and the query projection train.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from grounding.config import ImageHeadConfig
from grounding.types import ImageGrounding
from reamo.errors import CheckpointError

PIXEL_MEAN = (123.675, 116.28, 103.53)
PIXEL_STD = (58.395, 57.12, 57.375)


def build_sam_parts(cfg: ImageHeadConfig):
    """(image_encoder, prompt_encoder, mask_decoder) of SAM, from SAM's own classes."""
    from segment_anything.modeling import ImageEncoderViT, MaskDecoder, PromptEncoder, TwoWayTransformer

    if cfg.sam == "tiny":
        grid = cfg.image_size // 16
        enc = ImageEncoderViT(img_size=cfg.image_size, patch_size=16, embed_dim=cfg.tiny_embed_dim, depth=cfg.tiny_depth,
                              num_heads=cfg.tiny_heads, out_chans=cfg.prompt_dim, use_rel_pos=False, window_size=0)
        pe = PromptEncoder(embed_dim=cfg.prompt_dim, image_embedding_size=(grid, grid),
                           input_image_size=(cfg.image_size, cfg.image_size), mask_in_chans=4)
        dec = MaskDecoder(transformer_dim=cfg.prompt_dim, num_multimask_outputs=3, iou_head_depth=2,
                          iou_head_hidden_dim=cfg.prompt_dim,
                          transformer=TwoWayTransformer(depth=1, embedding_dim=cfg.prompt_dim, num_heads=2,
                                                        mlp_dim=2 * cfg.prompt_dim))
        return enc, pe, dec
    from segment_anything import sam_model_registry

    sam = sam_model_registry[cfg.sam](checkpoint=None)
    if cfg.checkpoint:
        load_sam_checkpoint(sam, cfg.checkpoint)
    return sam.image_encoder, sam.prompt_encoder, sam.mask_decoder


def load_sam_checkpoint(sam: nn.Module, path: str | Path) -> None:
    """Load a local SAM checkpoint with weights_only=True and strict key checking."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise CheckpointError(path, "SAM checkpoint not found")
    try:
        sd = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as e:
        raise CheckpointError(path, f"refused or unreadable SAM checkpoint (only plain tensors load): {e}") from None
    missing, unexpected = sam.load_state_dict(sd, strict=False)
    if missing or unexpected:
        raise CheckpointError(path, f"does not match SAM {type(sam).__name__}: missing {list(missing)[:8]}, "
                                    f"unexpected {list(unexpected)[:8]}")


@dataclass
class ImageFeatures:
    embeddings: torch.Tensor  # [N, C, h, w]
    input_sizes: list[tuple[int, int]]  # size after the longest-side resize (before padding)
    original_sizes: list[tuple[int, int]]


@dataclass
class ImageHeadOutput:
    low_res_logits: torch.Tensor  # [Q, 4h, 4w]
    iou_logits: torch.Tensor  # [Q]
    image_index: torch.Tensor  # [Q]
    features: ImageFeatures

    def mask_logits(self, q: int) -> torch.Tensor:
        """Query q's mask logits at its image's original size [H, W]."""
        i = int(self.image_index[q])
        return upscale_logits(self.low_res_logits[q], self.features.input_sizes[i], self.features.original_sizes[i],
                              self.features.embeddings.shape[-1] * 16)


def upscale_logits(low: torch.Tensor, input_size, original_size, img_size: int) -> torch.Tensor:
    """SAM's postprocess: to the padded input size, crop the padding, resize to the original size."""
    x = F.interpolate(low[None, None], (img_size, img_size), mode="bilinear", align_corners=False)
    x = x[..., : input_size[0], : input_size[1]]
    return F.interpolate(x, tuple(original_size), mode="bilinear", align_corners=False)[0, 0]


def dice_bce_loss(logits: torch.Tensor, target: torch.Tensor, bce_w: float, dice_w: float) -> torch.Tensor:
    """LISA's mask loss for one mask: per-pixel BCE * bce_w + dice * dice_w, in float32 (a bf16 sum over
    thousands of pixels loses the small differences the loss is made of)."""
    logits, target = logits.float(), target.float()
    bce = F.binary_cross_entropy_with_logits(logits, target)
    p = logits.sigmoid().flatten()
    t = target.flatten()
    dice = 1 - (2 * (p * t).sum() + 1) / (p.sum() + t.sum() + 1)
    return bce_w * bce + dice_w * dice


class ImageSegmentationHead(nn.Module):
    def __init__(self, cfg: ImageHeadConfig, query_dim: int):
        super().__init__()
        self.cfg = cfg
        self.image_encoder, self.prompt_encoder, self.mask_decoder = build_sam_parts(cfg)
        self.image_encoder.requires_grad_(False)
        self.prompt_encoder.requires_grad_(False)
        self.mask_decoder.requires_grad_(cfg.train_mask_decoder)
        # An LLM's last hidden state has a few very large dimensions (SmolLM2: ~25 against ~1): normalise first
        self.query_norm = nn.LayerNorm(query_dim)
        self.query_proj = nn.Sequential(nn.Linear(query_dim, query_dim), nn.GELU(),
                                        nn.Linear(query_dim, cfg.prompt_dim * cfg.num_query_tokens))
        # The query also enters SAM's dense prompt (added to the image embedding at every location), so each
        # pixel's features see which item is asked for, not only the decoder's few tokens. Zero at the start:
        # SAM's own no-mask embedding is unchanged until training moves it.
        self.query_dense = nn.Linear(query_dim, cfg.prompt_dim)
        nn.init.zeros_(self.query_dense.weight)
        nn.init.zeros_(self.query_dense.bias)
        self.register_buffer("pixel_mean", torch.tensor(PIXEL_MEAN).view(3, 1, 1), persistent=False)
        self.register_buffer("pixel_std", torch.tensor(PIXEL_STD).view(3, 1, 1), persistent=False)

    def _apply(self, fn, recurse=True):
        """Module.to/bfloat16/...: SAM's positional encoding multiplies a float32 grid by its Gaussian matrix,
        so that matrix stays float32 in a bf16 or fp16 model (its output is cast where it is used)."""
        super()._apply(fn, recurse)
        pe = self.prompt_encoder.pe_layer
        if pe.positional_encoding_gaussian_matrix.dtype != torch.float32:
            pe.positional_encoding_gaussian_matrix = pe.positional_encoding_gaussian_matrix.float()
        return self

    def frozen_prefixes(self) -> tuple[str, ...]:
        return ("image_encoder.", "prompt_encoder.") + (() if self.cfg.train_mask_decoder else ("mask_decoder.",))

    def preprocess(self, rgb: np.ndarray) -> tuple[torch.Tensor, tuple[int, int]]:
        """SAM preprocessing: longest side to image_size, pixel normalisation, pad to a square."""
        from segment_anything.utils.transforms import ResizeLongestSide

        resized = ResizeLongestSide(self.cfg.image_size).apply_image(rgb)
        x = torch.as_tensor(resized, device=self.pixel_mean.device).permute(2, 0, 1).float()
        x = (x - self.pixel_mean) / self.pixel_std
        h, w = x.shape[-2:]
        return F.pad(x, (0, self.cfg.image_size - w, 0, self.cfg.image_size - h)), (h, w)

    @torch.no_grad()
    def embed_images(self, images: list[np.ndarray]) -> ImageFeatures:
        pre = [self.preprocess(im) for im in images]
        batch = torch.stack([p[0] for p in pre])
        emb = self.image_encoder(batch.to(next(self.image_encoder.parameters()).dtype))
        return ImageFeatures(emb, [p[1] for p in pre], [tuple(im.shape[:2]) for im in images])

    def forward(self, features: ImageFeatures, image_index: torch.Tensor, queries: torch.Tensor) -> ImageHeadOutput:
        q = queries.shape[0]
        queries = self.query_norm(queries.to(self.query_proj[0].weight.dtype))
        tokens = self.query_proj(queries).view(q, self.cfg.num_query_tokens, -1)
        dense_q = self.query_dense(queries)[:, :, None, None]  # [Q, C, 1, 1]
        sparse0, dense0 = self.prompt_encoder(points=None, boxes=None, masks=None)
        # SAM makes its empty sparse prompt in the default dtype (float32): in a bf16 model it would promote
        # the decoder's tokens to float32 and the decoder's bf16 weights would refuse them
        sparse0, dense0 = sparse0.to(tokens.dtype), dense0.to(tokens.dtype)
        image_index = torch.as_tensor(image_index, device=queries.device)
        # One decoder call for every query of every image: SAM's decoder adds the dense prompt to the image
        # embedding it repeats per prompt, so a zero image embedding with each query's own image embedding in
        # its dense prompt is the same sum. (A call per image would run the decoder a different number of times
        # on different ranks, which DeepSpeed ZeRO-3 cannot gather parameters for.)
        emb = features.embeddings.to(tokens.dtype)
        sparse = torch.cat([sparse0.expand(q, -1, -1), tokens], dim=1)
        masks, iou_pred = self.mask_decoder(
            image_embeddings=torch.zeros_like(emb[:1]), image_pe=self.prompt_encoder.get_dense_pe().to(tokens.dtype),
            sparse_prompt_embeddings=sparse, dense_prompt_embeddings=emb[image_index] + (dense0 + dense_q),
            multimask_output=False)
        low, iou = masks[:, 0], iou_pred[:, 0]
        return ImageHeadOutput(low, iou, image_index, features)

    def loss(self, out: ImageHeadOutput, gt_masks: list[torch.Tensor]) -> torch.Tensor:
        """Mean over queries of BCE*w + dice*w at the original image size."""
        losses = [dice_bce_loss(out.mask_logits(q), torch.as_tensor(gt_masks[q], device=out.low_res_logits.device),
                                self.cfg.bce_weight, self.cfg.dice_weight) for q in range(len(gt_masks))]
        return torch.stack(losses).mean()

    @torch.no_grad()
    def predict(self, out: ImageHeadOutput) -> list[ImageGrounding]:
        res = []
        for q in range(out.low_res_logits.shape[0]):
            logits = out.mask_logits(q)
            mask = (logits > 0).cpu().numpy()
            score = float(logits.sigmoid()[logits > 0].mean()) if mask.any() else float(logits.sigmoid().max())
            res.append(ImageGrounding(mask, score))
        return res
