"""The one training loop, on `deepspeed.initialize`, for every phase.

    train(TrainConfig) -> path of the exported Reamo checkpoint (OUT/final)

What changes between phases is configuration: the dataset builder (`phase`), the trainable parameter
groups and their learning rates, loss weights and sizes. Resume is automatic: if OUT/checkpoints/latest
exists, the run continues from it (weights, optimizer, scheduler, data position, RNG state).
"""
from __future__ import annotations

import json
import math
import os
import socket
import time
from pathlib import Path

import torch

from reamo.errors import ReamoError
from training.checkpointing import CheckpointManager, rng_state, set_rng_state
from training.config import TrainConfig


class NonFiniteLossError(ReamoError, RuntimeError):
    """The loss became NaN or inf; the run stopped with the last good checkpoint intact."""


# ---- parameter groups ------------------------------------------------------------------------------------
def group_of(name: str) -> str | None:
    """Which trainable group a ReamoModel parameter belongs to (None: never trained)."""
    if name.startswith("llm."):
        if "trainable_tokens" in name:
            return "new_tokens"
        if "lora_" in name:
            return "lora"
        return "llm"  # base weights: trained only when "llm" is listed (full fine-tuning)
    if name.startswith("projector."):
        return "projector"
    if name.startswith("heads."):
        return "heads"
    return None


def param_groups(model, cfg: TrainConfig) -> list[dict]:
    """Set requires_grad for exactly the configured groups and return optimizer groups with their lr.
    Head parameters that the heads declare frozen (e.g. a pretrained SAM image encoder) stay frozen."""
    frozen_heads = set(model.heads.frozen_parameter_names()) if hasattr(model.heads, "frozen_parameter_names") else set()
    groups: dict[str, list] = {g: [] for g in cfg.trainable}
    for name, p in model.named_parameters():
        g = group_of(name)
        on = g in groups and not (g == "heads" and name[len("heads."):] in frozen_heads)
        p.requires_grad_(on)
        if on:
            groups[g].append(p)
    return [{"params": ps, "lr": cfg.lr[g], "name": g} for g, ps in groups.items() if ps]


def lr_lambda(cfg: TrainConfig, total_steps: int):
    warmup = int(round(cfg.schedule.warmup_ratio * total_steps))
    floor = cfg.schedule.min_lr_ratio

    def f(step: int) -> float:
        if warmup and step < warmup:
            return (step + 1) / warmup
        if cfg.schedule.kind == "constant":
            return 1.0
        progress = min(1.0, (step - warmup) / max(1, total_steps - warmup))
        if cfg.schedule.kind == "linear":
            return floor + (1 - floor) * (1 - progress)
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))

    return f


