"""The projector (paper): Linear(in_dim -> H), GELU, Linear(H -> H), shared by every modality."""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class MediaProjector(nn.Module):
    def __init__(self, in_dim: int, out_dim: int):
        super().__init__()
        self.fc1 = nn.Linear(in_dim, out_dim)
        self.fc2 = nn.Linear(out_dim, out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


def select_media_tokens(pooled: torch.Tensor, tokens: torch.Tensor | None, n: int) -> torch.Tensor:
    """The `n` encoder vectors one media item becomes in the LLM prompt: [B, n, D].

    Token 0 is the pooled embedding; tokens 1..n-1 are the token features average-pooled (over the token
    axis, in order) to n-1 groups."""
    out = pooled.unsqueeze(1)
    if n == 1:
        return out
    if tokens is None:
        raise ValueError(f"{n} media tokens need token-level features, the encoder gave none")
    grouped = F.adaptive_avg_pool1d(tokens.transpose(1, 2), n - 1).transpose(1, 2)
    return torch.cat([out, grouped.to(out.dtype)], dim=1)
