"""Padding-free packing against a plain transformers.Trainer + peft with group_by_length, on a real phase-1 mix.

    .venv/bin/python benchmarks/packing_throughput.py --config smollm2-135m --examples 192 --micro-batch 8

The mix: CoNLL-2003 train (NER), CoNLL04 train (RE) and RAMS dev (EE; the only RAMS split in ../shared/data,
read here for its lengths, nothing is evaluated), drawn seeded in equal shares. Each example is the phase-1
prompt Reamo builds for it (the schema in the prompt) with its answer, tokenized once by Reamo's processor; every
side trains on these same token sequences, one epoch, the same number of examples per micro-batch, the same LoRA:
  reamo packed   training.engine.train (DeepSpeed ZeRO-2, phase 1: LoRA + new token rows), data.packing: true
  reamo grouped  the same with data.group_by_length: true (micro-batches of like lengths, as the HF side groups)
  reamo padded   the same with padding to each micro-batch's longest example
  hf             transformers.Trainer over get_peft_model, train_sampling_strategy="group_by_length" (its usual
                 length grouping), DataCollatorForSeq2Seq padding, labels to the model
Tokens/s counts example tokens only (no padding), over the steps after the first --warmup on each side; padding
fraction = padded positions / all positions the model computed.

On a GPU (scripts/gpu_bench.sh runs it at vicuna-7b shapes, ZeRO-2 and ZeRO-3, on 1 and 2 GPUs) each row also
gives peak memory and MFU: (4 x frozen + 6 x trainable matmul weights + 12 x layers x hidden x mean length)
FLOPs per example token (benchmarks/fullscale.py's count; LoRA leaves frozen weights without weight gradients)
over --peak-tflops. Under the deepspeed launcher the Reamo rows run on every process (data parallel) and count
the tokens of all of them; rank 0 prints."""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("DS_ACCELERATOR", "cpu")

REPO = Path(__file__).resolve().parents[1]
PEAK_BF16_TFLOPS = {"H200": 989.0, "H100": 989.0, "A100": 312.0, "L40S": 362.0, "A10": 125.0}  # dense bf16
SOURCES = [("conll2003", "text/conll2003/train.txt"), ("conll04", "text/conll04/conll04_train.json"),
           ("rams", "text/rams/dev.jsonlines")]


def phase1_mix(data: Path, n: int, seed: int) -> list:
    """n records drawn seeded in equal shares from SOURCES (read with Reamo's converters)."""
    import numpy as np

    from reamo.converters.registry import read_format

    out = []
    rng = np.random.default_rng(seed)
    for k, (fmt, rel) in enumerate(SOURCES):
        recs = [r for r in read_format(fmt, data / rel) if r.text]
        take = n // len(SOURCES) + (1 if k < n % len(SOURCES) else 0)
        out += [recs[i] for i in sorted(rng.choice(len(recs), take, replace=False))]
    return out


def encode(model, records, max_length: int):
    """Reamo's phase-1 examples of the records, tokenized: (EncodedExample list, records kept)."""
    from reamo.records.formats import answer_and_groundings
    from reamo.records.schemas import normalize_schema

    encs = []
    for r in records:
        prompt = model.prompt(r.task, normalize_schema(r.task, r.schema), r.text, [])
        encs.append(model.processor.encode(prompt, answer_and_groundings(r, ground=False)[0]))
    return encs


def rate(metrics: list[dict], warmup: int) -> tuple[float, float]:
    """(tokens/s, s/step) over the steps after `warmup`, from the loop's cumulative metrics."""
    def at(k):
        m = metrics[k - 1]
        t = m["step"] / m["steps_per_s"]
        return t, m["tokens_per_s"] * t
    t0, n0 = at(warmup) if warmup else (0.0, 0.0)
    t1, n1 = at(len(metrics))
    return (n1 - n0) / (t1 - t0), (t1 - t0) / (len(metrics) - warmup)


def _cuda_peak_gib() -> float:
    import torch

    return torch.cuda.max_memory_allocated() / 2**30 if torch.cuda.is_available() else float("nan")


