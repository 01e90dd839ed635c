"""Full-scale shapes: a phase-4 LoRA training step and batch-1 decoding, with random weights.

    python benchmarks/fullscale.py --device cuda --config vicuna-7b --seq 2048          # an H100: the real figures
    python benchmarks/fullscale.py --device cpu --config tiny --seq 256 --steps 3       # the same code path on a CPU

Training, side by side on the same LLM shapes, LoRA settings and token sequences (batch --micro-batch,
length --seq, loss on the last --answer tokens, as a phase-4 answer):
  reamo    the project's loop pieces: ReamoModel.training_losses (logits only at answer positions), the
           phase-4 trainable groups (LoRA, new token rows), DeepSpeed ZeRO-2 from configs/deepspeed/zero2.json,
           bf16 on a GPU
  hf       a plain transformers.Trainer + peft loop: LlamaForCausalLM + get_peft_model, labels to the model,
           bf16=True, AdamW (torch)
Each reports tokens/s (all sequence tokens), step time, MFU and peak memory (torch.cuda.max_memory_allocated).

MFU = FLOPs per step / (step time x --peak-tflops), FLOPs per token = 4*N_frozen + 6*N_trainable + 12*L*H*S:
forward 2N and input-gradient 2N for every matmul weight of the LLM (lm_head included, the embedding lookup
not), weight gradients (2N) only for the trainable ones (LoRA), and attention scores and values (12*L*H*S for
forward and backward, the PaLM count without causal halving). Encoder and heads are not counted.

Decode: batch 1, a --prompt-token prompt, --new-tokens greedy tokens with the KV cache; tokens/s of the decode
part (generation time minus the prefill time) against the memory-bandwidth roofline: bandwidth / bytes of the
LLM weights read per token (every parameter of the LLM, LoRA adapters included, at their dtype).
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parents[1]


def matmul_params(llm) -> tuple[int, int]:
    """(frozen, trainable) weight elements of the LLM's Linear layers (LoRA A/B included, embeddings not)."""
    import torch

    frozen = trainable = 0
    for mod in llm.modules():
        if isinstance(mod, torch.nn.Linear):
            for p in mod.parameters(recurse=False):
                if p.ndim == 2:
                    if p.requires_grad:
                        trainable += p.numel()
                    else:
                        frozen += p.numel()
    return frozen, trainable


def flops_per_token(llm, seq: int) -> float:
    c = llm.config
    frozen, trainable = matmul_params(llm)
    return 4 * frozen + 6 * trainable + 12 * c.num_hidden_layers * c.hidden_size * seq


def ordinary_ids(tokenizer, vocab: int):
    """Token ids a random sequence may hold: every id of the embedding matrix except the tokenizer's special
    and added tokens (BOS/EOS/pad, <Module>, <Instruction>, and the media placeholders, which the model would
    fill with media features and which an input without media must not contain)."""
    import torch

    banned = set(tokenizer.all_special_ids) | set(getattr(tokenizer, "added_tokens_decoder", {}) or {})
    allowed = torch.tensor([i for i in range(vocab) if i not in banned])
    if len(allowed) == 0:
        raise ValueError("the tokenizer leaves no ordinary token id")
    return allowed


def sequences(n: int, seq: int, answer: int, allowed, seed: int = 0):
    """`n` random sequences of ordinary ids (see ordinary_ids), the loss on the last `answer` tokens."""
    import torch

    g = torch.Generator().manual_seed(seed)
    ids = allowed[torch.randint(0, len(allowed), (n, seq), generator=g)]
    labels = ids.clone()
    labels[:, : seq - answer] = -100
    return ids, labels


class Meter:
    def __init__(self, device):
        import torch

        self.torch, self.cuda = torch, device == "cuda"

    def sync(self):
        if self.cuda:
            self.torch.cuda.synchronize()

    def reset(self):
        gc.collect()
        if self.cuda:
            self.torch.cuda.empty_cache()
            self.torch.cuda.reset_peak_memory_stats()

    def peak_gib(self):
        return self.torch.cuda.max_memory_allocated() / 2**30 if self.cuda else float("nan")


