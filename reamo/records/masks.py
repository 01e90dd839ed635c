"""Binary masks: COCO run-length encoding (compressed string form, pycocotools-compatible), boxes, IoU."""
from __future__ import annotations

import numpy as np


def _counts(mask: np.ndarray) -> list[int]:
    """Run lengths in column-major (Fortran) order, starting with a run of zeros."""
    flat = np.asarray(mask, dtype=bool).ravel(order="F")
    if flat.size == 0:
        return [0]
    change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    bounds = np.concatenate([[0], change, [flat.size]])
    runs = np.diff(bounds).tolist()
    return ([0] + runs) if flat[0] else runs


def _encode_counts(counts: list[int]) -> str:
    """pycocotools' LEB128-like string: 5 bits a char, +48, deltas against the count two back after i>2."""
    out = []
    for i, c in enumerate(counts):
        x = c - counts[i - 2] if i > 2 else c
        more = True
        while more:
            ch = x & 0x1F
            x >>= 5
            more = not ((ch & 0x10) == 0 and x == 0 or (ch & 0x10) != 0 and x == -1)
            if more:
                ch |= 0x20
            out.append(chr(ch + 48))
    return "".join(out)


def _decode_counts(s: str) -> list[int]:
    counts, p = [], 0
    while p < len(s):
        x, k, more = 0, 0, True
        while more:
            ch = ord(s[p]) - 48
            x |= (ch & 0x1F) << (5 * k)
            more = bool(ch & 0x20)
            p += 1
            k += 1
            if not more and (ch & 0x10):
                x |= -1 << (5 * k)
        if len(counts) > 2:
            x += counts[-2]
        counts.append(x)
    return counts


def rle_encode(mask: np.ndarray) -> dict:
    """HxW bool mask -> {"size": [H, W], "counts": str} (COCO compressed RLE)."""
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"mask must be 2-D, got shape {mask.shape}")
    return {"size": [int(mask.shape[0]), int(mask.shape[1])], "counts": _encode_counts(_counts(mask))}


def rle_decode(rle: dict) -> np.ndarray:
    """COCO RLE (compressed string or uncompressed list counts) -> HxW bool mask."""
    h, w = (int(v) for v in rle["size"])
    counts = rle["counts"]
    counts = _decode_counts(counts) if isinstance(counts, str) else [int(c) for c in counts]
    if sum(counts) != h * w:
        raise ValueError(f"RLE counts sum to {sum(counts)}, expected {h * w}")
    vals = np.zeros(len(counts), dtype=bool)
    vals[1::2] = True
    flat = np.repeat(vals, counts)
    return flat.reshape((h, w), order="F")


def mask_to_box(mask: np.ndarray) -> list[int] | None:
    """Tight [x1, y1, x2, y2] box (x2, y2 exclusive) around a mask, None when empty."""
    ys, xs = np.nonzero(np.asarray(mask))
    if ys.size == 0:
        return None
    return [int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1]


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, bool), np.asarray(b, bool)
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 0.0