def reamo_side(a, work: Path, records, side: str) -> dict:
    """One Reamo row: `side` is packed, grouped (packed and grouped by length) or padded."""
    from reamo.records import write_jsonl
    from training.config import TrainConfig
    from training.engine import train

    data = work / "mix.jsonl"
    write_jsonl(data, records)
    out = work / side
    shutil.rmtree(out, ignore_errors=True)
    cfg = TrainConfig.from_yaml(REPO / "configs" / "phases" / "phase1_uie.yaml", {
        "model": a.config, "init_from": None, "output_dir": str(out), "data.train": [str(data)],
        "micro_batch_size": a.micro_batch, "max_length": a.max_length, "epochs": 1.0, "log_every": 1,
        "progress": False, "data.packing": side != "padded", "data.group_by_length": side == "grouped",
        "precision": "auto", "seed": a.seed, "deepspeed": a.deepspeed})
    import torch

    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    train(cfg)
    metrics = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    tps, sps = rate(metrics, a.warmup)
    world = int(os.environ.get("WORLD_SIZE", 1))
    name = f"reamo {side}" + (f", {Path(a.deepspeed).stem}" if a.gpu_rows else "")
    # the loop counts rank 0's tokens; every rank trains on as many (the same micro-batch size)
    return {"side": name + (f", {world} GPUs" if world > 1 else ""), "tokens_per_s": tps * world,
            "s_per_step": sps, "steps": len(metrics), "peak_gib": _cuda_peak_gib()}


def reamo_padding(model, encs, a, side: str) -> float:
    """Padding fraction of Reamo's micro-batches (the training loader's own order and grouping) on `side`."""
    from training.config import TrainConfig
    from training.data import PhaseLoader
    from training.packing import pack

    cfg = TrainConfig(micro_batch_size=a.micro_batch, seed=a.seed, epochs=1.0)
    cfg = cfg.replace(data=cfg.data.replace(group_by_length=side == "grouped"))
    loader = PhaseLoader(encs, lambda items: items, cfg, rank=0, world=1, skipped=0,
                         length=lambda e: len(e.input_ids))
    pad_id = model.tokenizer.pad_token_id
    real = total = 0
    for _, (mb,) in loader.iter_steps():
        m = model.processor.collate(mb)["attention_mask"] if side == "padded" else \
            pack(mb, a.max_length, pad_id).attention_mask
        real += int(m.sum())
        total += m.numel()
    return 1 - real / total


