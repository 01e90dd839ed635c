"""A collated training micro-batch: token ids, attention mask, labels, media and grounding inputs."""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from reamo.model.processor import IGNORE_INDEX


@dataclass
class Batch:
    """A collated micro-batch. `grounding` holds the heads' inputs and targets (see training.examples)."""

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    labels: torch.Tensor
    media: object = None  # reamo.model.modeling.MediaBatch
    grounding: dict = field(default_factory=dict)
    lm_denominator: float | None = None  # set by the loop: global answer tokens / world size
    position_ids: torch.Tensor | None = None  # packed rows (training.packing): positions restart per example
    examples: int | None = None  # examples in the batch (rows hold several when packed)
    loss_scale: float = 1.0  # 0 for a stand-in micro-batch that must run but count nothing

    @property
    def num_answer_tokens(self) -> int:
        return int((self.labels[:, 1:] != IGNORE_INDEX).sum())

    @property
    def size(self) -> int:
        return self.examples if self.examples is not None else self.input_ids.shape[0]

    @property
    def num_tokens(self) -> int:
        return int(self.attention_mask.sum())

    def to(self, device) -> "Batch":
        g = dict(self.grounding)
        if "positions" in g:
            g["positions"] = tuple(t.to(device) for t in g["positions"])
        return Batch(self.input_ids.to(device), self.attention_mask.to(device), self.labels.to(device),
                     self.media.to(device) if self.media is not None else None, g, self.lm_denominator,
                     None if self.position_ids is None else self.position_ids.to(device), self.examples,
                     self.loss_scale)