def reamo_training(a, meter) -> dict:
    import deepspeed
    import torch

    from reamo.api import Reamo
    from training.config import TrainConfig
    from training.batch import Batch
    from training.engine import _LossModule, deepspeed_config, ensure_single_process_env, param_groups

    ensure_single_process_env()
    meter.reset()
    cfg = TrainConfig.from_yaml(REPO / "configs" / "phases" / "phase4_meta.yaml", {
        "model": a.config, "init_from": None, "trainable": a.trainable, "micro_batch_size": a.micro_batch,
        "max_length": a.seq, "precision": "bf16" if a.device == "cuda" else "fp32",
        "lr": {"lora": 2e-4, "new_tokens": 2e-4}})
    model = Reamo.from_config(a.config, overrides={"max_length": a.seq}, device=a.device).model
    groups = param_groups(model, cfg)
    engine, *_ = deepspeed.initialize(model=_LossModule(model, cfg.loss_weights), model_parameters=groups,
                                      config=deepspeed_config(cfg))
    vocab = model.llm.get_input_embeddings().weight.shape[0]
    ids, labels = sequences(a.micro_batch * (a.steps + a.warmup), a.seq, a.answer, ordinary_ids(model.tokenizer, vocab))
    times = []
    for i in range(a.steps + a.warmup):
        sl = slice(i * a.micro_batch, (i + 1) * a.micro_batch)
        b = Batch(ids[sl], torch.ones_like(ids[sl]), labels[sl]).to(engine.device)
        meter.sync()
        t = time.perf_counter()
        loss = engine(b)["loss"]
        engine.backward(loss)
        engine.step()
        meter.sync()
        times.append(time.perf_counter() - t)
    fpt = flops_per_token(model.llm, a.seq)
    out = {"side": "reamo", "loss_last": loss.item(), "step_s": sum(times[a.warmup:]) / a.steps,
           "flops_per_token": fpt, "peak_gib": meter.peak_gib()}
    del engine, model, groups
    return out


def hf_lora_llm(config: str, max_length: int):
    """(tokenizer, model) of the plain HF + peft side: the config's LLM built by transformers with Reamo's special
    tokens added, wrapped by get_peft_model with the config's LoRA."""
    from peft import LoraConfig, get_peft_model

    from reamo.model.config import ReamoConfig
    from reamo.model.llm import build_llm, build_tokenizer
    from reamo.model.tokens import add_special_tokens

    rc = ReamoConfig.named(config, {"max_length": max_length})
    tok = build_tokenizer(rc.llm)
    add_special_tokens(tok)
    llm = build_llm(rc.llm, tok, device=None)
    if getattr(llm, "hf_quantizer", None) is not None:
        # a GGUF checkpoint (SmolLM2) is dequantized to float on load, but transformers still marks the model as
        # quantized and the Trainer refuses it; the weights are plain float tensors, as on Reamo's side
        assert all(p.is_floating_point() for p in llm.parameters())
        llm.hf_quantizer, llm.is_quantized = None, False
    llm.resize_token_embeddings(max(len(tok), llm.get_input_embeddings().weight.shape[0]), mean_resizing=False)
    llm = get_peft_model(llm, LoraConfig(r=rc.lora.r, lora_alpha=rc.lora.alpha, lora_dropout=rc.lora.dropout,
                                         target_modules=rc.lora.target_modules, task_type="CAUSAL_LM"))
    return tok, llm


def step_clock(meter):
    """A TrainerCallback that times each optimizer step (`.times`, seconds), synchronising the device first."""
    from transformers import TrainerCallback

    class Clock(TrainerCallback):
        def __init__(self):
            self.times, self.t = [], None

        def on_step_begin(self, args, state, control, **kw):
            meter.sync()
            self.t = time.perf_counter()

        def on_step_end(self, args, state, control, **kw):
            meter.sync()
            self.times.append(time.perf_counter() - self.t)

    return Clock()


def hf_training(a, meter) -> dict:
    import torch
    from transformers import Trainer, TrainingArguments

    meter.reset()
    tok, llm = hf_lora_llm(a.config, a.seq)
    vocab = llm.get_input_embeddings().weight.shape[0]
    ids, labels = sequences(a.micro_batch * (a.steps + a.warmup), a.seq, a.answer, ordinary_ids(tok, vocab))
    data = [{"input_ids": i, "attention_mask": torch.ones_like(i), "labels": l} for i, l in zip(ids, labels)]
    clock = step_clock(meter)
    args = TrainingArguments(output_dir=str(Path(a.work) / "hf"), per_device_train_batch_size=a.micro_batch,
                             max_steps=a.steps + a.warmup, learning_rate=2e-4, bf16=a.device == "cuda",
                             use_cpu=a.device == "cpu", optim="adamw_torch", logging_steps=10**6, save_strategy="no",
                             report_to=[], dataloader_num_workers=0, disable_tqdm=True, max_grad_norm=1.0)
    trainer = Trainer(model=llm, args=args, train_dataset=data, callbacks=[clock])
    trainer.train()
    out = {"side": "hf", "step_s": sum(clock.times[a.warmup:]) / a.steps,
           "flops_per_token": flops_per_token(llm, a.seq), "peak_gib": meter.peak_gib()}
    return out


