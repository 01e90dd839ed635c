"""`Reamo.extract`: inputs -> prompts -> batched generation -> parsed answer -> every instruction grounded.

Each instruction's query is the LLM's last hidden state at its `</Instruction>` token, computed by one
forward pass over prompt + answer (batched). A bad item (missing file, corrupt media, unsupported modality,
empty input) gets a typed error on its own result; the rest of the batch is still answered.
"""
from __future__ import annotations

import logging

import torch
from transformers import LogitsProcessorList

from grounding import MODULES, GroundingRequest
from reamo.errors import InputError, ReamoError
from reamo.inference.copy_spans import CopySpans
from reamo.records.formats import parse_answer
from reamo.model.inputs import as_item, load_item_media
from reamo.model.processor import IGNORE_INDEX
from reamo.records.results import ExtractionResult, InstructionResult
from reamo.records.schemas import normalize_schema

log = logging.getLogger("reamo.inference.extract")


def _attach(result: ExtractionResult, targets: list, modality: str, grounding: dict) -> None:
    for t in targets:
        item = result.target(t)
        if item is not None:
            item.grounding[modality] = grounding


def extract(model, inputs, task: str = "ner", schema=None, max_new_tokens: int = 256, batch_size: int = 8,
            progress: bool = False, base_dir=None, answers: list[str] | None = None,
            copy_spans: bool = False) -> list[ExtractionResult]:
    """`answers` (one per input): answers to use instead of generating them (teacher forcing, e.g. the gold
    answer with its meta-response), so that the parse, the </Instruction> states and the grounding heads can
    be evaluated apart from what the LLM would have written. `copy_spans`: the spans of an input with text are
    decoded as pieces of that text (reamo.inference.copy_spans)."""
    schema = normalize_schema(task, schema)  # call-level errors (unknown task, bad schema) raise here
    items = list(inputs)
    if answers is not None and len(answers) != len(items):
        raise InputError("answers", f"{len(answers)} answers for {len(items)} inputs")
    results: list[ExtractionResult] = []
    batches = range(0, len(items), batch_size)
    if progress:
        from tqdm.auto import tqdm

        batches = tqdm(batches, desc="extract", unit="batch")
    for lo in batches:
        forced = answers[lo: lo + batch_size] if answers is not None else None
        results.extend(_extract_batch(model, items[lo: lo + batch_size], lo, task, schema, max_new_tokens, base_dir,
                                      forced, copy_spans))
    return results


@torch.no_grad()
def _extract_batch(model, raw_items, offset, task, schema, max_new_tokens, base_dir,
                   forced=None, copy_spans=False) -> list[ExtractionResult]:
    results, runnable = [], []
    for k, raw in enumerate(raw_items):
        idx = offset + k
        res = ExtractionResult(id=str(idx), task=task, schema=schema)
        try:
            item = as_item(raw, idx, base_dir)
            res.id, res.text = item.id or str(idx), item.text
            res.media = {m: (str(v) if isinstance(v, str) or hasattr(v, "__fspath__") else f"<{type(v).__name__}>")
                         for m, v in item.media.items()}
            loaded = load_item_media(item, model.config, idx)
            res.loaded = loaded
            prompt = model.prompt(task, schema, item.text, list(loaded))
            enc = model.processor.encode(prompt)
            if enc.truncated:
                res.warnings.append(f"input longer than max_length={model.config.max_length} tokens: text truncated")
            runnable.append((res, enc, loaded, None if forced is None else forced[k]))
        except ReamoError as e:
            res.error = e
        results.append(res)
    if not runnable:
        return results
    device = model.device
    proc, tok = model.processor, model.tokenizer
    media = model.media_batch([r[2] for r in runnable]).to(device)
    if forced is not None:
        answers_ids = [tok.encode(r[3], add_special_tokens=False) for r in runnable]
    else:
        batch = proc.collate([r[1] for r in runnable], padding_side="left")
        processors = LogitsProcessorList([CopySpans(tok, [r[0].text for r in runnable], task)] if copy_spans else [])
        gen = model.generate(batch["input_ids"].to(device), batch["attention_mask"].to(device), media,
                             max_new_tokens=max_new_tokens, logits_processor=processors)
        answers_ids = []
        for row in gen.tolist():
            cut = len(row)
            for j, t in enumerate(row):
                if t == tok.eos_token_id:
                    cut = j
                    break
            answers_ids.append(row[:cut])
    # one forward over prompt + answer for the hidden states of the </Instruction> tokens
    full = [type(r[1])(r[1].input_ids + a, [IGNORE_INDEX] * len(r[1].input_ids) + a, r[1].media_counts)
            for r, a in zip(runnable, answers_ids)]
    need_states = any(model.special_ids.instruction_end in a for a in answers_ids)
    hidden = None
    if need_states:
        fb = proc.collate(full, padding_side="left")
        out = model(fb["input_ids"].to(device), fb["attention_mask"].to(device), media=media, output_hidden_states=True)
        hidden = out.hidden_states
        positions = model.instruction_end_positions(fb["input_ids"], fb["labels"])
    requests, owners = [], []
    for row, ((res, enc, loaded, _), a_ids) in enumerate(zip(runnable, answers_ids)):
        text = tok.decode(a_ids, skip_special_tokens=False)
        res.raw_output = text
        parsed = parse_answer(text, task, schema, input_text=res.text)
        res.entities, res.relations, res.events = parsed.entities, parsed.relations, parsed.events
        res.warnings += parsed.warnings
        for ins in parsed.instructions:
            occurrence = text.count("</Instruction>", 0, ins.end)
            ir = InstructionResult(ins.module, ins.phrase, ins.targets)
            res.instructions.append(ir)
            pos = positions[row] if hidden is not None else []
            if occurrence >= len(pos):
                ir.error = "no </Instruction> token found for this instruction"
                continue
            modality = MODULES[ins.module]
            lm = loaded.get(modality)
            requests.append(GroundingRequest(ins.module, hidden[row, pos[occurrence]],
                                             lm.grounding if lm is not None else None, media_key=(row, modality)))
            owners.append((res, ir, modality))
    if requests:
        for (res, ir, modality), g in zip(owners, model.heads.ground(requests)):
            d = g.to_dict()
            if "error" in d:
                ir.error = d["error"]
                res.warnings.append(f"instruction {ir.phrase!r}: {d['error']}")
            else:
                ir.grounding = d
                _attach(res, ir.targets, modality, d)
    return results
