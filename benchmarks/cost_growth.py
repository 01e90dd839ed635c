"""How cost grows with batch size, sequence length and video length (one run, one machine).

    .venv/bin/python benchmarks/cost_growth.py --device cpu --config tiny

Prints three markdown tables:
  batch     Reamo.extract on B text inputs (greedy, fixed number of new tokens, KV cache): s per batch, ms per input
  sequence  one training step (forward + backward, LM loss on the last 32 tokens) at batch 4 and length L
  video     a video of D seconds: decode + preprocess (reamo.model.inputs.load_media), encoder, and Reamo.extract end to end
Each figure is the best of --repeats runs."""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def best_of(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def write_video(path: Path, seconds: float, fps: int = 24, size=(128, 96)) -> Path:
    """A moving square, H.264 (PyAV)."""
    import av
    import numpy as np

    w, h = size
    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=fps)
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        for i in range(int(seconds * fps)):
            img = np.zeros((h, w, 3), np.uint8)
            x = int((w - 20) * (i / max(1, seconds * fps - 1)))
            img[30:50, x:x + 20] = (255, 64, 0)
            for pkt in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(pkt)
        for pkt in s.encode():
            out.mux(pkt)
    return path


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default="tiny")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--batches", type=int, nargs="*", default=[1, 2, 4, 8, 16, 32])
    ap.add_argument("--lengths", type=int, nargs="*", default=[64, 128, 256, 512, 1024])
    ap.add_argument("--video-seconds", type=float, nargs="*", default=[2, 5, 10, 30, 60])
    ap.add_argument("--new-tokens", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    import torch

    from reamo.api import Reamo
    from reamo.model.inputs import load_media

    torch.manual_seed(0)
    reamo = Reamo.from_config(a.config, overrides={"max_length": max(a.lengths)}, device=a.device).eval()
    model = reamo.model
    dev = next(model.parameters()).device
    sync = torch.cuda.synchronize if a.device == "cuda" else (lambda: None)
    print(f"config={a.config} device={a.device} torch={torch.__version__} threads={torch.get_num_threads()}\n")

    # -- batch size ------------------------------------------------------------------------------------
    model.llm.generation_config.eos_token_id = None  # fixed-length decode: every input gets new_tokens
    orig = model.generate
    model.generate = lambda *x, **k: orig(*x, **{**k, "min_new_tokens": a.new_tokens})
    kw = dict(task="ner", schema=["person", "location"], max_new_tokens=a.new_tokens)
    reamo.extract([{"text": "warm up"}] * 2, **kw)
    print(f"| batch | s per batch | ms per input | generated tokens/s |  ({a.new_tokens} new tokens each)")
    print("|---|---|---|---|")
    for b in a.batches:
        items = [{"text": f"Report {i}: Alice met Bob near the station in Paris on day {i}."} for i in range(b)]
        t = best_of(lambda: reamo.extract(items, batch_size=b, **kw), a.repeats)
        print(f"| {b} | {t:.3f} | {1000 * t / b:.1f} | {b * a.new_tokens / t:.0f} |")

    # -- sequence length -------------------------------------------------------------------------------
    print("\n| sequence length | train step s (batch 4) | ms per token |")
    print("|---|---|---|")
    model.train()
    vocab = model.llm.get_input_embeddings().weight.shape[0]
    special = torch.tensor(model.special_ids.all, device=dev)
    for n in a.lengths:
        ids = torch.randint(10, min(vocab, 30000), (4, n), device=dev)
        ids[torch.isin(ids, special)] = 10  # plain text: no media placeholder or meta-response marker
        labels = ids.clone()
        labels[:, : n - 32] = -100

        def step():
            out = model.forward(ids, torch.ones_like(ids), labels)
            out.loss.backward()
            sync()

        t = best_of(step, a.repeats)
        model.zero_grad(set_to_none=True)
        print(f"| {n} | {t:.3f} | {1000 * t / (4 * n):.3f} |")
    model.eval()

    # -- video length ----------------------------------------------------------------------------------
    print("\n| video seconds | decode + preprocess s | encoder s | extract end to end s |")
    print("|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for sec in a.video_seconds:
            path = write_video(Path(tmp) / f"v{sec:g}.mp4", sec)
            loaded = []
            t_load = best_of(lambda: loaded.append(load_media("video", path, model.config, str(path))), a.repeats)
            x = loaded[-1].encoder_input[None].to(dev)
            t_enc = best_of(lambda: (model.encode_media("video", x), sync()), a.repeats)
            t_all = best_of(lambda: reamo.extract({"video": str(path)}, **kw), a.repeats)
            print(f"| {sec:g} | {t_load:.3f} | {t_enc:.4f} | {t_all:.3f} |")
    model.generate = orig


if __name__ == "__main__":
    main()
