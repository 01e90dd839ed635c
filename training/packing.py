"""Padding-free packing: a micro-batch's examples concatenated into rows of at most `max_length` tokens.

Examples are placed in order, each in the current row while it fits, else in a new row (next-fit, with the
rows then balanced), so the row-major order of tokens is the order of the examples: media placeholders keep the order of the batch's media,
and each example's grounding instructions keep their example. Position ids restart at 0 for every example;
the model gets `position_ids` and no attention mask, and transformers then keeps attention inside each example
(a block-diagonal causal mask under SDPA or eager; varlen kernels under flash-attention). Each example's first
label is IGNORE_INDEX (its BOS or prompt), so no example learns to predict the next one's first token.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from reamo.processor import IGNORE_INDEX


@dataclass
class PackedRows:
    input_ids: torch.Tensor  # [R, L]
    labels: torch.Tensor  # [R, L]
    position_ids: torch.Tensor  # [R, L]: 0.. per example; the padding after a row's last example counts on
    attention_mask: torch.Tensor  # [R, L]: 1 on example tokens, 0 on padding (for counting; the model ignores it)
    placement: list[tuple[int, int]]  # (row, offset) of each example


def _next_fit(lengths: list[int], capacity: int) -> list[list[int]]:
    rows: list[list[int]] = []
    used = capacity + 1
    for i, n in enumerate(lengths):
        if used + n > capacity:
            rows.append([])
            used = 0
        rows[-1].append(i)
        used += n
    return rows


def pack(examples, max_length: int, pad_id: int) -> PackedRows:
    """Pack encoded examples (reamo.processor.EncodedExample: input_ids, labels) in order into as few rows of
    at most `max_length` tokens as order allows, and balance those rows: the smallest row capacity that still
    needs no more rows (binary search), so that the rows, padded to the longest, hold little padding."""
    lengths = [len(e.input_ids) for e in examples]
    k = len(_next_fit(lengths, max(max_length, max(lengths))))
    lo, hi = max(lengths), max(max_length, max(lengths))
    while lo < hi:  # next-fit is optimal for an ordered split at a given capacity
        mid = (lo + hi) // 2
        if len(_next_fit(lengths, mid)) <= k:
            hi = mid
        else:
            lo = mid + 1
    rows = _next_fit(lengths, lo)
    placement = []
    for r, row in enumerate(rows):
        off = 0
        for i in row:
            placement.append((r, off))
            off += lengths[i]
    width = max(sum(len(examples[i].input_ids) for i in r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    labels = torch.full((len(rows), width), IGNORE_INDEX, dtype=torch.long)
    pos = torch.zeros((len(rows), width), dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, (r, off) in enumerate(placement):
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
    return PackedRows(ids, labels, pos, mask, placement)


def padding_fraction(attention_mask: torch.Tensor) -> float:
    """Share of a batch's positions that hold no token."""
    return 1.0 - float(attention_mask.sum()) / max(1, attention_mask.numel())
