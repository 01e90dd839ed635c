"""Training throughput per phase (samples/s, tokens/s), and the frozen-encoder embedding cache on against off.

    .venv/bin/python benchmarks/train_throughput.py --device cpu --config tiny --size smoke

Each phase trains one epoch of a generated corpus (reamo.synth) under DeepSpeed, from a random start (speed
does not depend on the weights). The phases that read media (alignment, grounding, meta) run three ways:
  off   no cache: every step decodes the media files, preprocesses them and runs the encoder
  cold  cache on, empty: features are computed and written (the first epoch of a run)
  warm  cache on, filled: features are read from disk (every later epoch, and every later phase)
Figures come from the run's metrics.jsonl (measured by the training loop over all its steps); each run is its
own process, so its peak resident memory (ru_maxrss, model build included) is that phase's alone."""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
PHASES = ["phase1_uie", "phase2_alignment", "phase3_grounding", "phase4_meta"]
MEDIA_PHASES = ("phase2_alignment", "phase3_grounding", "phase4_meta")


def run_phase(phase: str, corpus: Path, work: Path, a, cache: str | None) -> dict:
    from training.config import TrainConfig
    from training.engine import train

    out = work / f"{phase}-{cache or 'text'}"
    shutil.rmtree(out, ignore_errors=True)
    over = {"model": a.config, "init_from": None, "output_dir": str(out), "epochs": float(a.epochs),
            "data.train": [str(corpus / f"{phase}.jsonl")], "micro_batch_size": a.micro_batch,
            "log_every": 10**6, "progress": False, "precision": "auto"}
    if phase in MEDIA_PHASES:
        over["data.use_embedding_cache"] = cache != "off"
        over["data.cache_dir"] = str(work / "embedding_cache")
        if cache == "cold":
            shutil.rmtree(work / "embedding_cache", ignore_errors=True)
    train(TrainConfig.from_yaml(REPO / "configs" / "phases" / f"{phase}.yaml", over))
    last = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()][-1]
    return {"phase": phase, "cache": cache or "-", "steps": last["step"], "steps_per_s": last["steps_per_s"],
            "samples_per_s": last["samples_per_s"], "tokens_per_s": last["tokens_per_s"],
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default="tiny", help="model config (tiny, quickstart, ...)")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--size", default="smoke", choices=["smoke", "default"], help="generated corpus size")
    ap.add_argument("--micro-batch", type=int, default=8)
    ap.add_argument("--epochs", type=float, default=1.0)
    ap.add_argument("--phases", nargs="*", default=PHASES)
    ap.add_argument("--work", default=None, help="scratch directory (default: a temporary one)")
    ap.add_argument("--one", default=None, help=argparse.SUPPRESS)  # PHASE:CACHE, run in a child process
    a = ap.parse_args()
    if a.device == "cpu":
        os.environ.setdefault("DS_ACCELERATOR", "cpu")
        os.environ["CUDA_VISIBLE_DEVICES"] = ""
    work = Path(a.work or tempfile.mkdtemp(prefix="reamo-train-bench-"))
    corpus = work / "corpus"
    if a.one:
        phase, cache = a.one.split(":")
        print("RESULT " + json.dumps(run_phase(phase, corpus, work, a, cache or None)), flush=True)
        return
    import torch

    from reamo.synth import generate_corpus

    generate_corpus(corpus, a.size, seed=0)
    rows = []
    try:
        for phase in a.phases:
            for cache in (("off", "cold", "warm") if phase in MEDIA_PHASES else ("",)):
                cmd = [sys.executable, __file__, *sys.argv[1:], "--work", str(work), "--one", f"{phase}:{cache}"]
                out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
                rows.append(json.loads(next(x for x in out.splitlines() if x.startswith("RESULT "))[7:]))
                print(json.dumps(rows[-1]), flush=True)
    finally:
        if a.work is None:  # our temporary directory: corpus, checkpoints and cache of every run
            shutil.rmtree(work, ignore_errors=True)
    print(f"\nconfig={a.config} device={a.device} corpus={a.size} micro_batch={a.micro_batch} "
          f"torch={torch.__version__} threads={torch.get_num_threads()}")
    print("| phase | embedding cache | steps | steps/s | samples/s | tokens/s | peak RSS MiB | samples/s vs cache off |")
    print("|---|---|---|---|---|---|---|---|")
    off = {r["phase"]: r["samples_per_s"] for r in rows if r["cache"] == "off"}
    for r in rows:
        ratio = f"{r['samples_per_s'] / off[r['phase']]:.2f}x" if r["phase"] in off else ""
        print(f"| {r['phase']} | {r['cache']} | {r['steps']} | {r['steps_per_s']:.2f} | {r['samples_per_s']:.2f} | "
              f"{r['tokens_per_s']:.0f} | {r['peak_rss_mib']:.0f} | {ratio} |")


if __name__ == "__main__":
    main()
