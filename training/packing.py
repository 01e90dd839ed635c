"""Padding-free packing: a micro-batch's examples concatenated into rows of at most `max_length` tokens.

Examples go into rows first-fit decreasing; `order` lists them in row-major order, and the caller (the phase's
collate) arranges the batch's media and grounding targets in that order, so that media placeholders meet their
media and each example's grounding instructions stay with their example. Position ids restart at 0 for every example;
the model gets `position_ids` and no attention mask, and transformers then keeps attention inside each example
(a block-diagonal causal mask under SDPA or eager; varlen kernels under flash-attention). Each example's first
label is IGNORE_INDEX (its BOS or prompt), so no example learns to predict the next one's first token.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from reamo.model.processor import IGNORE_INDEX


@dataclass
class PackedRows:
    input_ids: torch.Tensor  # [R, L]
    labels: torch.Tensor  # [R, L]
    position_ids: torch.Tensor  # [R, L]: 0.. per example; the padding after a row's last example counts on
    attention_mask: torch.Tensor  # [R, L]: 1 on example tokens, 0 on padding (for counting; the model ignores it)
    placement: list[tuple[int, int]]  # (row, offset) of each example, in `order`
    order: list[int]  # the examples' indices in row-major order


def _first_fit_decreasing(lengths: list[int], capacity: int) -> list[list[int]]:
    rows: list[list[int]] = []
    used: list[int] = []
    for i in sorted(range(len(lengths)), key=lambda i: (-lengths[i], i)):
        r = next((r for r in range(len(rows)) if used[r] + lengths[i] <= capacity), None)
        if r is None:
            rows.append([])
            used.append(0)
            r = len(rows) - 1
        rows[r].append(i)
        used[r] += lengths[i]
    return rows


def pack(examples, max_length: int, pad_id: int) -> PackedRows:
    """Pack encoded examples (reamo.model.processor.EncodedExample: input_ids, labels) into rows of at most `max_length`
    tokens (or the longest example, if longer): first-fit decreasing, then the narrowest rows that need no more
    of them, so that the rows, padded to the longest, hold little padding. `order` gives the examples in row-major order; the caller arranges everything else that
    follows the examples (media, grounding targets) in that order."""
    lengths = [len(e.input_ids) for e in examples]
    cap = max(max_length, max(lengths))
    k = len(_first_fit_decreasing(lengths, cap))
    lo, hi = max(lengths), cap
    while lo < hi:  # balance: the narrowest rows that still need no more than k of them
        mid = (lo + hi) // 2
        if len(_first_fit_decreasing(lengths, mid)) <= k:
            hi = mid
        else:
            lo = mid + 1
    rows = _first_fit_decreasing(lengths, lo)
    for row in rows:
        row.sort()  # within a row, the examples' own order
    rows.sort(key=lambda row: row[0])
    order = [i for row in rows for i in row]
    placement = {}
    for r, row in enumerate(rows):
        off = 0
        for i in row:
            placement[i] = (r, off)
            off += lengths[i]
    width = max(sum(lengths[i] for i in r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    labels = torch.full((len(rows), width), IGNORE_INDEX, dtype=torch.long)
    pos = torch.zeros((len(rows), width), dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, (r, off) in placement.items():
        e = examples[i]
        n = len(e.input_ids)
        if e.labels and e.labels[0] != IGNORE_INDEX:
            raise ValueError("a packed example must start with an ignored label (its BOS or prompt)")
        ids[r, off: off + n] = torch.tensor(e.input_ids)
        labels[r, off: off + n] = torch.tensor(e.labels)
        pos[r, off: off + n] = torch.arange(n)
        mask[r, off: off + n] = 1
    for r in range(len(rows)):
        end = int(mask[r].nonzero().max()) + 1
        pos[r, end:] = torch.arange(width - end)  # the padding: a sequence of its own, after every example
    return PackedRows(ids, labels, pos, mask, [placement[i] for i in order], order)


def padding_fraction(attention_mask: torch.Tensor) -> float:
    """Share of a batch's positions that hold no token."""
    return 1.0 - float(attention_mask.sum()) / max(1, attention_mask.numel())
