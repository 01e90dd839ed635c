"""The grounding heads behind one interface, and the dispatch from parsed instructions.

Every instruction of a meta-response becomes a `GroundingRequest` (module name, query vector = the LLM
hidden state of its `</Instruction>` token, and the media it refers to). `GroundingHeads.ground` runs all
requests, grouped per head and batched, and returns one result per request in order; a request that cannot
run (module not enabled, media absent) gets a `GroundingFailure` instead of stopping the others.
`GroundingHeads.losses` does the same with gold targets for training.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from grounding.audio import AudioSegmentationHead
from grounding.config import GroundingConfig
from grounding.image import ImageSegmentationHead
from grounding.types import GroundingFailure
from grounding.video import VideoTrackingHead
from reamo.records.formats import MODALITY_OF as MODULES  # module name -> modality (one definition, in the format module)
from reamo.records.formats import MODULE_OF as MODALITY_MODULE  # noqa: F401  (re-exported: modality -> module name)


@dataclass
class GroundingRequest:
    module: str
    query: torch.Tensor  # [query_dim]
    media: Any  # image: HxWx3 uint8; audio: fbank frames [T, mel]; video: VideoFrames
    media_key: Any = None  # requests with the same key share one media embedding
    target: Any = None  # training: image mask HxW; audio spans [[s, e]]; video (masks [F], presence [F])


@dataclass
class GroundingLosses:
    mask: torch.Tensor | None = None
    span: torch.Tensor | None = None
    idle: torch.Tensor | None = None  # heads run on stand-in inputs (all_heads), times 0: in the graph, worth 0
    counts: dict = field(default_factory=dict)


class GroundingHeads(nn.Module):
    def __init__(self, cfg: GroundingConfig, query_dim: int):
        super().__init__()
        self.cfg = cfg
        self.query_dim = query_dim
        self.image = ImageSegmentationHead(cfg.image, query_dim) if "image" in cfg.heads else None
        self.audio = AudioSegmentationHead(cfg.audio, query_dim) if "audio" in cfg.heads else None
        self.video = VideoTrackingHead(cfg.video, self.image, query_dim) if "video" in cfg.heads else None

    def enabled(self, module: str) -> bool:
        return getattr(self, MODULES.get(module, "_none"), None) is not None

    # ---- parameters and checkpoints ------------------------------------------------------------------
    def frozen_parameter_names(self) -> list[str]:
        if self.image is None:
            return []
        pre = tuple(f"image.{p}" for p in self.image.frozen_prefixes())
        return [n for n, _ in self.named_parameters() if n.startswith(pre)]

    def checkpoint_state_dict(self) -> dict:
        """Everything but a SAM image encoder that came from a checkpoint (it is referenced by path)."""
        sd = self.state_dict()
        if self.image is not None and self.cfg.image.checkpoint:
            sd = {k: v for k, v in sd.items() if not k.startswith("image.image_encoder.")}
        return sd

    def load_checkpoint_state_dict(self, sd: dict) -> None:
        from reamo.errors import CheckpointError

        missing, unexpected = self.load_state_dict(sd, strict=False)
        if self.image is not None and self.cfg.image.checkpoint:
            missing = [k for k in missing if not k.startswith("image.image_encoder.")]
        if missing or unexpected:
            raise CheckpointError("heads", f"missing keys {list(missing)[:5]}, unexpected keys {list(unexpected)[:5]}")

    # ---- running requests ------------------------------------------------------------------------------
    def _groups(self, requests: list[GroundingRequest]):
        groups: dict[str, list[int]] = {"image": [], "audio": [], "video": []}
        failures: dict[int, GroundingFailure] = {}
        for i, r in enumerate(requests):
            kind = MODULES.get(r.module)
            if kind is None:
                failures[i] = GroundingFailure(r.module, "unknown module")
            elif getattr(self, kind) is None:
                failures[i] = GroundingFailure(r.module, "this model has no such grounding head")
            elif r.media is None:
                failures[i] = GroundingFailure(r.module, f"the input has no {kind}")
            else:
                groups[kind].append(i)
        return groups, failures

    @staticmethod
    def _unique_media(requests, idx):
        keys, media, which = {}, [], []
        for i in idx:
            k = requests[i].media_key if requests[i].media_key is not None else ("req", i)
            if k not in keys:
                keys[k] = len(media)
                media.append(requests[i].media)
            which.append(keys[k])
        return media, which

    def _run_image(self, requests, idx):
        media, which = self._unique_media(requests, idx)
        feats = self.image.embed_images(media)
        q = torch.stack([requests[i].query for i in idx])
        return self.image(feats, torch.tensor(which, device=q.device), q)

    def _run_audio(self, requests, idx):
        frames = [torch.as_tensor(requests[i].media) for i in idx]
        t = max(f.shape[0] for f in frames)
        q = torch.stack([requests[i].query for i in idx])
        x = torch.zeros(len(frames), t, frames[0].shape[1], device=q.device)
        m = torch.zeros(len(frames), t, dtype=torch.bool, device=q.device)
        for j, f in enumerate(frames):
            x[j, : f.shape[0]] = f.to(q.device)
            m[j, : f.shape[0]] = True
        logits = self.audio(x, m, q)
        return logits, self.audio.downsample(x, m)[1]

    def _long_audio(self, media) -> bool:
        """Audio longer than one inference window, or streamed from its file (encoders.preprocess.AudioStream)."""
        return hasattr(media, "fbank_windows") or torch.as_tensor(media).shape[0] > self.audio.window_frames

    def _audio_windows(self, media):
        n = self.audio.window_frames
        if hasattr(media, "fbank_windows"):
            return media.fbank_windows(n, self.audio.cfg.mel_bins)
        return torch.as_tensor(media).split(n)

    def _run_video(self, requests, idx):
        media, which = self._unique_media(requests, idx)
        feats, offsets = self.video.embed_frames([v.frames for v in media])
        ranges = [(offsets[w], offsets[w + 1]) for w in which]
        q = torch.stack([requests[i].query for i in idx])
        return self.video(feats, ranges, q), [media[w] for w in which]

    @torch.no_grad()
    def ground(self, requests: list[GroundingRequest]) -> list:
        groups, results = self._groups(requests)
        if groups["image"]:
            out = self._run_image(requests, groups["image"])
            for i, g in zip(groups["image"], self.image.predict(out)):
                results[i] = g
        if groups["audio"]:
            short = [i for i in groups["audio"] if not self._long_audio(requests[i].media)]
            for i in groups["audio"]:
                if i not in short:
                    results[i] = self.audio.predict_windows(self._audio_windows(requests[i].media), requests[i].query)
            if short:
                logits, mask = self._run_audio(requests, short)
                for i, g in zip(short, self.audio.predict(logits, mask)):
                    results[i] = g
        if groups["video"]:
            out, vids = self._run_video(requests, groups["video"])
            ts = [v.timestamps for v in vids]
            step = [float(v.duration / max(1, len(v.timestamps))) for v in vids]
            for i, g, v in zip(groups["video"], self.video.predict(out, ts, step), vids):
                g.fps, g.duration = (float(v.fps) if v.fps else None), float(v.duration)  # for exports' frame numbers
                results[i] = g
        return [results[i] for i in range(len(requests))]

    def forward(self, queries: torch.Tensor, requests: list[GroundingRequest], all_heads: bool = False) -> torch.Tensor:
        """Training: the mask, span and idle losses of `losses` as one tensor [3] (0 where there is none). `queries` [len(requests) + 1, D]:
        request i's query in row i, the stand-ins' query (a zero row of the same graph) last.

        Training calls the heads through here, as one module: DeepSpeed ZeRO-3 treats GroundingHeads as a leaf
        (deepspeed.utils.set_z3_leaf_modules in training.engine) and gathers all its parameters at once, in
        forward and in backward, so that the order in which a rank's own requests use the heads' parts need
        not match the other ranks'. The queries enter as one tensor argument because ZeRO-3 reduces a leaf's
        gradients when the gradient of its tensor inputs is complete: with none, that would be before its
        backward ran."""
        for r, q in zip(requests, queries):
            r.query = q
        g = self._losses(requests, all_heads, queries[-1:])
        # one tensor, whatever this rank's requests hold (ZeRO-3 counts a module's outputs in its trace)
        nothing = queries[-1].sum() * 0.0
        return torch.stack([nothing if t is None else t.float() for t in (g.mask, g.span, g.idle)])

    def losses(self, requests: list[GroundingRequest], all_heads: bool = False,
               queries: torch.Tensor | None = None) -> GroundingLosses:
        """Training losses of requests with targets (see `_losses`), through `forward`. `queries`: as `forward`
        takes them; by default the requests' own queries and a zero row."""
        if queries is None:
            p = next(self.parameters())
            queries = torch.cat([torch.stack([r.query for r in requests]).to(p.dtype) if requests else
                                 torch.zeros(0, self.query_dim, device=p.device, dtype=p.dtype),
                                 torch.zeros(1, self.query_dim, device=p.device, dtype=p.dtype)])
        mask, span, idle = self(queries, requests, all_heads)
        groups, _ = self._groups(requests)
        return GroundingLosses(mask if groups["image"] or groups["video"] else None, span if groups["audio"] else None,
                               idle, counts={k: len(v) for k, v in groups.items()})

    def _losses(self, requests: list[GroundingRequest], all_heads: bool, stand_in_query: torch.Tensor) -> GroundingLosses:
        """Training losses of requests with targets (requests without a runnable head are skipped).

        `all_heads`: a head that no request uses runs on a stand-in request (zero features, zero query) whose
        loss enters `idle` times 0, so each step runs every enabled head once and gives every trainable head
        parameter a gradient, on every rank alike (DeepSpeed ZeRO reduces the same gradients on every rank;
        ZeRO-3 gathers the same parameters). The stand-ins skip the frozen image encoder (their features are
        zeros), so they cost a decoder pass, not an encoder pass."""
        groups, _ = self._groups(requests)
        res = GroundingLosses(counts={k: len(v) for k, v in groups.items()})
        mask_terms, idle = [], []
        if groups["image"]:
            out = self._run_image(requests, groups["image"])
            mask_terms.append(self.image.loss(out, [requests[i].target for i in groups["image"]]))
        elif all_heads and self.image is not None:
            feats, target = self._stand_in_image(1, stand_in_query)
            out = self.image(feats, torch.zeros(1, dtype=torch.long), stand_in_query)
            idle.append(self.image.loss(out, target))
        if groups["video"]:
            out, _ = self._run_video(requests, groups["video"])
            masks = [requests[i].target[0] for i in groups["video"]]
            presence = torch.stack([torch.as_tensor(requests[i].target[1], dtype=torch.float32) for i in groups["video"]])
            mask_terms.append(self.video.loss(out, masks, presence.to(out.presence_logits.device)))
        elif all_heads and self.video is not None:
            feats, target = self._stand_in_image(2, stand_in_query)
            out = self.video(feats, [(0, 2)], stand_in_query)
            idle.append(self.video.loss(out, [target], torch.tensor([[1.0, 0.0]])))
        if mask_terms:
            res.mask = torch.stack(mask_terms).mean()
        if groups["audio"]:
            logits, mask = self._run_audio(requests, groups["audio"])
            target = self.audio.targets_from_spans([requests[i].target for i in groups["audio"]], logits.shape[1])
            res.span = self.audio.loss(logits, target.to(logits.device), mask)
        elif all_heads and self.audio is not None:
            device = stand_in_query.device
            frames = torch.zeros(1, 4 * self.audio.cfg.downsample, self.audio.cfg.mel_bins, device=device)
            m = torch.ones(frames.shape[:2], dtype=torch.bool, device=device)
            logits = self.audio(frames, m, stand_in_query)
            idle.append(self.audio.loss(logits, torch.zeros_like(logits), self.audio.downsample(frames, m)[1]))
        if idle:
            res.idle = 0.0 * torch.stack([t.float() for t in idle]).sum()
        return res

    def _stand_in_image(self, n: int, q: torch.Tensor):
        """n zero image embeddings (SAM's grid, on q's device and dtype) and an all-zero 16x16 target mask each."""
        from grounding.image import ImageFeatures

        grid = self.image.prompt_encoder.image_embedding_size
        emb = torch.zeros(n, self.image.cfg.prompt_dim, *grid, device=q.device, dtype=q.dtype)
        size = self.image.cfg.image_size
        feats = ImageFeatures(emb, [(size, size)] * n, [(16, 16)] * n)
        return feats, [np.zeros((16, 16), bool)] * n
