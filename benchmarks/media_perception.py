"""Where media-only perception is lost in the quickstart: in the frozen encoders, or in the LLM's tuning.

Two figures per modality, on the items whose only medium is that modality (with or without text), labelled with
the entity types the medium shows (the record's caption):
1. probe: a logistic-regression probe per entity type on the encoder features that become the LLM's media tokens
   (the model's `media_tokens` vectors, flattened), fitted on the first 80% of the train items and scored on the
   other 20% and on `--eval-split`. High accuracy means the features carry what the medium holds.
2. caption: for each `--captions` model folder (phase folders' `final`, or a saved model), the share of the
   media-only items of each `--caption-splits` split whose generated caption (the phase-2 prompt) names exactly
   the types shown (on train: how well phase 2 fitted; on dev: how well it generalises). On a split with held-out
   (type, combination) pairs (the test split), the items showing one are counted apart too ("heldout").

    .venv/bin/python benchmarks/media_perception.py --corpus runs/quickstart/corpus --model runs/quickstart/model \
        --captions runs/quickstart/phase2_alignment/final runs/quickstart/phase3_grounding/final runs/quickstart/model
    # can the features tell a held-out pair (a vehicle heard alone)? the probe on every item that holds the medium
    .venv/bin/python benchmarks/media_perception.py --corpus runs/quickstart/corpus --model runs/quickstart/model \
        --probe-items all --eval-split test
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

TYPES = ("person", "animal", "vehicle")
MODALITIES = ("audio", "video", "image")


def caption_types(caption: str) -> set[str]:
    """'a person and a animal' -> {'person', 'animal'} (the corpus's caption form); a scene-graph text (what MS-PIT
    stage 1b teaches the same prompt to answer) -> its objects: 'objects: person, animal; attributes: ...'."""
    if caption.startswith("objects:"):
        return {w.strip() for w in caption[len("objects:"):].split(";")[0].split(",") if w.strip()}
    return {w.strip()[2:] if w.strip().startswith("a ") else w.strip() for w in caption.split(" and ") if w.strip()}


def single_medium(records: list[dict], modality: str, with_text: bool = True) -> list[dict]:
    out = []
    for r in records:
        media = [m for m in MODALITIES if r.get(m)]
        if media == [modality] and (with_text or not r.get("text")):
            out.append(r)
    return out


def with_medium(records: list[dict], modality: str) -> list[dict]:
    """The records whose input holds `modality`, whatever else it holds."""
    return [r for r in records if r.get(modality)]


def features(model, records, corpus: Path, modality: str):
    import numpy as np
    import torch

    from reamo.model.inputs import load_media
    from reamo.model.projector import select_media_tokens

    n = model.config.media_tokens[modality]
    xs, ys = [], []
    for r in records:
        lm = load_media(modality, corpus / r[modality], model.config, r[modality])
        with torch.no_grad():
            f = model.encode_media(modality, lm.encoder_input[None])
        tokens = None if f.tokens is None else f.tokens.float()
        xs.append(select_media_tokens(f.pooled.float(), tokens, n)[0].flatten().numpy())
        shown = caption_types(r["caption"])
        ys.append([t in shown for t in TYPES])
    return np.array(xs), np.array(ys)


def probe(model, train, evaluation, corpus: Path, modality: str, pairs: set[tuple[str, str]] = frozenset()) -> dict:
    """Per type: accuracy on the last 20% of `train` and on `evaluation`; and `eval_exact_set`, the share of
    evaluation items whose predicted set of types is exactly the shown one (apart on the items showing a held-out
    pair, when `pairs` is given: `heldout`)."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    from quickstart_heldout import holds_heldout_pair
    from reamo.records import Record

    xtr, ytr = features(model, train, corpus, modality)
    xev, yev = features(model, evaluation, corpus, modality)
    k = int(len(xtr) * 0.8)
    mu, sd = xtr[:k].mean(0), xtr[:k].std(0) + 1e-6
    out = {"train_items": k, "heldout_train_items": len(xtr) - k, "eval_items": len(xev)}
    pred = np.zeros_like(yev)
    for j, t in enumerate(TYPES):
        if ytr[:k, j].min() == ytr[:k, j].max():
            out[t] = None
            pred[:, j] = ytr[0, j]
            continue
        clf = LogisticRegression(max_iter=3000, C=0.1).fit((xtr[:k] - mu) / sd, ytr[:k, j])
        pred[:, j] = clf.predict((xev - mu) / sd)
        out[t] = {"heldout_train_acc": round(clf.score((xtr[k:] - mu) / sd, ytr[k:, j]), 3),
                  "eval_acc": round(clf.score((xev - mu) / sd, yev[:, j]), 3),
                  "eval_base_rate": round(float(max(yev[:, j].mean(), 1 - yev[:, j].mean())), 3)}
    exact = (pred == yev).all(1)
    out["eval_exact_set"] = round(float(exact.mean()), 3) if len(exact) else None
    held = [i for i, r in enumerate(evaluation) if pairs and holds_heldout_pair(Record.from_dict(r), pairs)]
    if held:
        out["heldout"] = {"items": len(held), "exact_set": int(exact[held].sum())}
    return out


