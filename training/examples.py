"""Phase examples: how each tuning phase turns a record into (prompt, answer, media, grounding targets),
and the collation of examples into a Batch. Phases differ here only; the loop is shared.

  uie            text IE in the answer format (no media, no meta-response)
  schema_text    same, with textual event-schema definitions in the prompt, and each of the record's event-schema
                 questions (record.extra["schema_qa"], reamo/builders/schema_qa.py) as an example (MS-PIT stage 1a)
  alignment      media -> caption (record.extra["caption"])
  schema_visual  each medium -> its scene-graph text (record.extra["scene_graphs"][medium], else the record's
                 extra["scene_graph"]; MS-PIT stage 1b)
  grounding      phrase -> <Module>..</Module><Instruction>phrase</Instruction>, with the gold region/spans/track
  meta           the full answer: labels + meta-response, with every instruction's gold grounding
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from grounding import MODALITY_MODULE, MODULES, GroundingRequest
from reamo.errors import ReamoError
from reamo.records.formats import answer_and_groundings, escape
from reamo.model.inputs import load_media
from reamo.records.masks import rle_decode
from reamo.model.modeling import MediaBatch, MediaFeatures
from reamo.model.prompts import caption_prompt, chat_prompt, grounding_prompt, schema_question_prompt
from reamo.records import Record
from reamo.records.schemas import normalize_schema
from reamo.model.tokens import MEDIA_MODALITIES
from training.config import TrainConfig
from training.batch import Batch
from training.packing import pack

log = logging.getLogger("reamo.training")


@dataclass
class Example:
    id: str
    prompt: str
    answer: str
    media: dict[str, Path] = field(default_factory=dict)
    targets: list[tuple[str, dict]] = field(default_factory=list)  # (modality, gold grounding) per instruction


def cache_dir(cfg: TrainConfig) -> Path:
    """The phase's embedding cache folder: data.cache_dir, else OUTPUT_DIR/../embedding_cache."""
    return Path(cfg.data.cache_dir) if cfg.data.cache_dir else cfg.resolve(cfg.output_dir).parent / "embedding_cache"


def cache_extra(config) -> str:
    """What, beside the encoder and the input, makes a cached feature: the media settings and how many tokens a
    medium becomes (token features are kept only where that is more than one)."""
    return json.dumps({**config.media.to_dict(), "media_tokens": dict(config.media_tokens)}, sort_keys=True)


def cached_output(config, modality: str, pooled, tokens):
    """A feature as the cache keeps it: the pooled vector, and token features only where the prompt reads them
    (`media_tokens[modality]` > 1; at ImageBind-huge they are 256 x 1024 values an image)."""
    from encoders.imagebind import EncoderOutput

    keep = tokens is not None and config.media_tokens.get(modality, 1) > 1
    return EncoderOutput(pooled.cpu(), tokens.cpu() if keep else None)


def render_scene_graph(sg: dict) -> str:
    """Scene-graph text (MS-PIT visual schema): objects, attributes, actions, relations, scene."""
    parts = []
    for key in ("objects", "attributes", "actions", "relations", "scene"):
        v = sg.get(key)
        if v:
            parts.append(f"{key}: {', '.join(map(str, v)) if isinstance(v, (list, tuple)) else v}")
    return "; ".join(parts)


def render_event_schema(schema: dict) -> str:
    """Textual event-schema definitions (MS-PIT stage 1a): each type with its roles."""
    ev = schema.get("event_types", {})
    return " ".join(f"{t}: an event of type {t.split(':')[-1]}, with roles {', '.join(r) if r else 'none'}." for t, r in ev.items())


