"""Where `extract` spends its time with a trained model, per input combination: seconds per item for the
media encoder, generation and each grounding head, at batch 1 and batch 16, with the model's own answers (the
number of instructions the heads ran is printed beside, so a zero is visible); then how the video tracking head
grows with video length (a VideoTracking instruction forced, videos of D seconds).

    .venv/bin/python benchmarks/extract_cost.py --model runs/quickstart/model --records runs/quickstart/corpus/test.jsonl
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

PARTS = ["encode", "generate", "image head", "audio head", "video head"]


class Timers:
    """Wraps the model's encoder, generation and heads; sums seconds per part."""

    def __init__(self, model):
        self.s = defaultdict(float)
        heads = model.heads
        self._wrap(model, "encode_media", "encode")
        self._wrap(model, "generate", "generate")
        self._wrap(heads, "_run_image", "image head")
        self._wrap(heads, "_run_audio", "audio head")
        self._wrap(heads, "_run_video", "video head")
        if heads.audio is not None:
            self._wrap(heads.audio, "predict_windows", "audio head")

    def _wrap(self, obj, name, part):
        fn = getattr(obj, name)

        def timed(*a, **k):
            t = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                self.s[part] += time.perf_counter() - t

        setattr(obj, name, timed)

    def take(self) -> dict:
        out = dict(self.s)
        self.s.clear()
        return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--records", required=True)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--video-seconds", type=float, nargs="+", default=[2, 10, 30, 60])
    ap.add_argument("--max-new-tokens", type=int, default=96)
    a = ap.parse_args()
    import torch

    from reamo.api import Reamo
    from reamo.records import read_jsonl

    torch.manual_seed(0)
    reamo = Reamo.from_pretrained(a.model).eval(merge_lora=True)
    timers = Timers(reamo.model)
    base = Path(a.records).parent
    by_combo = defaultdict(list)
    for r in read_jsonl(a.records):
        if r.task == "ner":
            by_combo[r.extra.get("combo", "+".join(m[0].upper() for m in r.modalities))].append(r)
    reamo.extract(by_combo[next(iter(by_combo))][:2], "ner", by_combo[next(iter(by_combo))][0].schema,
                  max_new_tokens=8, base_dir=base)  # warm-up
    timers.take()
    print(f"## extract cost per item (s), NER records of {a.records}, model {a.model}\n")
    print("| input | batch | items | instructions run | " + " | ".join(PARTS) + " | total |")
    print("|---|---|---|---|" + "---|" * len(PARTS) + "---|")
    for combo in sorted(by_combo):
        recs = by_combo[combo][: a.batch]
        for batch in (1, a.batch):
            t = time.perf_counter()
            res = []
            for lo in range(0, len(recs), batch):
                res += reamo.extract(recs[lo: lo + batch], "ner", recs[0].schema, batch_size=batch, base_dir=base,
                                     max_new_tokens=a.max_new_tokens)
            total = time.perf_counter() - t
            parts = timers.take()
            n = len(recs)
            ran = sum(1 for r in res for i in r.instructions if i.grounding is not None)
            print(f"| {combo} | {batch} | {n} | {ran} | " + " | ".join(f"{parts.get(p, 0.0) / n:.4f}" for p in PARTS)
                  + f" | {total / n:.4f} |", flush=True)
    # video length: a VideoTracking instruction forced, so that the tracking head runs on every video
    from cost_growth import write_video

    work = Path(tempfile.mkdtemp(prefix="reamo-cost-"))
    answer = "(the thing, animal)<Module>VideoTracking</Module><Instruction>the thing</Instruction>"
    print("\n## video length (one item, VideoTracking forced)\n")
    print("| seconds | encode | video head | total |")
    print("|---|---|---|---|")
    for sec in a.video_seconds:
        path = write_video(work / f"v{sec:g}.mp4", sec)
        t = time.perf_counter()
        r = reamo.extract({"text": "the thing moves", "video": str(path)}, "ner", ["animal"], answers=[answer])
        total = time.perf_counter() - t
        parts = timers.take()
        assert r.ok and r.instructions and r.instructions[0].grounding is not None, r.error
        print(f"| {sec:g} | {parts.get('encode', 0.0):.4f} | {parts.get('video head', 0.0):.4f} | {total:.4f} |",
              flush=True)
        path.unlink()


if __name__ == "__main__":
    main()