def caption_accuracy(model, records, corpus: Path, modality: str, batch: int = 8,
                     pairs: set[tuple[str, str]] = frozenset()) -> dict:
    import torch

    from quickstart_heldout import holds_heldout_pair
    from reamo.model.inputs import load_media
    from reamo.model.prompts import caption_prompt, chat_prompt
    from reamo.records import Record

    prompt = model.processor.encode(chat_prompt(caption_prompt(modality, model.processor.placeholder(modality)),
                                                model.config.llm.chat_template))
    right, examples, held = 0, [], {"items": 0, "right": 0}
    for b in range(0, len(records), batch):
        chunk = records[b:b + batch]
        encs = [prompt] * len(chunk)
        media = model.media_batch([{modality: load_media(modality, corpus / r[modality], model.config, r[modality])}
                                   for r in chunk])
        ids = model.processor.collate(encs, padding_side="left")
        with torch.no_grad():
            gen = model.generate(ids["input_ids"], ids["attention_mask"], media, max_new_tokens=16)
        for r, row in zip(chunk, gen.tolist()):
            said = model.tokenizer.decode(row, skip_special_tokens=True).strip()
            ok = caption_types(said) == caption_types(r["caption"])
            right += ok
            if pairs and holds_heldout_pair(Record.from_dict(r), pairs):
                held["items"] += 1
                held["right"] += ok
            if len(examples) < 3:
                examples.append({"caption": r["caption"], "generated": said})
    out = {"items": len(records), "right": right, "accuracy": round(right / max(1, len(records)), 3),
           "examples": examples}
    if held["items"]:
        out["heldout"] = held
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--model", required=True, help="a model folder whose encoders are probed")
    ap.add_argument("--captions", nargs="*", default=[], help="model folders whose captions are scored")
    ap.add_argument("--eval-split", default="dev")
    ap.add_argument("--caption-splits", nargs="+", default=["dev"], help="splits whose media-only items are captioned")
    ap.add_argument("--max-train", type=int, default=400)
    ap.add_argument("--probe-items", choices=("single", "all"), default="single",
                    help="the items the probe fits and scores: those whose only medium is the modality (single), or "
                         "every item that holds it (all: e.g. vehicles heard beside an image, and on the test split "
                         "the audio-only items with a vehicle, a held-out pair)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="config override of the probed model, e.g. media.video_clip_s=0.5 (YAML value)")
    ap.add_argument("--modalities", nargs="+", default=list(MODALITIES))
    a = ap.parse_args()
    import torch

    from reamo.api import Reamo

    torch.manual_seed(0)
    corpus = Path(a.corpus)
    read = lambda split: [json.loads(line) for line in open(corpus / f"{split}.jsonl")]  # noqa: E731
    train, evaluation = read("train"), read(a.eval_split)
    from reamo.cli import parse_sets

    overrides = parse_sets(a.set)
    model = Reamo.from_pretrained(a.model, overrides=overrides).model
    info = json.loads((corpus / "corpus.json").read_text()) if (corpus / "corpus.json").exists() else {}
    pairs = {(t, c) for t, c in info.get("held_out", {}).get("type_modality", [])}
    items = single_medium if a.probe_items == "single" else with_medium
    for m in a.modalities:
        row = probe(model, items(train, m)[:a.max_train], items(evaluation, m), corpus, m, pairs)
        print(json.dumps({"probe": m, "items": a.probe_items, "overrides": overrides, **row}), flush=True)
    for d in a.captions:
        cap = Reamo.from_pretrained(d).eval(merge_lora=True).model
        for split in a.caption_splits:
            records = read(split)
            for m in a.modalities:
                row = caption_accuracy(cap, single_medium(records, m, with_text=False), corpus, m, pairs=pairs)
                print(json.dumps({"captions": d, "split": split, "modality": m, **row}), flush=True)


if __name__ == "__main__":
    main()
