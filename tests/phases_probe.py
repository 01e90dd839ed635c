"""Run by tests/test_distributed.py under the deepspeed launcher (or as one process): every tuning phase and
MS-PIT stage in turn, from a random tiny model, on one corpus, under one DeepSpeed config. Each phase writes its
metrics (a loss per optimizer step) to OUT/<config name>/metrics.jsonl and exports OUT/<config name>/final.

    deepspeed --num_gpus 2 tests/phases_probe.py CORPUS OUT configs/deepspeed/zero2.json [--steps 3] [--micro 2]
        [--accum 1] [--phases phase1_uie phase4_meta ...] [--shards DIR [--workers N]]
"""
import argparse
import atexit
import os
import sys
from pathlib import Path

PHASES = {  # phase config -> the corpus file it reads
    "phase1_uie": "phase1_uie", "phase2_alignment": "phase2_alignment", "phase3_grounding": "phase3_grounding",
    "phase4_meta": "phase4_meta", "mspit_1a_schema_text": "mspit_1a_schema_text", "mspit_1b_schema_visual": "phase2_alignment",
    "mspit_2_joint": "phase4_meta"}


def _report_group() -> None:
    """Registered before any group exists, so it runs after every other exit handler: whether the process group
    was destroyed before the interpreter's finalisation (tests/test_distributed.py reads the line)."""
    import torch.distributed as dist

    state = "alive" if dist.is_initialized() else "destroyed"
    # one write with its newline (the ranks share the launcher's pipe; a line can still follow another's unbroken)
    sys.stdout.write(f"rank {os.environ.get('RANK', '0')}: process group at exit: {state}\n")
    sys.stdout.flush()


def main(argv=None):
    from training.config import TrainConfig
    from training.engine import train

    ap = argparse.ArgumentParser()
    ap.add_argument("corpus")
    ap.add_argument("out")
    ap.add_argument("deepspeed")
    ap.add_argument("--phases", nargs="*", default=list(PHASES))
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--micro", type=int, default=2)
    ap.add_argument("--global-batch", type=int, default=None)
    ap.add_argument("--packing", action="store_true")
    ap.add_argument("--shards", help="a folder with one folder of webdataset shards per corpus file (streamed)")
    ap.add_argument("--workers", type=int, default=0, help="DataLoader workers of the streamed shards")
    ap.add_argument("--save-every", type=int, default=0)
    ap.add_argument("--stop-after", type=int, default=None, help="leave the phase after this step (to resume it)")
    ap.add_argument("--local_rank", type=int, default=None)  # the deepspeed launcher's
    a = ap.parse_args(argv)
    atexit.register(_report_group)
    repo = Path(__file__).resolve().parents[1]
    for name in a.phases:
        train_data = f"{a.shards}/{PHASES[name]}" if a.shards else f"{a.corpus}/{PHASES[name]}.jsonl"
        over = {"data.train": [train_data], "data.workers": a.workers, "output_dir": f"{a.out}/{name}",
                "init_from": None, "model": "tiny", "max_steps": a.steps, "micro_batch_size": a.micro,
                "global_batch_size": a.global_batch, "log_every": 1, "progress": False, "deepspeed": a.deepspeed,
                "data.cache_dir": f"{a.out}/embedding_cache", "data.packing": a.packing,
                "save_every": a.save_every}
        train(TrainConfig.from_yaml(repo / "configs" / "phases" / f"{name}.yaml", over), stop_after_steps=a.stop_after)


if __name__ == "__main__":
    sys.exit(main())
