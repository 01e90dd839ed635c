"""Special tokens: the meta-response markers and one media placeholder per modality (DESIGN.md 3.2).

They are registered as *special* tokens and each must encode to exactly one id (LISA issue 55: a split
[SEG] gave double masks). New embedding rows start at the mean of the old ones (paper).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

META_TOKENS = ("<Module>", "</Module>", "<Instruction>", "</Instruction>")
PLACEHOLDERS = {"image": "<image>", "audio": "<audio>", "video": "<video>"}
MEDIA_MODALITIES = tuple(PLACEHOLDERS)
INSTRUCTION_END = "</Instruction>"


@dataclass(frozen=True)
class SpecialTokenIds:
    module_start: int
    module_end: int
    instruction_start: int
    instruction_end: int
    placeholders: dict  # modality -> id

    @property
    def all(self) -> list[int]:
        return [self.module_start, self.module_end, self.instruction_start, self.instruction_end,
                *self.placeholders.values()]


def add_special_tokens(tokenizer) -> SpecialTokenIds:
    """Register Reamo's special tokens on `tokenizer` (idempotent) and return their ids.

    Raises ValueError if any of them does not encode to exactly one id after registration."""
    new = [t for t in (*META_TOKENS, *PLACEHOLDERS.values()) if t not in tokenizer.get_vocab()]
    if new:
        tokenizer.add_special_tokens({"additional_special_tokens": new}, replace_extra_special_tokens=False) \
            if _supports_replace(tokenizer) else tokenizer.add_special_tokens({"additional_special_tokens": new})
    ids = {}
    for tok in (*META_TOKENS, *PLACEHOLDERS.values()):
        enc = tokenizer.encode(tok, add_special_tokens=False)
        if len(enc) != 1:
            raise ValueError(f"special token {tok!r} encodes to {len(enc)} ids {enc}; it must be exactly one")
        ids[tok] = enc[0]
        # also inside text: no merging with neighbours
        enc2 = tokenizer.encode(f"x{tok}y", add_special_tokens=False)
        if ids[tok] not in enc2:
            raise ValueError(f"special token {tok!r} is not kept whole inside text: {enc2}")
    return SpecialTokenIds(ids["<Module>"], ids["</Module>"], ids["<Instruction>"], ids["</Instruction>"],
                           {m: ids[p] for m, p in PLACEHOLDERS.items()})


def _supports_replace(tokenizer) -> bool:
    import inspect

    try:
        return "replace_extra_special_tokens" in inspect.signature(tokenizer.add_special_tokens).parameters
    except (TypeError, ValueError):
        return False


@torch.no_grad()
def resize_with_mean_init(model, new_vocab_size: int, old_vocab_size: int) -> None:
    """Grow the input (and untied output) embeddings to `new_vocab_size`, new rows = mean of the old rows."""
    if new_vocab_size <= old_vocab_size:
        return
    model.resize_token_embeddings(new_vocab_size, mean_resizing=False)
    for emb in {id(e): e for e in (model.get_input_embeddings(), model.get_output_embeddings()) if e is not None}.values():
        w = emb.weight
        w[old_vocab_size:new_vocab_size] = w[:old_vocab_size].mean(dim=0, keepdim=True).to(w.dtype)
