"""The activation model of `reamo plan` against what autograd really saves, at SmolLM2-135M shapes on the CPU
(fp32, LoRA r=16, new token rows): for each shape, the bytes of the tensors saved during one training
forward (parameters excluded) and the model's prediction.

    .venv/bin/python benchmarks/activation_memory.py --shapes 256x2x64 512x4x64 1024x2x128
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def build(seq: int):
    from reamo.api import Reamo
    from training.config import TrainConfig
    from training.engine import param_groups

    model = Reamo.from_config("smollm2-135m", overrides={"max_length": seq}).model.train()
    cfg = TrainConfig.from_yaml("configs/phases/phase4_meta.yaml", {"model": "smollm2-135m",
                                                                     "trainable": ["lora", "new_tokens"]})
    param_groups(model, cfg)
    return model, cfg


def measured_saved_bytes(model, cfg, seq: int, micro_batch: int, answer: int, checkpointing: bool) -> int:
    """Bytes of the tensors autograd saves during one training forward (parameters excluded)."""
    import torch

    from fullscale import ordinary_ids, sequences
    from training.batch import Batch

    if checkpointing:
        model.llm.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    else:
        model.llm.gradient_checkpointing_disable()
    vocab = model.llm.get_input_embeddings().weight.shape[0]
    ids, labels = sequences(micro_batch, seq, answer, ordinary_ids(model.tokenizer, vocab))
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    saved = {}

    def pack(x):
        ptr = x.untyped_storage().data_ptr()
        if ptr not in params:
            saved[ptr] = x.untyped_storage().nbytes()
        return x

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda x: x):
        loss = model.training_losses(Batch(ids, torch.ones_like(ids), labels), cfg.loss_weights)["loss"]
    loss.backward()
    model.zero_grad(set_to_none=True)
    return sum(saved.values())


def predicted_saved_bytes(seq: int, micro_batch: int, answer: int, checkpointing: bool) -> int:
    from reamo.planning import SAVED, activation_bytes, count_parameters

    _, shape = count_parameters("smollm2-135m", "phase4_meta")
    act = activation_bytes(shape, seq, micro_batch, answer, dtype_bytes=4, checkpointing=checkpointing)
    return int(sum(act[k] for k in SAVED))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shapes", nargs="+", default=["256x2x64", "512x4x64", "1024x2x128"],
                    help="SEQxMICROBATCHxANSWER")
    a = ap.parse_args()
    model, cfg = build(max(int(s.split("x")[0]) for s in a.shapes))
    for spec in a.shapes:
        seq, mb, ans = (int(x) for x in spec.split("x"))
        for ckpt in (False, True):
            m = measured_saved_bytes(model, cfg, seq, mb, ans, ckpt)
            p = predicted_saved_bytes(seq, mb, ans, ckpt)
            print(json.dumps({"seq": seq, "micro_batch": mb, "answer": ans, "checkpointing": ckpt,
                              "measured_mib": round(m / 2**20, 1), "predicted_mib": round(p / 2**20, 1),
                              "error": f"{100 * (p - m) / m:+.1f}%"}), flush=True)


if __name__ == "__main__":
    main()