class PhaseExamples:
    def __init__(self, model, cfg: TrainConfig):
        self.model = model
        self.cfg = cfg
        self.cache = None
        if cfg.data.use_embedding_cache and cfg.phase in ("alignment", "schema_visual", "grounding", "meta"):
            from encoders.cache import EmbeddingCache

            self.cache = EmbeddingCache(cache_dir(cfg), model.config.encoder)
        self.media_key = cache_extra(model.config)
        self.event_schema = None
        if cfg.data.event_schema:
            from reamo.records.schemas import load_event_schema

            self.event_schema = load_event_schema(cfg.resolve(cfg.data.event_schema))

    # ---- records -> examples ----------------------------------------------------------------------------
    def _media(self, rec: Record, path: str) -> dict[str, Path]:
        return {m: rec.media_path(m, path) for m in MEDIA_MODALITIES if getattr(rec, m)
                and m in self.model.config.modalities}

    def _wrap(self, user: str) -> str:
        return chat_prompt(user, self.model.config.llm.chat_template)

    def examples(self, rec: Record, path: str) -> list[Example]:
        phase, m = self.cfg.phase, self.model
        media = self._media(rec, path)
        ph = {k: m.processor.placeholder(k) for k in MEDIA_MODALITIES}
        if phase in ("uie", "schema_text"):
            if not rec.text:
                raise ValueError("a text IE record needs text")
            schema = normalize_schema(rec.task, rec.schema)
            st = None
            if phase == "schema_text" and rec.task == "ee":
                full = self.event_schema or schema
                st = render_event_schema({"event_types": {t: full["event_types"].get(t, r)
                                                          for t, r in schema["event_types"].items()}})
            prompt = m.prompt(rec.task, schema, rec.text, [], schema_text=st)
            out = [Example(rec.id, prompt, answer_and_groundings(rec, ground=False)[0])]
            if st:
                out += [Example(f"{rec.id}:qa{i}", self._wrap(schema_question_prompt(st, rec.text, qa["question"])),
                                qa["answer"]) for i, qa in enumerate(rec.extra.get("schema_qa", []))]
            return out
        if phase in ("alignment", "schema_visual"):
            key = "caption" if phase == "alignment" else "scene_graph"
            per_medium = rec.extra.get("scene_graphs", {}) if phase == "schema_visual" else {}
            targets = {mod: per_medium.get(mod) or rec.extra.get(key) for mod in media}
            if not media or not all(targets.values()):
                raise ValueError(f"phase {phase} needs media and extra[{key!r}]")
            return [Example(f"{rec.id}:{mod}", self._wrap(caption_prompt(mod, ph[mod])),
                            t if isinstance(t, str) else render_scene_graph(t), {mod: media[mod]})
                    for mod, t in targets.items()]
        if phase == "grounding":
            out = []
            for e in [*rec.entities, *[a for ev in rec.events for a in ev.arguments]]:
                for mod, g in e.grounding.items():
                    if mod in media:
                        ans = f"<Module>{MODALITY_MODULE[mod]}</Module><Instruction>{escape(e.text)}</Instruction>"
                        out.append(Example(f"{rec.id}:{e.text}:{mod}", self._wrap(grounding_prompt(e.text, mod, ph[mod])),
                                           ans, {mod: media[mod]}, [(mod, g)]))
            if not out:
                raise ValueError("no grounded phrase with its media in this record")
            return out
        # meta: the full answer with the meta-response
        schema = normalize_schema(rec.task, rec.schema)
        answer, grounded = answer_and_groundings(rec, ground=True)
        targets = [(MODULES[g.module], g.grounding) for g in grounded]
        if any(mod not in media for mod, _ in targets):
            raise ValueError("a grounding refers to media the record does not have")
        return [Example(rec.id, m.prompt(rec.task, schema, rec.text, list(media)), answer, media, targets)]

    # ---- examples -> batch --------------------------------------------------------------------------------
    def _features(self, modality: str, path: Path) -> MediaFeatures:
        def compute():
            lm = load_media(modality, path, self.model.config, str(path))
            f = self.model.encode_media(modality, lm.encoder_input[None].to(self.model.device))
            return cached_output(self.model.config, modality, f.pooled[0], None if f.tokens is None else f.tokens[0])

        out = self.cache.get_or_compute(modality, path, compute, extra=self.media_key)
        return MediaFeatures(out.pooled, out.tokens)

    def _target(self, modality: str, gold: dict, loaded) -> object:
        if modality == "image":
            return rle_decode(gold["mask_rle"])
        if modality == "audio":
            return gold["spans"]
        frames = loaded.grounding  # VideoFrames sampled for the head
        gold_frames = gold.get("frames", [])
        tol = 0.5 * loaded.duration / max(1, len(frames.timestamps))
        masks, presence = [], []
        for t in frames.timestamps:
            near = min(gold_frames, key=lambda f: abs(f["t"] - t), default=None)
            if near is not None and abs(near["t"] - t) <= tol and near.get("mask_rle"):
                masks.append(rle_decode(near["mask_rle"]))
                presence.append(1.0)
            else:
                masks.append(np.zeros(frames.frames.shape[1:3], bool))
                presence.append(0.0)
        return masks, presence

    def length(self, ex: Example) -> int:
        """The example's tokens, media placeholders included (data.group_by_length)."""
        return len(self.model.processor.encode(ex.prompt, ex.answer).input_ids)

    def collate(self, examples: list[Example]) -> Batch | None:
        m, proc = self.model, self.model.processor
        encoded, loaded_rows, target_rows = [], [], []
        for ex in examples:
            try:
                row = {}
                for mod, p in ex.media.items():
                    need_raw = self.cache is None or any(t[0] == mod for t in ex.targets)
                    row[mod] = load_media(mod, p, m.config, f"{ex.id} {mod} ({p})") if need_raw else None
                tg = [(mod, self._target(mod, g, row[mod])) for mod, g in ex.targets]
            except (ReamoError, KeyError, ValueError) as e:
                log.warning("skipped training example %s: %s", ex.id, e)
                continue
            encoded.append(proc.encode(ex.prompt, ex.answer))
            loaded_rows.append((ex, row))
            target_rows.append(tg)
        if not encoded:
            return None
        if self.cfg.data.packing:
            packed = pack(encoded, self.cfg.max_length, m.tokenizer.pad_token_id)
            coll = {"input_ids": packed.input_ids, "attention_mask": packed.attention_mask, "labels": packed.labels}
            placement = packed.placement  # media and targets follow the packed (row-major) order of the examples
            encoded, loaded_rows, target_rows = ([xs[i] for i in packed.order]
                                                 for xs in (encoded, loaded_rows, target_rows))
        else:
            coll = proc.collate(encoded, padding_side="right")
            placement = [(r, 0) for r in range(len(encoded))]
        media = MediaBatch()
        for mod in MEDIA_MODALITIES:
            rows = [(ex, row) for ex, row in loaded_rows if mod in ex.media]
            if not rows:
                continue
            if self.cache is not None:
                feats = [self._features(mod, ex.media[mod]) for ex, _ in rows]
                toks = None if feats[0].tokens is None else torch.stack([f.tokens for f in feats])
                media.features[mod] = MediaFeatures(torch.stack([f.pooled for f in feats]), toks)
            else:
                media.inputs[mod] = torch.stack([row[mod].encoder_input for _, row in rows])
        grounding = {}
        requests, rows_idx, pos_idx = [], [], []
        for r, (tg, enc, (row_i, offset), (ex, row)) in enumerate(zip(target_rows, encoded, placement, loaded_rows)):
            pos = m.instruction_end_positions(torch.tensor([enc.input_ids]), torch.tensor([enc.labels]))[0]
            for (mod, target), p in zip(tg, pos):  # truncation may have cut some instructions
                requests.append(GroundingRequest(MODALITY_MODULE[mod], None, row[mod].grounding, media_key=(r, mod),
                                                 target=target))
                rows_idx.append(row_i)
                pos_idx.append(offset + p)
        if requests:
            grounding = {"requests": requests, "positions": (torch.tensor(rows_idx), torch.tensor(pos_idx))}
        return Batch(coll["input_ids"], coll["attention_mask"], coll["labels"], media, grounding,
                     position_ids=packed.position_ids if self.cfg.data.packing else None, examples=len(encoded))