# ---- distributed environment -----------------------------------------------------------------------------
def ensure_single_process_env() -> None:
    """`reamo train` without a launcher: one process, DeepSpeed's CPU accelerator when there is no GPU."""
    if "RANK" in os.environ and "MASTER_PORT" in os.environ:
        return
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    os.environ.update(RANK="0", LOCAL_RANK="0", WORLD_SIZE="1", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    if not torch.cuda.is_available():
        os.environ.setdefault("DS_ACCELERATOR", "cpu")


def deepspeed_config(cfg: TrainConfig) -> dict:
    ds = json.loads(cfg.resolve(cfg.deepspeed).read_text())
    ds["train_micro_batch_size_per_gpu"] = cfg.micro_batch_size
    ds["gradient_accumulation_steps"] = cfg.grad_accum
    ds.pop("train_batch_size", None)
    bf16 = cfg.precision == "bf16" or (cfg.precision == "auto" and torch.cuda.is_available())
    ds["bf16"] = {"enabled": bf16}
    if not torch.cuda.is_available():
        ds.get("optimizer", {}).get("params", {}).setdefault("torch_adam", True)
        zero = ds.get("zero_optimization", {})
        for k in ("offload_optimizer", "offload_param"):
            zero.pop(k, None)  # CPU offload is for GPUs; on a CPU run everything already lives on the CPU
    return ds


# ---- metrics ---------------------------------------------------------------------------------------------
class MetricsLog:
    """JSONL metrics (always) and TensorBoard (when installed), rank 0 only."""

    def __init__(self, out_dir: Path, rank: int):
        self.rank = rank
        self.f = None
        self.tb = None
        if rank == 0:
            out_dir.mkdir(parents=True, exist_ok=True)
            self.f = open(out_dir / "metrics.jsonl", "a")
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.tb = SummaryWriter(str(out_dir / "tensorboard"))
            except Exception:  # tensorboard not installed
                self.tb = None

    def log(self, step: int, **values) -> None:
        if self.f is None:
            return
        self.f.write(json.dumps({"step": step, **values}) + "\n")
        self.f.flush()
        if self.tb is not None:
            for k, v in values.items():
                if isinstance(v, (int, float)):
                    self.tb.add_scalar(k, v, step)

    def close(self):
        if self.f:
            self.f.close()
        if self.tb:
            self.tb.close()


def _global_token_mean(local_tokens: int, device) -> float:
    """Answer tokens of this micro-batch summed over ranks, divided by the world size. With the LM loss
    summed per rank and divided by this, DeepSpeed's gradient averaging gives exactly the token-mean over
    the global batch: N processes train like one process with the same global batch."""
    if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
        return float(max(local_tokens, 1))
    t = torch.tensor([float(local_tokens)], device=device)
    torch.distributed.all_reduce(t)
    return max(t.item(), 1.0) / torch.distributed.get_world_size()


# ---- the loop --------------------------------------------------------------------------------------------
class _LossModule(torch.nn.Module):
    """What DeepSpeed wraps: the Reamo model, returning the weighted total loss and its parts."""

    def __init__(self, model, weights):
        super().__init__()
        self.model = model
        self.weights = weights

    def forward(self, batch):
        return self.model.training_losses(batch, self.weights)


def _gathered(params, zero3: bool):
    """ZeRO-3 partitions parameters across ranks: gather them whole (read-only) for the block; else nothing."""
    import contextlib

    if not zero3:
        return contextlib.nullcontext()
    import deepspeed

    return deepspeed.zero.GatheredParameters(params, modifier_rank=None)


def build_model(cfg: TrainConfig):
    from reamo.api import Reamo

    overrides = dict(cfg.model_overrides)
    overrides.setdefault("max_length", cfg.max_length)
    if cfg.init_from:
        return Reamo.from_pretrained(cfg.resolve(cfg.init_from), overrides=overrides).model
    return Reamo.from_config(cfg.model, overrides).model  # a config name or a YAML path


def train(cfg: TrainConfig, *, stop_after_steps: int | None = None, on_export=None) -> Path:
    """Run one phase. `stop_after_steps` ends the process's work early without the final export (tests use
    it to simulate an interrupted run that a later call resumes). `on_export(model, rank)` runs on every rank
    after the export, with every parameter whole (gathered under ZeRO-3): e.g. to evaluate the trained model
    in the same processes. It must do the same work on every rank (ZeRO-3's hooks communicate)."""
    ensure_single_process_env()
    import deepspeed

    from training.data import build_dataloader

    out = cfg.resolve(cfg.output_dir)
    torch.manual_seed(cfg.seed)
    model = build_model(cfg)
    groups = param_groups(model, cfg)
    loader = build_dataloader(model, cfg)
    steps_per_epoch = max(1, len(loader) // cfg.grad_accum)
    total = cfg.max_steps or max(1, int(math.ceil(steps_per_epoch * cfg.epochs)))
    engine, optimizer, _, scheduler = deepspeed.initialize(
        model=_LossModule(model, cfg.loss_weights), model_parameters=groups, config=deepspeed_config(cfg),
        lr_scheduler=lambda opt: torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda(cfg, total)))
    rank = engine.global_rank
    if rank == 0:  # where the phase really runs (DeepSpeed's accelerator), so a log shows a GPU run as one
        precision = "bf16" if engine.bfloat16_enabled() else "fp16" if engine.fp16_enabled() else "fp32"
        print(f"{cfg.phase}: {total} steps on {engine.device} ({precision}), {engine.world_size} process(es)",
              flush=True)
    ckpt = CheckpointManager(out / "checkpoints", keep=cfg.keep_checkpoints)
    state = ckpt.load(engine)
    step, micro = 0, 0
    if state is not None:
        step, micro = state["step"], state["micro"]
        set_rng_state(state["rng"])
        if rank == 0:
            print(f"resumed from {ckpt.root / ckpt.latest_tag()} at step {step}")
    log = MetricsLog(out, rank)
    bar = None
    if cfg.progress and rank == 0:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, initial=step, desc=f"{cfg.phase}", unit="step", dynamic_ncols=True)
    device = engine.device
    t0, samples, tokens, step0 = time.time(), 0, 0, step
    try:
        for batch in loader.iter_from(micro):
            if step >= total:
                break
            batch = batch.to(device)
            batch.lm_denominator = _global_token_mean(batch.num_answer_tokens, device)
            losses = engine(batch)
            loss = losses["loss"]
            if cfg.stop_on_nonfinite and not torch.isfinite(loss.detach()).all():
                raise NonFiniteLossError(
                    f"phase {cfg.phase}: loss is {loss.item()} at step {step} (micro-batch {micro}); "
                    f"stopped. The last good checkpoint is {ckpt.latest_tag() or 'none'} in {ckpt.root}")
            engine.backward(loss)
            engine.step()
            micro += 1
            samples += batch.size
            tokens += batch.num_tokens
            if micro % cfg.grad_accum:
                continue
            step += 1
            if bar:
                bar.update(1)
                bar.set_postfix(loss=f"{loss.item():.4f}")
            if step % cfg.log_every == 0 or step == total:
                dt = max(1e-9, time.time() - t0)
                log.log(step, loss=loss.item(), **{k: v.item() for k, v in losses.items() if k != "loss"},
                        lr={g["name"]: g["lr"] for g in optimizer.param_groups},
                        steps_per_s=(step - step0) / dt, samples_per_s=samples / dt, tokens_per_s=tokens / dt,
                        skipped_records=loader.skipped)
            if cfg.save_every and step % cfg.save_every == 0 and step < total:
                ckpt.save(engine, step, {"step": step, "micro": micro, "rng": rng_state()})
            if stop_after_steps is not None and step >= stop_after_steps:
                return out
        ckpt.save(engine, step, {"step": step, "micro": micro, "rng": rng_state()})
        final = out / "final"
        from reamo import checkpoint

        zero3 = engine.zero_optimization_stage() == 3
        with _gathered(checkpoint.saved_parameters(model), zero3):  # ZeRO-3: every rank gathers, rank 0 writes
            if rank == 0:
                checkpoint.save_pretrained(model, final)
        if engine.world_size > 1:
            torch.distributed.barrier()
        if on_export is not None:
            with _gathered(list(model.parameters()), zero3):
                on_export(model, rank)
        return final
    finally:
        if bar:
            bar.close()
        log.close()
