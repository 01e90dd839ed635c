"""Pictures of extraction results: masks and boxes over the image, the waveform with grounded spans, and a
strip of video frames with the tracklet; the extracted tuples as text.

Every grounding is labelled with the extracted item it belongs to (the entity's name, the trigger or the
argument), not with the instruction phrase, and each item keeps one colour across image, audio and video.

    draw_result(result, "r.png")     # everything in one figure (CLI --viz, quickstart pictures)
    image_overlay(result)            # HxWx3 uint8 with masks and boxes, or None without an image
    audio_picture(result)            # the waveform with predicted (and optional gold) spans, as HxWx3 uint8
    video_strip(result)              # sampled frames with the tracklet's masks and boxes, as HxWx3 uint8
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from reamo.records.formats import MODALITY_OF
from reamo.records.masks import rle_decode

COLOURS = [(0.90, 0.10, 0.10), (0.10, 0.50, 0.90), (0.10, 0.70, 0.20), (0.95, 0.60, 0.05), (0.60, 0.20, 0.80),
           (0.05, 0.75, 0.75)]
SAMPLE_RATE = 16000


def _summary(result) -> str:
    lines = [f"{result.id} [{result.task}]" + (f"  ERROR: {result.error}" if result.error else "")]
    if result.text:
        lines.append(result.text if len(result.text) < 110 else result.text[:107] + "...")
    lines += [f"({e.text}, {e.type})" for e in result.entities]
    lines += [f"({r.head.text if hasattr(r.head, 'text') else r.head}, {r.type}, "
              f"{r.tail.text if hasattr(r.tail, 'text') else r.tail})" for r in result.relations]
    lines += [f"({ev.type}: {ev.trigger.text}; " + ", ".join(f"{a.role}={a.text}" for a in ev.arguments) + ")"
              for ev in result.events]
    if not (result.entities or result.relations or result.events or result.error):
        lines.append("(nothing extracted)")
    return "\n".join(lines[:14])


def target_label(result, target) -> str | None:
    """The text of the extracted item an instruction target points at, e.g. ("entity", 0) -> "Alice"."""
    item = result.target(target)
    if item is None:
        return None
    trigger = getattr(item, "trigger", None)  # an event is named by its trigger
    return trigger.text if trigger is not None else item.text


def grounded_items(result) -> dict[str, list[tuple[str, dict, tuple]]]:
    """modality -> [(label, grounding, colour)] for every grounded instruction. The label is the item the
    instruction is linked to (else its phrase); one colour per label, in order of first appearance."""
    colour_of: dict[str, tuple] = {}
    out: dict[str, list] = {"image": [], "audio": [], "video": []}
    for ins in result.instructions:
        if not ins.grounding:
            continue
        labels = [target_label(result, t) for t in ins.targets]
        label = next((lab for lab in labels if lab), ins.phrase)
        colour = colour_of.setdefault(label, COLOURS[len(colour_of) % len(COLOURS)])
        out[MODALITY_OF[ins.module]].append((label, ins.grounding, colour))
    return out


def label_colours(result) -> dict[str, str]:
    """label -> CSS hex colour, the colours the pictures use (for a legend or table)."""
    seen = {}
    for items in grounded_items(result).values():
        for label, _, c in items:
            seen.setdefault(label, "#%02x%02x%02x" % tuple(int(v * 255) for v in c))
    return seen


# ---- image ------------------------------------------------------------------------------------------------
def _blend(rgb: np.ndarray, items) -> np.ndarray:
    """Masks blended at 45% and boxes with their labels drawn into a copy of `rgb` (PIL, no figure)."""
    from PIL import Image, ImageDraw

    out = rgb.astype(np.float32).copy()
    for _, g, c in items:
        if g.get("mask_rle"):
            m = rle_decode(g["mask_rle"])
            if m.shape == rgb.shape[:2]:
                out[m] = 0.55 * out[m] + 0.45 * 255 * np.asarray(c, np.float32)
    im = Image.fromarray(out.clip(0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(im)
    width = max(1, round(min(rgb.shape[:2]) / 120))
    for label, g, c in items:
        if g.get("box"):
            x1, y1, x2, y2 = [float(v) for v in g["box"]]
            col = tuple(int(v * 255) for v in c)
            draw.rectangle([x1, y1, x2, y2], outline=col, width=width)
            tx, ty = x1, max(0.0, y1 - 12)
            tb = draw.textbbox((tx, ty), label)
            draw.rectangle(tb, fill=col)
            draw.text((tx, ty), label, fill=(255, 255, 255))
    return np.asarray(im)


def image_overlay(result) -> np.ndarray | None:
    """The input image with every predicted mask and box, coloured per extracted item; None without an image."""
    lm = result.loaded.get("image")
    if lm is None:
        return None
    return _blend(np.asarray(lm.grounding), grounded_items(result)["image"])


# ---- audio and video (matplotlib) --------------------------------------------------------------------------
def _figure_rgb(fig) -> np.ndarray:
    fig.canvas.draw()
    rgb = np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
    import matplotlib.pyplot as plt

    plt.close(fig)
    return rgb


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _waveform_axes(ax, lm, items, gold=None) -> None:
    w = lm.waveform.numpy() if lm.waveform is not None else np.zeros(1)
    t = np.arange(len(w)) / getattr(lm, "waveform_rate", SAMPLE_RATE)
    ax.plot(t, w, lw=0.4, color="0.3")
    top = ax.get_ylim()[1]
    for label, g, c in items:
        for a, b in g.get("spans", []):
            ax.axvspan(a, b, color=c, alpha=0.3)
            ax.text(a, top * 0.85, label, color=c, fontsize=8)
    for label, spans in gold or []:
        for a, b in spans:
            ax.plot([a, b], [top * 0.97, top * 0.97], color="black", lw=3, solid_capstyle="butt")
            ax.text(a, top * 0.99, f"gold: {label}", fontsize=7, va="bottom")
    ax.set_xlabel("seconds")
    ax.set_xlim(0, max(t[-1] if len(t) else 0.0, 1e-3))


def audio_picture(result, gold: list[tuple[str, list]] | None = None, size=(10, 2.6)) -> np.ndarray | None:
    """The waveform with the predicted spans (coloured per item) and, if given, gold spans [(label, spans)]
    as black bars; None without audio."""
    lm = result.loaded.get("audio")
    if lm is None:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=size, dpi=90)
    _waveform_axes(ax, lm, grounded_items(result)["audio"], gold)
    fig.tight_layout()
    return _figure_rgb(fig)


def _video_frame_items(frames, f: int, items) -> list:
    return [(label, fr, c) for label, g, c in items for fr in g.get("frames", [])
            if abs(fr["t"] - frames.timestamps[f]) < 1e-3]


def video_strip(result, n_frames: int = 6, height: float = 2.2) -> np.ndarray | None:
    """`n_frames` frames sampled over the video with the tracklet's masks and boxes drawn in (the grounding
    head's frames), each titled with its time; None without video."""
    lm = result.loaded.get("video")
    if lm is None:
        return None
    frames, items = lm.grounding, grounded_items(result)["video"]
    n = min(n_frames, len(frames.frames))
    pick = np.linspace(0, len(frames.frames) - 1, n).round().astype(int)
    plt = _pyplot()
    fig, axes = plt.subplots(1, n, figsize=(1.8 * n, height), dpi=90, squeeze=False)
    for ax, f in zip(axes[0], pick):
        ax.imshow(_blend(frames.frames[f], _video_frame_items(frames, f, items)))
        ax.set_title(f"t={frames.timestamps[f]:.2f}s", fontsize=7)
        ax.axis("off")
    fig.tight_layout()
    return _figure_rgb(fig)


