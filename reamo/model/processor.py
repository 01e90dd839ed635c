"""Turns prompts, answers and media into model inputs.

A prompt holds one placeholder string per media item ("<image>", "<audio>", "<video>"); the processor expands
each to `media_tokens[modality]` placeholder ids, which the model fills with projected media embeddings
(masked_scatter, as HF LLaVA does). Prompt and answer are tokenised separately and concatenated, so the
loss mask is exact by construction: labels are the answer ids (+ eos) and -100 everywhere else.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import torch

from reamo.model.tokens import PLACEHOLDERS, SpecialTokenIds

IGNORE_INDEX = -100
_PH_RE = re.compile("(" + "|".join(re.escape(p) for p in PLACEHOLDERS.values()) + ")")
_PH_MODALITY = {p: m for m, p in PLACEHOLDERS.items()}


@dataclass
class EncodedExample:
    input_ids: list[int]
    labels: list[int]
    media_counts: dict[str, int]  # how many items of each modality the prompt refers to
    truncated: bool = False


class ReamoProcessor:
    def __init__(self, tokenizer, special_ids: SpecialTokenIds, media_tokens: dict[str, int], max_length: int):
        self.tokenizer = tokenizer
        self.ids = special_ids
        self.media_tokens = dict(media_tokens)
        self.max_length = max_length

    def placeholder(self, modality: str) -> str:
        """The placeholder string for one media item, as written into prompts."""
        return PLACEHOLDERS[modality]

    def _encode_text(self, text: str) -> tuple[list[int], dict[str, int]]:
        ids: list[int] = []
        counts = {m: 0 for m in PLACEHOLDERS}
        for piece in _PH_RE.split(text):
            if not piece:
                continue
            m = _PH_MODALITY.get(piece)
            if m is not None:
                ids.extend([self.ids.placeholders[m]] * self.media_tokens.get(m, 1))
                counts[m] += 1
            else:
                ids.extend(self.tokenizer.encode(piece, add_special_tokens=False))
        return ids, counts

    def encode(self, prompt: str, answer: str | None = None) -> EncodedExample:
        """bos + prompt (+ answer + eos). Too long: the prompt's *text* is cut from the right of the prompt
        part, never a placeholder or the answer; `truncated` is set so callers can warn."""
        bos = [self.tokenizer.bos_token_id] if self.tokenizer.bos_token_id is not None else []
        p_ids, counts = self._encode_text(prompt)
        a_ids = []
        if answer is not None:
            a_ids = self.tokenizer.encode(answer, add_special_tokens=False) + [self.tokenizer.eos_token_id]
        truncated = False
        budget = self.max_length - len(bos) - len(a_ids)
        if len(p_ids) > budget:
            truncated = True
            p_ids = _truncate_keeping(p_ids, budget, keep=set(self.ids.placeholders.values()), tail=32)
            if len(p_ids) > budget:  # placeholders alone overflow, or the answer is too long: cut the answer
                a_ids = a_ids[: max(0, self.max_length - len(bos) - len(p_ids))]
        ids = bos + p_ids + a_ids
        labels = [IGNORE_INDEX] * (len(bos) + len(p_ids)) + a_ids
        return EncodedExample(ids, labels, {m: c for m, c in counts.items() if c}, truncated)

    def collate(self, examples: list[EncodedExample], padding_side: str = "right") -> dict[str, torch.Tensor]:
        """Pad to the longest example. Training pads right; generation pads left (so the last prompt token
        of every row is at the same position)."""
        n = max(len(e.input_ids) for e in examples)
        pad = self.tokenizer.pad_token_id
        ids = torch.full((len(examples), n), pad, dtype=torch.long)
        labels = torch.full((len(examples), n), IGNORE_INDEX, dtype=torch.long)
        mask = torch.zeros((len(examples), n), dtype=torch.long)
        for i, e in enumerate(examples):
            k = len(e.input_ids)
            sl = slice(n - k, n) if padding_side == "left" else slice(0, k)
            ids[i, sl] = torch.tensor(e.input_ids)
            labels[i, sl] = torch.tensor(e.labels)
            mask[i, sl] = 1
        return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def _truncate_keeping(ids: list[int], budget: int, keep: set[int], tail: int) -> list[int]:
    """Drop text ids from the middle-end of the prompt (before its last `tail` ids, which hold the request
    to answer) until it fits, never dropping an id in `keep`."""
    if budget <= 0:
        return [i for i in ids if i in keep]
    head, end = ids[:-tail] if len(ids) > tail else [], ids[-tail:] if len(ids) > tail else ids
    excess = len(ids) - budget
    out = list(head)
    j = len(out) - 1
    while excess > 0 and j >= 0:
        if out[j] not in keep:
            del out[j]
            excess -= 1
        j -= 1
    res = out + list(end)
    if excess > 0:  # still too long: drop from the tail's text too
        res = [i for i in res if i in keep or (excess := excess - 1) < 0]
    return res