def hf_side(a, work: Path, encs) -> dict:
    import torch
    from transformers import DataCollatorForSeq2Seq, Trainer, TrainingArguments

    from benchmarks.fullscale import Meter, hf_lora_llm, step_clock

    tok, llm = hf_lora_llm(a.config, a.max_length)
    data = [{"input_ids": e.input_ids, "labels": e.labels} for e in encs]
    seen = {"real": 0, "total": 0, "per_step": []}

    class Collate(DataCollatorForSeq2Seq):
        def __call__(self, features, return_tensors=None):
            b = super().__call__(features, return_tensors)
            seen["real"] += int(b["attention_mask"].sum())
            seen["total"] += b["attention_mask"].numel()
            seen["per_step"].append(int(b["attention_mask"].sum()))
            return b

    cuda = torch.cuda.is_available()
    if cuda:
        llm = llm.to(torch.bfloat16)
        torch.cuda.reset_peak_memory_stats()
    clock = step_clock(Meter("cuda" if cuda else "cpu"))
    args = TrainingArguments(output_dir=str(work / "hf"), per_device_train_batch_size=a.micro_batch,
                             num_train_epochs=1, learning_rate=2e-4, use_cpu=not cuda, bf16=cuda, optim="adamw_torch",
                             logging_steps=10**6, save_strategy="no", report_to=[], dataloader_num_workers=0,
                             disable_tqdm=True, max_grad_norm=1.0, train_sampling_strategy="group_by_length",
                             seed=a.seed, dataloader_drop_last=True)
    collator = Collate(tok, model=None, padding="longest", label_pad_token_id=-100)
    trainer = Trainer(model=llm, args=args, train_dataset=data, data_collator=collator, callbacks=[clock])
    trainer.train()
    toks = seen["per_step"][a.warmup:len(clock.times)]
    secs = sum(clock.times[a.warmup:])
    return {"side": "hf", "tokens_per_s": sum(toks) / secs, "s_per_step": secs / (len(clock.times) - a.warmup),
            "steps": len(clock.times), "padding": 1 - seen["real"] / seen["total"], "peak_gib": _cuda_peak_gib()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", default="smollm2-135m", help="model config (smollm2-135m: the real SmolLM2 weights)")
    ap.add_argument("--examples", type=int, default=192, help="examples in the mix (one epoch on each side)")
    ap.add_argument("--micro-batch", type=int, default=8, help="examples per micro-batch, both sides")
    ap.add_argument("--max-length", type=int, default=1024, help="longest example / packed row, in tokens")
    ap.add_argument("--warmup", type=int, default=2, help="first steps of each side left out of the rate")
    ap.add_argument("--sides", nargs="*", default=["grouped", "packed", "padded", "hf"],
                    help="grouped, packed, padded, hf")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data", default=str(REPO.parent / "shared" / "data"), help="the shared data folder")
    ap.add_argument("--work", default=None, help="scratch folder (default: a temporary one)")
    ap.add_argument("--deepspeed", default="configs/deepspeed/zero2.json", help="the Reamo rows' DeepSpeed config")
    ap.add_argument("--peak-tflops", type=float, default=None,
                    help="the GPU's dense bf16 peak, for MFU (e.g. 989 for an H100 SXM); default: from its name")
    ap.add_argument("--local_rank", type=int, default=None, help=argparse.SUPPRESS)  # the deepspeed launcher's
    a = ap.parse_args()
    import numpy as np
    import torch

    from reamo.api import Reamo

    torch.manual_seed(a.seed)
    a.gpu_rows = torch.cuda.is_available()
    if a.peak_tflops is None and a.gpu_rows:
        name = torch.cuda.get_device_name()
        a.peak_tflops = next((v for k, v in PEAK_BF16_TFLOPS.items() if k in name), None)
    rank0 = int(os.environ.get("RANK", 0)) == 0
    work = Path(a.work or tempfile.mkdtemp(prefix="reamo-packing-"))
    work.mkdir(parents=True, exist_ok=True)
    records = phase1_mix(Path(a.data), a.examples, a.seed)
    model = Reamo.from_config(a.config, overrides={"max_length": a.max_length}).model
    encs = encode(model, records, a.max_length)
    lengths = np.array([len(e.input_ids) for e in encs])
    answers = np.array([sum(1 for x in e.labels if x != -100) for e in encs])
    fpt = None
    if a.gpu_rows:
        from benchmarks.fullscale import flops_per_token

        for n, p in model.named_parameters():
            p.requires_grad_("lora_" in n)
        fpt = flops_per_token(model.llm, int(lengths.mean()))
    print(f"mix: {len(encs)} examples ({', '.join(s for s, _ in SOURCES)}), tokens per example min {lengths.min()} "
          f"median {int(np.median(lengths))} mean {lengths.mean():.0f} max {lengths.max()}; answer tokens "
          f"{answers.sum() / lengths.sum():.1%} of all; torch threads {torch.get_num_threads()}", flush=True)
    pads = {side: reamo_padding(model, encs, a, side) for side in ("grouped", "packed", "padded")}
    del model
    rows = []
    for side in a.sides:
        if side == "hf":
            if int(os.environ.get("WORLD_SIZE", 1)) > 1:
                continue  # the HF row is a one-process baseline
            rows.append(hf_side(a, work, encs))
        else:
            r = reamo_side(a, work, records, side)
            r["padding"] = pads[side]
            rows.append(r)
        if fpt and a.peak_tflops:
            rows[-1]["mfu"] = rows[-1]["tokens_per_s"] * fpt / (a.peak_tflops * 1e12)
        if rank0:
            print("RESULT " + json.dumps(rows[-1]), flush=True)
    if not rank0:
        return
    hf = next((r for r in rows if r["side"] == "hf"), None)
    gpu = " peak GiB | MFU |" if a.gpu_rows else ""
    print(f"\n| side | tokens/s | s/step | steps | padding | vs hf |{gpu}\n|---|---|---|---|---|---|"
          + ("---|---|" if a.gpu_rows else ""))
    for r in rows:
        ratio = f"{r['tokens_per_s'] / hf['tokens_per_s']:.2f}x" if hf else "-"
        extra = f" {r['peak_gib']:.1f} | {r.get('mfu', float('nan')):.1%} |" if a.gpu_rows else ""
        print(f"| {r['side']} | {r['tokens_per_s']:.0f} | {r['s_per_step']:.2f} | {r['steps']} | {r['padding']:.1%} | "
              f"{ratio} |{extra}")


if __name__ == "__main__":
    main()
