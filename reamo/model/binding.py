"""The binding loss: ImageBind's idea (one embedding space, learnt from media that occur together) applied at the
projector. In a row that shows two media, the projected pooled embedding of one medium is pulled toward that of
its row's anchor medium (cosine distance; the anchor is detached, so only the pulled medium moves and the space
the LLM already reads stays where it is).

Why: a type seen in a medium only next to another medium that shows it too (a vehicle's sound next to its
picture) is never needed from that medium alone, so the LLM never learns to read it there; bound to the picture's
embedding, the sound can reach what the LLM learnt to read from pictures."""
from __future__ import annotations

import torch
from torch.nn import functional as F

# a medium is pulled toward the first other medium of its row in this order: images anchor video and audio,
# video anchors audio
ANCHOR_ORDER = ("image", "video", "audio")


def media_rows(input_ids: torch.Tensor, placeholder_ids: dict[str, int]) -> dict[str, list[int]]:
    """Per modality, the batch rows that hold an item of it, in row order (the order MediaBatch stacks items)."""
    return {m: (input_ids == pid).any(1).nonzero().flatten().tolist() for m, pid in placeholder_ids.items()}


def binding_pairs(rows: dict[str, list[int]]) -> list[tuple[str, int, str, int]]:
    """(medium, its item index, anchor medium, the anchor's item index) for every item whose row holds a
    higher-ranked medium (ANCHOR_ORDER)."""
    pairs = []
    for i, m in enumerate(ANCHOR_ORDER):
        for k, r in enumerate(rows.get(m, [])):
            for a in ANCHOR_ORDER[:i]:
                if r in rows.get(a, []):
                    pairs.append((m, k, a, rows[a].index(r)))
                    break
    return pairs


def binding_loss(pooled: dict[str, torch.Tensor], rows: dict[str, list[int]]) -> torch.Tensor | None:
    """Mean cosine distance 1 - cos(x, anchor.detach()) over the binding pairs of a batch; None without any.
    `pooled[m]`: [items of m, H], the projected pooled embeddings in row order."""
    pairs = binding_pairs(rows)
    if not pairs:
        return None
    x = torch.stack([pooled[m][k] for m, k, _, _ in pairs]).float()
    anchor = torch.stack([pooled[a][j] for _, _, a, j in pairs]).float().detach()
    return (1.0 - F.cosine_similarity(x, anchor, dim=-1)).mean()
