"""Video grounding: the image head on sampled frames (batched), a per-frame presence score, one tracklet
per query (its per-frame masks in time order) and a time span from the frames where the item is present."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from grounding.config import VideoHeadConfig
from grounding.image import ImageFeatures, ImageHeadOutput, ImageSegmentationHead, dice_bce_loss
from grounding.types import VideoFrameGrounding, VideoGrounding


@dataclass
class VideoHeadOutput:
    frames: ImageHeadOutput  # one query per (query, frame) pair, query-major
    presence_logits: torch.Tensor  # [Q, F]
    num_frames: int


class VideoTrackingHead(nn.Module):
    """Presence: an MLP on the query and the frame's mean SAM embedding (explicit, trained with BCE)."""

    def __init__(self, cfg: VideoHeadConfig, image_head: ImageSegmentationHead, query_dim: int):
        super().__init__()
        self.cfg = cfg
        object.__setattr__(self, "_image_head", image_head)  # shared, not registered twice
        c = image_head.cfg.prompt_dim
        self.presence = nn.Sequential(nn.Linear(query_dim + c, c), nn.GELU(), nn.Linear(c, 1))

    @property
    def image_head(self) -> ImageSegmentationHead:
        return self._image_head

    def embed_frames(self, videos: list[np.ndarray]) -> tuple[ImageFeatures, list[int]]:
        """All frames of all videos through SAM's image encoder in one batch; returns offsets per video."""
        frames = [f for v in videos for f in v]
        offsets = np.cumsum([0] + [len(v) for v in videos]).tolist()
        return self.image_head.embed_images(frames), offsets

    def forward(self, features: ImageFeatures, frame_ranges: list[tuple[int, int]], queries: torch.Tensor) -> VideoHeadOutput:
        """frame_ranges[q] = (first, end) frame indices in `features` of query q's video (all equal length)."""
        n = frame_ranges[0][1] - frame_ranges[0][0]
        idx = torch.tensor([i for a, b in frame_ranges for i in range(a, b)], device=queries.device)
        rep = queries.repeat_interleave(n, dim=0)
        frames_out = self.image_head(features, idx, rep)
        pooled = features.embeddings[idx].mean(dim=(-1, -2)).to(rep.dtype)
        presence = self.presence(torch.cat([rep, pooled], dim=-1)).view(len(frame_ranges), n)
        return VideoHeadOutput(frames_out, presence, n)

    def loss(self, out: VideoHeadOutput, gt_masks: list[list[np.ndarray]], gt_presence: torch.Tensor) -> torch.Tensor:
        """Mask loss on frames where the item is present, plus presence BCE."""
        flat_masks, flat_q = [], []
        for q, masks in enumerate(gt_masks):
            for f, m in enumerate(masks):
                if gt_presence[q, f] > 0:
                    flat_q.append(q * out.num_frames + f)
                    flat_masks.append(m)
        pres = F.binary_cross_entropy_with_logits(out.presence_logits.float(),
                                                  gt_presence.float().to(out.presence_logits.device))
        if not flat_q:
            return pres
        cfg = self.image_head.cfg
        mask_losses = [dice_bce_loss(out.frames.mask_logits(k), torch.as_tensor(m, device=pres.device),
                                     cfg.bce_weight, cfg.dice_weight) for k, m in zip(flat_q, flat_masks)]
        return torch.stack(mask_losses).mean() + pres

    @torch.no_grad()
    def predict(self, out: VideoHeadOutput, timestamps: list[np.ndarray], frame_interval: list[float]) -> list[VideoGrounding]:
        res = []
        probs = out.presence_logits.float().sigmoid().cpu().numpy()
        grounds = self.image_head.predict(out.frames)
        for q in range(probs.shape[0]):
            frames, present = [], []
            for f in range(out.num_frames):
                g = grounds[q * out.num_frames + f]
                ok = probs[q, f] >= self.cfg.presence_threshold and g.mask.any()
                if ok:
                    frames.append(VideoFrameGrounding(float(timestamps[q][f]), g.mask, float(probs[q, f]), g.box))
                    present.append(float(timestamps[q][f]))
            span = [min(present), max(present) + frame_interval[q]] if present else None
            res.append(VideoGrounding(span, frames))
        return res
