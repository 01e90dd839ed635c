"""Copy-constrained decoding: every span an answer names is a piece of the input text.

Text IE extracts spans: an entity, a relation's head and tail, an event's trigger and arguments are all pieces of
the sentence. A small model copies them imperfectly (`The Opera Company` for "The opera company", `Mexico` for
"Mexican"), and such a span can only be wrong. Generative IE systems constrain decoding for this (UIE: a trie over
the input text and the labels). Here a `LogitsProcessor` does it greedily: while the decoder writes a span field of
the answer format (reamo.records.formats), the best-scored candidate tokens are tried in order and only those that
keep the field a substring of the input text stay allowed (the best 16 by default). Where none of them does, the
step is left free (the parser then reports the span as not in the text): the constraint only ever chooses among
the model's own best candidates. Outside span fields (labels, roles, the meta-response, between tuples) nothing is constrained.
"""
from __future__ import annotations

import torch
from transformers import LogitsProcessor

from reamo.records.formats import scan_tuples, unescape

# span fields per task: NER (entity, type): the first; RE (head, relation, tail): the first and third;
# EE (Type: t, Trigger: w, Role: a, ...): the value of every field after the first
SPAN_FIELDS = {"ner": (0,), "re": (0, 2)}


def _fields(content: str, task: str) -> list[tuple[str, bool]]:
    """The span fields of an (open or closed) tuple's content: (text so far, still being written)."""
    parts = content.split(", ")
    out = []
    if task == "ee":
        for k, part in enumerate(parts[1:], 1):
            key, sep, value = part.partition(": ")
            if sep:
                out.append((value, k == len(parts) - 1))
        return out
    for k in SPAN_FIELDS.get(task, ()):
        if k < len(parts) and not (task == "ner" and len(parts) > 2):  # an entity with ", " in it: let it be
            out.append((parts[k], k == len(parts) - 1))
    return out


def _in_text(span: str, text: str, open_: bool) -> bool:
    if not open_:
        return unescape(span).strip() in text
    span = span[:-1] if span.endswith("\\") else span  # an escape being written
    # a trailing comma may be the start of the ", " that ends the field
    return span in text or (span.endswith(",") and span[:-1].rstrip() in text)


def _tuples_ok(s: str, text: str, task: str) -> bool:
    """Whether every span field of the tuples in `s` (the last one may be open) is a piece of `text`."""
    closed, open_at, _ = scan_tuples(s)
    if not all(_in_text(f, text, False) for a, b in closed for f, _ in _fields(s[a:b], task)):
        return False
    return open_at is None or all(_in_text(f, text, o) for f, o in _fields(s[open_at:], task))


def _tuple_start(answer: str) -> int | None:
    """Where the tuple left open at the end of `answer` starts (its "("), len(answer) when none is open, None once
    the labels part is over (the meta-response is never constrained)."""
    if "<Module>" in answer:
        return None
    _, open_at, _ = scan_tuples(answer)
    return len(answer) if open_at is None else open_at - 1


def _piece_ok(tail: str, piece: str, text: str, task: str) -> bool:
    """`tail`: the answer from `_tuple_start` on."""
    if not tail and "(" not in piece:
        return True
    return _tuples_ok(tail + piece, text, task)


def allowed(answer: str, piece: str, text: str, task: str) -> bool:
    """Whether appending `piece` to `answer` keeps every span field it writes a piece of `text`: the fields of
    the tuple it continues, and of any tuple it closes or opens."""
    start = _tuple_start(answer)
    return start is None or _piece_ok(answer[start:], piece, text, task)


class CopySpans(LogitsProcessor):
    """For generation over a batch of prompts whose input texts are `texts` (None: no text, nothing
    constrained): in a span field, only the best `top_k` tokens that keep it a piece of the text stay allowed."""

    def __init__(self, tokenizer, texts: list[str | None], task: str, top_k: int = 16):
        self.tok, self.texts, self.task, self.top_k = tokenizer, texts, task, top_k
        self._pieces: dict[int, str] = {}
        self.steps_constrained = 0  # rows x steps at which a candidate was masked
        self.steps_free = 0  # rows x steps in a span field where no candidate fitted (left free)

    def _piece(self, t: int) -> str:
        p = self._pieces.get(t)
        if p is None:
            p = self._pieces[t] = self.tok.decode([t], skip_special_tokens=False)
        return p

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        if self.task not in ("ner", "re", "ee"):
            return scores
        for row, text in enumerate(self.texts):
            if not text:
                continue
            answer = self.tok.decode(input_ids[row].tolist(), skip_special_tokens=False)
            start = _tuple_start(answer)  # once a row and step, not once a candidate
            if start is None:
                continue
            top = torch.topk(scores[row], min(self.top_k, scores.shape[-1])).indices.tolist()
            tail = answer[start:]
            ok = [t for t in top if _piece_ok(tail, self._piece(t), text, self.task)]
            if len(ok) == len(top):
                continue
            if not ok:
                self.steps_free += 1
                continue
            self.steps_constrained += 1
            keep = scores[row, ok].clone()
            scores[row] = float("-inf")
            scores[row, ok] = keep
        return scores
