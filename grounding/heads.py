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

import torch
from torch import nn

from grounding.audio import AudioSegmentationHead
from grounding.config import GroundingConfig
from grounding.image import ImageSegmentationHead
from grounding.types import GroundingFailure
from grounding.video import VideoTrackingHead
from reamo.formats import MODALITY_OF as MODULES  # module name -> modality (one definition, in the format module)
from reamo.formats import MODULE_OF as MODALITY_MODULE  # noqa: F401  (re-exported: modality -> module name)


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
    counts: dict = field(default_factory=dict)


class GroundingHeads(nn.Module):
    def __init__(self, cfg: GroundingConfig, query_dim: int):
        super().__init__()
        self.cfg = cfg
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
            for i, g in zip(groups["video"], self.video.predict(out, ts, step)):
                results[i] = g
        return [results[i] for i in range(len(requests))]

    def losses(self, requests: list[GroundingRequest]) -> GroundingLosses:
        """Training losses of requests with targets (requests without a runnable head are skipped)."""
        groups, _ = self._groups(requests)
        res = GroundingLosses(counts={k: len(v) for k, v in groups.items()})
        mask_terms = []
        if groups["image"]:
            out = self._run_image(requests, groups["image"])
            mask_terms.append(self.image.loss(out, [requests[i].target for i in groups["image"]]))
        if groups["video"]:
            out, _ = self._run_video(requests, groups["video"])
            masks = [requests[i].target[0] for i in groups["video"]]
            presence = torch.stack([torch.as_tensor(requests[i].target[1], dtype=torch.float32) for i in groups["video"]])
            mask_terms.append(self.video.loss(out, masks, presence.to(out.presence_logits.device)))
        if mask_terms:
            res.mask = torch.stack(mask_terms).mean()
        if groups["audio"]:
            logits, mask = self._run_audio(requests, groups["audio"])
            target = self.audio.targets_from_spans([requests[i].target for i in groups["audio"]], logits.shape[1])
            res.span = self.audio.loss(logits, target.to(logits.device), mask)
        return res

