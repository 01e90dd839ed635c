"""Grounding heads: each learns a toy target (loss drops), pDAC, dispatch, SAM checkpoints."""
import numpy as np
import pytest
import torch

from encoders.preprocess import VideoFrames
from grounding import (AudioHeadConfig, GroundingConfig, GroundingHeads, GroundingRequest, ImageHeadConfig,
                       VideoHeadConfig)
from grounding.audio import AudioSegmentationHead, pdac
from grounding.image import ImageSegmentationHead, build_sam_parts, load_sam_checkpoint
from reamo.errors import CheckpointError

QD = 16


def disk_image(cx, cy, r=10, size=48, colour=(220, 40, 40)):
    yy, xx = np.mgrid[:size, :size]
    mask = (xx - cx) ** 2 + (yy - cy) ** 2 <= r * r
    img = np.full((size, size, 3), 30, np.uint8)
    img[mask] = colour
    return img, mask


def train(params, step_fn, steps, lr=3e-3):
    opt = torch.optim.Adam(params, lr=lr)
    losses = []
    for _ in range(steps):
        loss = step_fn()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def test_image_head_learns_to_segment_a_disk():
    torch.manual_seed(0)
    head = ImageSegmentationHead(ImageHeadConfig(image_size=64), QD)
    imgs, masks = zip(*[disk_image(14 + 6 * i, 30) for i in range(3)])
    feats = head.embed_images(list(imgs))
    q = torch.nn.Parameter(torch.randn(3, QD))
    trainable = [p for p in head.parameters() if p.requires_grad] + [q]
    assert not any(p.requires_grad for p in head.image_encoder.parameters())
    losses = train(trainable, lambda: head.loss(head(feats, torch.arange(3), q), [torch.as_tensor(m) for m in masks]), 60)
    assert losses[-1] < 0.6 * losses[0], losses[::10]
    pred = head.predict(head(feats, torch.arange(3), q))
    assert pred[0].mask.shape == (48, 48)
    inter = (pred[0].mask & masks[0]).sum() / max(1, (pred[0].mask | masks[0]).sum())
    assert inter > 0.5 and pred[0].box is not None


def test_image_head_runs_in_bf16_with_float32_losses():
    """A bf16 model (DeepSpeed's bf16 mode, GPU or CPU): SAM's empty prompt is made in float32 and used to
    promote the decoder's tokens; the head casts it, and its loss is computed in float32."""
    torch.manual_seed(0)
    head = ImageSegmentationHead(ImageHeadConfig(image_size=64), QD).to(torch.bfloat16)
    img, mask = disk_image(20, 24)
    feats = head.embed_images([img])
    out = head(feats, torch.arange(1), torch.randn(1, QD, dtype=torch.bfloat16))
    assert out.low_res_logits.dtype == torch.bfloat16
    loss = head.loss(out, [torch.as_tensor(mask)])
    assert loss.dtype == torch.float32 and torch.isfinite(loss)
    loss.backward()
    assert head.query_proj[0].weight.grad is not None


def test_pdac_splits_at_minimum_respects_max_length_and_drops_low():
    p = np.array([0.1, 0.9, 0.9, 0.6, 0.95, 0.9, 0.1, 0.2, 0.1, 0.8, 0.1])
    assert pdac(p, max_len=10, threshold=0.5) == [(1, 6), (9, 10)]
    assert pdac(p, max_len=3, threshold=0.5) == [(1, 3), (4, 6), (9, 10)]  # split at the 0.6 minimum
    assert pdac(p, max_len=10, threshold=0.5, min_len=2) == [(1, 6)]
    assert pdac(np.zeros(5), 3, 0.5) == []
    long = np.full(100, 0.9)
    segs = pdac(long, max_len=30, threshold=0.5)
    assert all(b - a <= 30 for a, b in segs) and sum(b - a for a, b in segs) >= 96