def draw_result(result, path: str | Path, gold_audio: list[tuple[str, list]] | None = None) -> Path:
    """One figure: the extracted tuples as text, then one panel per loaded modality."""
    plt = _pyplot()
    by_mod = grounded_items(result)
    panels = [m for m in ("image", "audio", "video") if m in result.loaded]
    cols = 6
    fig = plt.figure(figsize=(10, 1.6 + 3.0 * len(panels)))
    grid = fig.add_gridspec(len(panels) + 1, cols, height_ratios=[1.2] + [3.0] * len(panels))
    ax = fig.add_subplot(grid[0, :])
    ax.axis("off")
    ax.text(0, 1, _summary(result), va="top", family="monospace", fontsize=8, transform=ax.transAxes)
    for r, m in enumerate(panels, start=1):
        lm = result.loaded[m]
        if m == "image":
            ax = fig.add_subplot(grid[r, :])
            ax.imshow(_blend(np.asarray(lm.grounding), by_mod["image"]))
            ax.axis("off")
        elif m == "audio":
            _waveform_axes(fig.add_subplot(grid[r, :]), lm, by_mod["audio"], gold_audio)
        else:
            frames = lm.grounding
            n = min(cols, len(frames.frames))
            for j, f in enumerate(np.linspace(0, len(frames.frames) - 1, n).round().astype(int)):
                ax = fig.add_subplot(grid[r, j])
                ax.imshow(_blend(frames.frames[f], _video_frame_items(frames, f, by_mod["video"])))
                ax.set_title(f"t={frames.timestamps[f]:.2f}s", fontsize=7)
                ax.axis("off")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