def decode(a, meter) -> dict:
    import torch

    from reamo.api import Reamo

    meter.reset()
    model = Reamo.from_config(a.config, device=a.device).eval().model
    llm = model.llm
    llm.generation_config.eos_token_id = None  # fixed-length decode
    vocab = llm.get_input_embeddings().weight.shape[0]
    allowed = ordinary_ids(model.tokenizer, vocab)
    ids = allowed[torch.randint(0, len(allowed), (1, a.prompt_tokens))].to(model.device)
    mask = torch.ones_like(ids)

    def gen(n):
        meter.sync()
        t = time.perf_counter()
        model.generate(ids, mask, None, max_new_tokens=n, min_new_tokens=n)
        meter.sync()
        return time.perf_counter() - t

    gen(4)  # warm-up
    prefill = min(gen(1) for _ in range(3))
    total = min(gen(a.new_tokens) for _ in range(2))
    tok_s = (a.new_tokens - 1) / (total - prefill)
    weight_bytes = sum(p.numel() * p.element_size() for p in llm.parameters())
    roof = a.bandwidth_gbs * 1e9 / weight_bytes
    out = {"side": "decode", "tokens_per_s": tok_s, "prefill_s": prefill, "weight_gib": weight_bytes / 2**30,
           "roofline_tokens_per_s": roof, "fraction_of_roofline": tok_s / roof, "peak_gib": meter.peak_gib()}
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default="vicuna-7b")
    ap.add_argument("--device", default="cuda", choices=["cpu", "cuda"])
    ap.add_argument("--seq", type=int, default=2048)
    ap.add_argument("--answer", type=int, default=256, help="answer tokens per sequence (the loss positions)")
    ap.add_argument("--micro-batch", type=int, default=1)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--prompt-tokens", type=int, default=128)
    ap.add_argument("--new-tokens", type=int, default=128)
    ap.add_argument("--peak-tflops", type=float, default=989.0, help="dense bf16 peak (H100 SXM: 989)")
    ap.add_argument("--bandwidth-gbs", type=float, default=3350.0, help="memory bandwidth (H100 SXM HBM3: 3350)")
    ap.add_argument("--parts", nargs="*", default=["reamo", "hf", "decode"])
    ap.add_argument("--work", default="runs/fullscale")
    ap.add_argument("--trainable", nargs="+", default=["lora", "new_tokens"],
                    help="Reamo's trainable groups (phase 4: LoRA and the new token rows; the HF loop trains LoRA)")
    a = ap.parse_args()
    if a.device == "cpu":
        os.environ.setdefault("DS_ACCELERATOR", "cpu")
    import torch

    meter = Meter(a.device)
    rows = []
    for part in a.parts:
        r = {"reamo": reamo_training, "hf": hf_training, "decode": decode}[part](a, meter)
        if part != "decode":
            tokens = a.micro_batch * a.seq
            r["tokens_per_s"] = tokens / r["step_s"]
            r["mfu"] = r["flops_per_token"] * tokens / r["step_s"] / (a.peak_tflops * 1e12)
        rows.append(r)
        print(json.dumps(r), flush=True)
    dev = torch.cuda.get_device_name() if a.device == "cuda" else "cpu"
    print(f"\nconfig={a.config} device={dev} seq={a.seq} micro_batch={a.micro_batch} steps={a.steps} "
          f"torch={torch.__version__} peak={a.peak_tflops} TFLOP/s bandwidth={a.bandwidth_gbs} GB/s")
    train = {r["side"]: r for r in rows if r["side"] in ("reamo", "hf")}
    for side, r in train.items():
        print(f"{side:6s} train step {r['step_s']:.3f} s  {r['tokens_per_s']:.0f} tokens/s  MFU {100 * r['mfu']:.1f}%  "
              f"peak {r['peak_gib']:.1f} GiB")
    if len(train) == 2:
        print(f"reamo / hf tokens/s: {train['reamo']['tokens_per_s'] / train['hf']['tokens_per_s']:.2f}x")
    for r in rows:
        if r["side"] == "decode":
            print(f"decode batch 1: {r['tokens_per_s']:.1f} tokens/s, roofline {r['roofline_tokens_per_s']:.1f} "
                  f"({100 * r['fraction_of_roofline']:.0f}%), weights {r['weight_gib']:.2f} GiB, peak {r['peak_gib']:.1f} GiB")


if __name__ == "__main__":
    main()
