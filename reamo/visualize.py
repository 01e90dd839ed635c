"""Pictures of extraction results: masks and boxes over the image, the waveform with grounded spans, and a
strip of video frames with the tracklet; the extracted tuples as text."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from reamo.masks import rle_decode

COLOURS = [(0.90, 0.10, 0.10), (0.10, 0.50, 0.90), (0.10, 0.70, 0.20), (0.95, 0.60, 0.05), (0.60, 0.20, 0.80),
           (0.05, 0.75, 0.75)]


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


def _overlay(ax, rgb, items):
    import matplotlib.patches as patches

    ax.imshow(rgb)
    over = np.zeros((*rgb.shape[:2], 4))
    for k, (label, g) in enumerate(items):
        c = COLOURS[k % len(COLOURS)]
        if g.get("mask_rle"):
            m = rle_decode(g["mask_rle"])
            if m.shape == rgb.shape[:2]:
                over[m] = (*c, 0.45)
        if g.get("box"):
            x1, y1, x2, y2 = g["box"]
            ax.add_patch(patches.Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, edgecolor=c, linewidth=2))
            ax.text(x1, max(0, y1 - 2), label, color="white", fontsize=8, bbox={"facecolor": c, "pad": 1, "lw": 0})
    ax.imshow(over)
    ax.axis("off")


def draw_result(result, path: str | Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by_mod = {"image": [], "audio": [], "video": []}
    for ins in result.instructions:
        if ins.grounding:
            mod = {"ImageSegmentation": "image", "AudioSegmentation": "audio", "VideoTracking": "video"}[ins.module]
            by_mod[mod].append((ins.phrase, ins.grounding))
    panels = [m for m in ("image", "audio", "video") if m in result.loaded]
    rows = len(panels) + 1
    cols = 6
    fig = plt.figure(figsize=(10, 1.6 + 3.0 * len(panels)))
    grid = fig.add_gridspec(rows, cols, height_ratios=[1.2] + [3.0] * len(panels))
    ax = fig.add_subplot(grid[0, :])
    ax.axis("off")
    ax.text(0, 1, _summary(result), va="top", family="monospace", fontsize=8, transform=ax.transAxes)
    for r, m in enumerate(panels, start=2):
        lm = result.loaded[m]
        if m == "image":
            _overlay(fig.add_subplot(grid[r - 1, :]), lm.grounding, by_mod["image"])
        elif m == "audio":
            ax = fig.add_subplot(grid[r - 1, :])
            w = lm.waveform.numpy() if lm.waveform is not None else np.zeros(1)
            t = np.arange(len(w)) / 16000.0
            ax.plot(t, w, lw=0.4, color="0.3")
            for k, (label, g) in enumerate(by_mod["audio"]):
                c = COLOURS[k % len(COLOURS)]
                for a, b in g.get("spans", []):
                    ax.axvspan(a, b, color=c, alpha=0.3)
                    ax.text(a, ax.get_ylim()[1] * 0.85, label, color=c, fontsize=8)
            ax.set_xlabel("seconds")
            ax.set_xlim(0, max(t[-1], 1e-3))
        else:
            frames = lm.grounding
            n = min(cols, len(frames.frames))
            pick = np.linspace(0, len(frames.frames) - 1, n).round().astype(int)
            for j, f in enumerate(pick):
                ax = fig.add_subplot(grid[r - 1, j])
                items = []
                for label, g in by_mod["video"]:
                    for fr in g.get("frames", []):
                        if abs(fr["t"] - frames.timestamps[f]) < 1e-3:
                            items.append((label, fr))
                _overlay(ax, frames.frames[f], items)
                ax.set_title(f"t={frames.timestamps[f]:.2f}s", fontsize=7)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
