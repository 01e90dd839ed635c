"""The one training loop, on `deepspeed.initialize`, for every phase.

    train(TrainConfig) -> path of the exported Reamo checkpoint (OUT/final)

What changes between phases is configuration: the dataset builder (`phase`), the trainable parameter
groups and their learning rates, loss weights and sizes. Resume is automatic: if OUT/checkpoints/latest
exists, the run continues from it (weights, optimizer, scheduler, data position, RNG state).
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import socket
import time
from pathlib import Path

import torch

from reamo.errors import ReamoError
from reamo.process_group import destroy_at_exit
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


def deepspeed_config(cfg: TrainConfig, accumulation: int | None = None) -> dict:
    ds = json.loads(cfg.resolve(cfg.deepspeed).read_text())
    ds["train_micro_batch_size_per_gpu"] = cfg.micro_batch_size
    ds["gradient_accumulation_steps"] = accumulation or cfg.grad_accum
    ds.pop("train_batch_size", None)
    bf16 = cfg.precision == "bf16" or (cfg.precision == "auto" and torch.cuda.is_available())
    ds["bf16"] = {"enabled": bf16}
    if not torch.cuda.is_available():
        ds.get("optimizer", {}).get("params", {}).setdefault("torch_adam", True)
        zero = ds.get("zero_optimization", {})
        for k in ("offload_optimizer", "offload_param"):
            if k in zero:  # offload runs on a CPU-only machine too (where the test of the path runs); no pinning
                zero[k]["pin_memory"] = False
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


def _all_sum(values: list[float], device) -> list[float]:
    """Element-wise sum over ranks (the values themselves with one process)."""
    if not (torch.distributed.is_available() and torch.distributed.is_initialized()) \
            or torch.distributed.get_world_size() == 1:
        return list(values)
    t = torch.tensor(values, dtype=torch.float64, device=device)
    torch.distributed.all_reduce(t)
    return t.tolist()


# ---- the loop --------------------------------------------------------------------------------------------
class _LossModule(torch.nn.Module):
    """What DeepSpeed wraps: the Reamo model, returning the weighted total loss and its parts."""

    def __init__(self, model, weights, all_heads: bool = False):
        super().__init__()
        self.model = model
        self.weights = weights
        self.all_heads = all_heads

    def forward(self, batch):
        return self.model.training_losses(batch, self.weights, all_heads=self.all_heads)


@contextlib.contextmanager
def encoders_outside_engine(model):
    """The frozen encoders (ImageBind, SAM's image encoder) leave the module tree while DeepSpeed holds the
    model, and come back after: they run in the data pipeline (embedding cache) and once per distinct image,
    a different number of times on each rank, which ZeRO-3 cannot gather partitioned parameters for; outside
    the engine they are plain replicated modules, and ZeRO never sees their (frozen) parameters."""
    detached = []
    for parent, name in model.frozen_encoders():
        module = parent._modules.pop(name)
        object.__setattr__(parent, name, module)
        detached.append((parent, name, module))
    try:
        yield [m for _, _, m in detached]
    finally:
        for parent, name, module in detached:
            del parent.__dict__[name]
            parent._modules[name] = module


def _gathered(params, zero3: bool):
    """ZeRO-3 partitions parameters across ranks: gather them whole (read-only) for the block; else nothing."""
    if not zero3:
        return contextlib.nullcontext()
    import deepspeed

    return deepspeed.zero.GatheredParameters(params, modifier_rank=None)


def model_overrides(cfg: TrainConfig) -> dict:
    """The phase's changes to its model config (model_overrides, and its max_length)."""
    overrides = dict(cfg.model_overrides)
    overrides.setdefault("max_length", cfg.max_length)
    return overrides


def build_model(cfg: TrainConfig):
    from reamo.api import Reamo

    overrides = model_overrides(cfg)
    if cfg.init_from:
        return Reamo.from_pretrained(cfg.resolve(cfg.init_from), overrides=overrides).model
    return Reamo.from_config(cfg.model, overrides).model  # a config name or a YAML path


def train(cfg: TrainConfig, *, stop_after_steps: int | None = None, on_export=None) -> Path:
    """Run one phase. `stop_after_steps` ends the process's work early without the final export (tests use
    it to simulate an interrupted run that a later call resumes). `on_export(model, rank)` runs on every rank
    after the export, with every parameter whole (gathered under ZeRO-3): e.g. to evaluate the trained model
    in the same processes. It must do the same work on every rank (ZeRO-3's hooks communicate).

    Every rank runs the same modules in every micro-batch, whatever its own examples hold (one projector call,
    every grounding head when the phase grounds anything, frozen encoders outside the engine), so ZeRO-2 reduces
    and ZeRO-3 gathers the same parameters on every rank. A checkpoint written by N processes resumes on M: the
    engine state through DeepSpeed's universal checkpoint, the data at the same optimizer step (same global
    batch: gradient accumulation makes up the difference)."""
    ensure_single_process_env()
    import deepspeed

    from training.data import build_dataloader

    deepspeed.init_distributed()
    destroy_at_exit()
    world, rank = torch.distributed.get_world_size(), torch.distributed.get_rank()
    out = cfg.resolve(cfg.output_dir)
    ckpt = CheckpointManager(out / "checkpoints", keep=cfg.keep_checkpoints)
    saved = ckpt.run_state()  # the latest checkpoint's world size and global batch, if any
    accumulation = cfg.accumulation(world, saved["global_batch"] if saved else None)
    universal = saved is not None and saved["world_size"] != world
    if universal:
        ckpt.make_universal(saved["tag"])
    torch.manual_seed(cfg.seed)
    model = build_model(cfg)
    groups = param_groups(model, cfg)
    loader = build_dataloader(model, cfg, accumulation)
    total = cfg.max_steps or max(1, int(math.ceil(loader.steps_per_epoch * cfg.epochs)))
    ds = deepspeed_config(cfg, accumulation)
    if universal:
        ds["checkpoint"] = {**ds.get("checkpoint", {}), "load_universal": True}
    from deepspeed.utils import set_z3_leaf_modules
    from grounding import GroundingHeads

    set_z3_leaf_modules(model, [GroundingHeads])  # ZeRO-3: the heads' parameters gathered together (see forward)
    with encoders_outside_engine(model) as encoders:
        engine, optimizer, _, scheduler = deepspeed.initialize(
            model=_LossModule(model, cfg.loss_weights, all_heads=loader.has_grounding), model_parameters=groups,
            config=ds, lr_scheduler=lambda opt: torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda(cfg, total)))
        dtype = torch.bfloat16 if engine.bfloat16_enabled() else None
        for enc in encoders:
            enc.to(device=engine.device, dtype=dtype)
        finished = _run(cfg, model, engine, optimizer, loader, ckpt, out, total, accumulation, universal,
                        stop_after_steps)
    if not finished:
        return out
    # the encoders are back in the module tree: the checkpoint holds what it always held
    final = out / "final"
    from reamo.model import checkpoint

    zero3 = engine.zero_optimization_stage() == 3
    with _gathered(checkpoint.saved_parameters(model), zero3):  # ZeRO-3: every rank gathers, rank 0 writes
        if rank == 0:
            checkpoint.save_pretrained(model, final)
    if world > 1:
        torch.distributed.barrier()
    if on_export is not None:
        with _gathered(list(model.parameters()), zero3):
            on_export(model, rank)
    return final