def test_audio_head_learns_query_conditioned_frames():
    torch.manual_seed(0)
    head = AudioSegmentationHead(AudioHeadConfig(width=32, layers=1, heads=2), QD)
    t = 200  # 2 s of fbank frames
    frames = torch.randn(2, t, 128) * 0.1
    frames[:, 40:100, :64] += 2.0  # sound A: low bands, 0.4-1.0 s
    frames[:, 120:180, 64:] += 2.0  # sound B: high bands, 1.2-1.8 s
    mask = torch.ones(2, t, dtype=torch.bool)
    q = torch.nn.Parameter(torch.randn(2, QD))
    spans = [[[0.4, 1.0]], [[1.2, 1.8]]]
    target = head.targets_from_spans(spans, t // 4)
    m4 = head.downsample(frames, mask)[1]
    losses = train(list(head.parameters()) + [q], lambda: head.loss(head(frames, mask, q), target, m4), 80)
    assert losses[-1] < 0.5 * losses[0], losses[::10]
    pred = head.predict(head(frames, mask, q), m4)
    (a, b), = pred[0].spans
    assert abs(a - 0.4) < 0.15 and abs(b - 1.0) < 0.15
    assert pred[1].spans and abs(pred[1].spans[0][0] - 1.2) < 0.15


def test_video_head_tracks_a_moving_disk_and_finds_its_span():
    torch.manual_seed(0)
    heads = GroundingHeads(GroundingConfig(heads=["image", "video"], image=ImageHeadConfig(image_size=64),
                                           video=VideoHeadConfig(num_frames=6)), QD)
    frames, masks, present = [], [], []
    for f in range(6):
        on = 1 <= f <= 4
        img, m = disk_image(10 + 6 * f, 24) if on else (np.full((48, 48, 3), 30, np.uint8), np.zeros((48, 48), bool))
        frames.append(img), masks.append(m), present.append(float(on))
    video = VideoFrames(np.stack(frames), np.arange(6) * 0.5, 3.0, 2.0)
    q = torch.nn.Parameter(torch.randn(QD))

    def step():
        req = GroundingRequest("VideoTracking", q, video, target=(masks, present))
        return heads.losses([req]).mask

    losses = train([p for p in heads.parameters() if p.requires_grad] + [q], step, 60)
    assert losses[-1] < 0.6 * losses[0], losses[::10]
    g, = heads.ground([GroundingRequest("VideoTracking", q.detach(), video)])
    assert g.span is not None and abs(g.span[0] - 0.5) <= 0.5 and abs(g.span[1] - 2.5) <= 0.5
    assert len(g.frames) >= 3 and g.to_dict()["frames"][0]["mask_rle"]["size"] == [48, 48]


def test_dispatch_runs_every_instruction_and_reports_failures():
    heads = GroundingHeads(GroundingConfig(heads=["image", "audio"], image=ImageHeadConfig(image_size=64),
                                           audio=AudioHeadConfig(width=32, layers=1, heads=2)), QD)
    img, _ = disk_image(20, 20)
    reqs = [GroundingRequest("ImageSegmentation", torch.randn(QD), img, media_key=0),
            GroundingRequest("VideoTracking", torch.randn(QD), None),
            GroundingRequest("AudioSegmentation", torch.randn(QD), torch.randn(300, 128)),
            GroundingRequest("ImageSegmentation", torch.randn(QD), img, media_key=0),
            GroundingRequest("AudioSegmentation", torch.randn(QD), None),
            GroundingRequest("Bogus", torch.randn(QD), img)]
    out = heads.ground(reqs)
    kinds = [type(o).__name__ for o in out]
    assert kinds == ["ImageGrounding", "GroundingFailure", "AudioGrounding", "ImageGrounding", "GroundingFailure",
                     "GroundingFailure"]
    assert "no such grounding head" in out[1].problem and "no audio" in out[4].problem


def test_sam_vit_b_builds_and_checkpoint_loading_is_strict(tmp_path):
    from accelerate import init_empty_weights
    from segment_anything import sam_model_registry

    with init_empty_weights():
        enc, pe, dec = build_sam_parts(ImageHeadConfig(sam="vit_b", image_size=1024, prompt_dim=256))
    n = sum(p.numel() for m in (enc, pe, dec) for p in m.parameters())
    assert 90e6 < n < 95e6  # SAM vit_b: 93.7 M
    tiny = build_sam_parts(ImageHeadConfig())
    sam = torch.nn.Module()
    sam.image_encoder, sam.prompt_encoder, sam.mask_decoder = tiny
    sd = sam.state_dict()
    sd.pop("mask_decoder.iou_token.weight")
    torch.save(sd, tmp_path / "sam.pth")
    with pytest.raises(CheckpointError, match="iou_token"):
        load_sam_checkpoint(sam, tmp_path / "sam.pth")
    assert sam_model_registry  # the registry builders are what vit_b/l/h use
