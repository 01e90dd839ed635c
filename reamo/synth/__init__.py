"""A deterministic generator of a small grounded multimodal IE corpus (records of DESIGN.md 3.1).

The world: persons, animals and vehicles, seen as coloured shapes (`visual="shapes"`) or as objects cut from
real photographs on background photographs (`"photo"`: reamo.synth.photos), heard as tones (`audio="tones"`) or
as speech by espeak-ng and synthesised calls and engines (`"sounds"`: reamo.synth.sounds); texts mention the
entities with relations and events. Every mask, box and time span is exact by construction.
`generate_corpus(out_dir, size, seed, visual, audio)` writes media, splits and per-phase JSONL.
"""
from reamo.synth.generator import CorpusInfo, generate_corpus

__all__ = ["generate_corpus", "CorpusInfo"]