def _run(cfg, model, engine, optimizer, loader, ckpt, out, total, accumulation, universal, stop_after_steps) -> bool:
    """The optimizer steps of one phase; False when stopped early (stop_after_steps), True when finished."""
    rank, world = engine.global_rank, engine.world_size
    if rank == 0:  # where the phase really runs (DeepSpeed's accelerator), so a log shows a GPU run as one
        precision = "bf16" if engine.bfloat16_enabled() else "fp16" if engine.fp16_enabled() else "fp32"
        stage = engine.zero_optimization_stage()
        offload = [w for w, on in (("optimizer", engine.zero_cpu_offload()), ("parameters", engine.zero_offload_param()))
                   if on]
        print(f"{cfg.phase}: {total} steps on {engine.device} ({precision}), ZeRO-{stage}"
              + (f" offloading {' and '.join(offload)} to the CPU" if offload else "") + f", {world} process(es) x "
              f"{cfg.micro_batch_size} examples x {accumulation} accumulation = {loader.global_batch} per step",
              flush=True)
    state = ckpt.load(engine, universal=universal)
    step = 0
    if state is not None:
        step = state["step"]
        set_rng_state(state["rng"])
        if rank == 0:
            print(f"resumed from {ckpt.root / ckpt.latest_tag()} at step {step}"
                  + (f" (written by {state.get('world_size')} process(es))" if universal else ""), flush=True)
    log = MetricsLog(out, rank)
    bar = None
    if cfg.progress and rank == 0:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, initial=step, desc=f"{cfg.phase}", unit="step", dynamic_ncols=True)
    device = engine.device
    t0, samples, tokens, step0 = time.time(), 0, 0, step

    def client_state(step):
        return {"step": step, "world_size": world, "global_batch": loader.global_batch, "rng": rng_state()}

    try:
        for done, batches in loader.iter_steps(step):  # `done`: optimizer steps before this one
            if done >= total:
                break
            logged = (done + 1) % cfg.log_every == 0 or done + 1 == total
            batches = [b.to(device) for b in batches]
            # LM loss: summed per micro-batch and divided by the step's answer tokens over every rank and
            # micro-batch / (world x accumulation); DeepSpeed's 1/accumulation and its mean over ranks then give
            # the token mean over the global batch, however it is split
            answer = sum(b.num_answer_tokens for b in batches if b.loss_scale)
            denom = max(_all_sum([answer], device)[0], 1.0) / (world * accumulation)
            sums: dict[str, list[float]] = {}
            for m, batch in enumerate(batches):
                batch.lm_denominator = denom
                losses = engine(batch)
                loss = losses["loss"]
                if cfg.stop_on_nonfinite:
                    bad = _all_sum([0.0 if torch.isfinite(loss.detach()).all() else 1.0], device)[0]
                    if bad:
                        raise NonFiniteLossError(
                            f"phase {cfg.phase}: loss is not finite at step {done} (micro-batch {m}, on {int(bad)} "
                            f"rank(s)); stopped. The last good checkpoint is {ckpt.latest_tag() or 'none'} in {ckpt.root}")
                engine.backward(loss)
                engine.step()
                if batch.loss_scale:
                    samples += batch.size
                    tokens += batch.num_tokens
                    for k, v in losses.items() if logged else ():  # read back only for a step that is logged
                        acc = sums.setdefault(k, [0.0, 0.0])
                        acc[0] += v.item()
                        acc[1] += 1
            step = done + 1
            if bar:
                bar.update(1)
            if logged:
                keys = ("loss", "lm_loss", "mask_loss", "span_loss", "bind_loss")
                flat = _all_sum([x for k in keys for x in sums.get(k, [0.0, 0.0])], device)
                # the step's loss: its mean over every micro-batch of every rank (what one process would see)
                means = {k: flat[2 * i] / flat[2 * i + 1] for i, k in enumerate(keys) if flat[2 * i + 1]}
                if "loss" in means:  # loss and lm_loss: the global batch's objective, not a micro-batch mean
                    means["loss"] = flat[0] / (world * accumulation)
                    means["lm_loss"] = flat[2] / (world * accumulation)
                if bar:
                    bar.set_postfix(loss=f"{means.get('loss', float('nan')):.4f}")
                dt = max(1e-9, time.time() - t0)
                log.log(step, **means, lr={g["name"]: g["lr"] for g in optimizer.param_groups},
                        steps_per_s=(step - step0) / dt, samples_per_s=samples / dt, tokens_per_s=tokens / dt,
                        skipped_records=loader.skipped)
            if cfg.save_every and step % cfg.save_every == 0 and step < total:
                ckpt.save(engine, step, client_state(step))
            if stop_after_steps is not None and step >= stop_after_steps:
                return False
        ckpt.save(engine, step, client_state(step))
        return True
    finally:
        if bar:
            bar.close()
        log.close()
