"""Extraction throughput: Reamo.extract on a batch against the same inputs in a per-sample loop.

    .venv/bin/python benchmarks/extract_throughput.py --device cpu --config tiny --batch 16 --new-tokens 32
Prints instances/s and generated tokens/s for both and the speed-up (greedy decode with KV cache)."""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default="tiny")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--new-tokens", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    import torch

    from reamo.api import Reamo

    torch.manual_seed(0)
    reamo = Reamo.from_config(a.config, device=a.device).eval()
    texts = [f"Report {i}: Alice met Bob near the station in Paris on day {i}." for i in range(a.batch)]
    items = [{"text": t} for t in texts]
    kw = dict(task="ner", schema=["person", "location"], max_new_tokens=a.new_tokens)
    # fixed-length decode: no eos, so both sides generate exactly new_tokens per item
    reamo.model.llm.generation_config.eos_token_id = None
    orig = reamo.model.generate
    reamo.model.generate = lambda *x, **k: orig(*x, **{**k, "min_new_tokens": a.new_tokens})
    reamo.extract(items[:2], **kw)  # warm-up
    def timed(fn):
        best = float("inf")
        for _ in range(a.repeats):
            t = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - t)
        return best
    tb = timed(lambda: reamo.extract(items, batch_size=a.batch, **kw))
    tl = timed(lambda: [reamo.extract(x, **kw) for x in items])
    n, toks = len(items), len(items) * a.new_tokens
    print(f"config={a.config} device={a.device} batch={a.batch} new_tokens={a.new_tokens} torch={torch.__version__}")
    print(f"batched : {n / tb:8.2f} instances/s  {toks / tb:9.1f} generated tokens/s  ({tb:.3f} s)")
    print(f"per-item: {n / tl:8.2f} instances/s  {toks / tl:9.1f} generated tokens/s  ({tl:.3f} s)")
    print(f"speed-up: {tl / tb:.2f}x")


if __name__ == "__main__":
    main()
