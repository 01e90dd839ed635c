"""A deterministic generator of a small grounded multimodal IE corpus (records of DESIGN.md 3.1).

The world: entity types drawn as distinct coloured shapes (images, video) and heard as distinct tone
patterns (audio); texts mention the entities with relations and events. Every mask, box and time span is
exact by construction. `generate_corpus(out_dir, size, seed)` writes media, splits and per-phase JSONL.
"""
from reamo.synth.generator import CorpusInfo, generate_corpus

__all__ = ["generate_corpus", "CorpusInfo"]
