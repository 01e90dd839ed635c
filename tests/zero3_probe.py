"""Run by tests/test_distributed.py under the deepspeed launcher (2 CPU processes, ZeRO-3): train phase 1 (text;
every rank runs the same modules, see the note in training/engine.py) on a small corpus, then, on every rank
with the parameters gathered, extract with the trained in-memory model and keep the values of the tensors the
checkpoint saves. Rank 0 writes both next to the exported checkpoint.

    deepspeed --num_gpus 2 tests/zero3_probe.py CORPUS OUT
"""
import json
import sys
from pathlib import Path

import torch
from safetensors.torch import save_file

from reamo.api import Reamo
from reamo.model.checkpoint import saved_parameters
from training.config import TrainConfig
from training.engine import train

INPUTS = [{"text": "Alice walks the dog Rex"}, {"text": "Bus 12 carries Bob"}, {"text": "Nobody here"}]


def main(corpus: str, out: str):
    cfg = TrainConfig.from_yaml("configs/phases/phase1_uie.yaml", {
        "data.train": [f"{corpus}/phase1_uie.jsonl"], "output_dir": out, "init_from": None, "max_steps": 3,
        "micro_batch_size": 2, "progress": False, "deepspeed": "configs/deepspeed/zero3.json",
        "lr": {g: 1e-2 for g in ("lora", "new_tokens")}})

    def on_export(model, rank):
        names = {id(p): n for n, p in model.named_parameters()}
        tensors = {names[id(p)]: p.detach().clone() for p in saved_parameters(model)}
        results = Reamo(model).extract(INPUTS, "ner", ["person", "animal", "vehicle"], max_new_tokens=12)
        if rank == 0:
            save_file({k: v.contiguous() for k, v in tensors.items()}, str(Path(out) / "in_memory.safetensors"))
            (Path(out) / "in_memory_extract.json").write_text(json.dumps([r.to_dict() for r in results]))
            print("probe: shapes", {k: list(v.shape) for k, v in list(tensors.items())[:3]}, flush=True)

    train(cfg, on_export=on_export)


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--local_rank")]
    main(*args)
