"""How much memory a training step or inference needs per GPU, before a cluster is booked.

    reamo plan --config vicuna-7b --phase phase4_meta --gpus 8 --zero 2 [--micro-batch 1 --seq 2048]

Parameter counts come from building the model on the meta device and marking the phase's trainable groups
with the training loop's own `param_groups`. Per GPU, with N data-parallel GPUs, Psi_f frozen and Psi_t
trainable parameters, weights in bf16 (2 bytes), mixed-precision AdamW (fp32 master copy + two moments =
12 bytes per trainable parameter) and bf16 gradients:

    ZeRO-2          weights 2(Psi_f + Psi_t), gradients 2 Psi_t / N, optimizer 12 Psi_t / N
    ZeRO-3          weights 2(Psi_f + Psi_t) / N + the gathered working set (prefetch bucket + largest layer),
                    gradients 2 Psi_t / N, optimizer 12 Psi_t / N; the frozen encoders (ImageBind, SAM's image
                    encoder) are kept outside the engine, whole on every GPU, and the grounding heads are
                    gathered whole while they run
    ZeRO-3 offload  parameters and optimizer states in CPU memory; the GPU holds the working set and the
                    gradient buckets

Activations per micro-batch (the tensors autograd saves, counted from the LLaMA block: per layer and token
6h + 2 kv + 4i + 7r elements: RMSNorm inputs and outputs, q / rotated k / v and the attention output kept by
SDPA, the four SwiGLU tensors, the LoRA A outputs; plus LoRA dropout's copies and masks when dropout > 0); the
log-softmax of the logits at answer positions (4 bytes per logit; Reamo computes no other logits), and while
the loss runs, the logits, their fp32 copy and gradient (transient); when new token rows train, the vocabulary
matrix with the new rows that peft builds each forward (V x h, kept for the lm_head's backward). With gradient
checkpointing only each layer's input stays, and one layer is recomputed at a time. The model is checked
against the bytes autograd saves at SmolLM2 shapes on the CPU (tests/test_planning.py).
"""
from __future__ import annotations

from dataclasses import dataclass, field

GIB = 2**30
GPU_SIZES_GB = (24, 40, 80)
BF16 = 2
ADAM_BYTES = 12  # fp32 master weights + exp_avg + exp_avg_sq
PREFETCH_ELEMENTS = 50_000_000  # stage3_prefetch_bucket_size of configs/deepspeed/zero3.json
REDUCE_BUCKET_ELEMENTS = 50_000_000  # reduce_bucket_size
CUDA_CONTEXT_GIB = 1.0  # CUDA context, NCCL buffers, allocator slack (a rule of thumb, stated as such)


@dataclass
class ParameterCounts:
    llm_frozen: int
    encoder: int
    heads_frozen: int
    trainable: dict[str, int]  # group -> count (lora, new_tokens, projector, heads, llm)
    largest_layer: int  # parameters of the largest LLM decoder layer (ZeRO-3 gathers one at a time)
    frozen_untrained_groups: int = 0  # trainable-capable parameters the phase leaves frozen (e.g. projector)
    outside_engine: int = 0  # frozen encoders the training loop keeps outside DeepSpeed (ImageBind, SAM's encoder)
    heads_in_engine: int = 0  # grounding-head parameters inside the engine (ZeRO-3 gathers them as one leaf)

    @property
    def frozen(self) -> int:
        return self.llm_frozen + self.encoder + self.heads_frozen + self.frozen_untrained_groups

    @property
    def trainable_total(self) -> int:
        return sum(self.trainable.values())

    @property
    def total(self) -> int:
        return self.frozen + self.trainable_total


@dataclass
class LLMShape:
    hidden: int
    intermediate: int
    layers: int
    heads: int
    kv_heads: int
    vocab: int
    lora_r: int = 0
    lora_dropout: float = 0.0

    @property
    def kv_dim(self) -> int:
        return self.hidden // self.heads * self.kv_heads


def count_parameters(model_config: str, phase: str | None = None, overrides: dict | None = None):
    """(ParameterCounts, LLMShape) of a model config with a phase's trainable groups, built on the meta device."""
    from accelerate import init_empty_weights

    from reamo.model.config import ReamoConfig
    from reamo.model.modeling import ReamoModel
    from training.config import TrainConfig
    from training.engine import param_groups

    cfg = ReamoConfig.named(model_config, overrides)
    with init_empty_weights():
        model = ReamoModel(cfg, llm_device="meta")
    trainable: dict[str, int] = {}
    if phase:
        tc = TrainConfig.from_yaml(f"configs/phases/{phase}.yaml", {"model": model_config})
        for g in param_groups(model, tc):
            trainable[g["name"]] = sum(p.numel() for p in g["params"])
    else:
        for p in model.parameters():
            p.requires_grad_(False)
    counts = {"llm": 0, "encoder": 0, "heads": 0, "other": 0}
    for name, p in model.named_parameters():
        if p.requires_grad:
            continue
        part = name.split(".")[0]
        counts[part if part in counts else "other"] += p.numel()
    outside = sum(p.numel() for parent, name in model.frozen_encoders() for p in getattr(parent, name).parameters())
    sam = getattr(getattr(model.heads, "image", None), "image_encoder", None)
    heads_in = sum(p.numel() for p in model.heads.parameters()) - (sum(p.numel() for p in sam.parameters()) if sam else 0)
    layers = [m for n, m in model.llm.named_modules() if n.endswith("layers") and hasattr(m, "__len__")]
    largest = max((sum(p.numel() for p in layer.parameters()) for layer in layers[0]), default=0) if layers else 0
    c = model.llm.config
    shape = LLMShape(c.hidden_size, c.intermediate_size, c.num_hidden_layers, c.num_attention_heads,
                     getattr(c, "num_key_value_heads", None) or c.num_attention_heads,
                     model.llm.get_input_embeddings().weight.shape[0],
                     cfg.lora.r if cfg.lora.enabled else 0, cfg.lora.dropout if cfg.lora.enabled else 0.0)
    return ParameterCounts(counts["llm"], counts["encoder"], counts["heads"], trainable, largest, counts["other"],
                           outside, heads_in), shape


def activation_bytes(s: LLMShape, seq: int, micro_batch: int, answer: int, dtype_bytes: int = BF16,
                     checkpointing: bool = False, new_token_rows: bool = True) -> dict[str, float]:
    """Bytes of activations for one micro-batch: what autograd saves (layers, log-softmax at answer positions,
    embedding and final norm, the rebuilt vocabulary matrix when new token rows train), plus what exists only
    for a moment at the peak ("recompute": one layer with gradient checkpointing; "loss transient")."""
    tokens = seq * micro_batch
    h, i, kv, r = s.hidden, s.intermediate, s.kv_dim, s.lora_r
    per_layer = 6 * h + 2 * kv + 4 * i + (7 * r if r else 0)
    dropout = 0.0
    if r and s.lora_dropout > 0:  # dropout(x) copies before lora_A (bf16) and their masks (bool)
        dropout = (6 * h + i) * (dtype_bytes + 1)
    layer_bytes = tokens * (per_layer * dtype_bytes + dropout)
    n_logits = answer * micro_batch * s.vocab
    out = {"layers": s.layers * (tokens * h * dtype_bytes if checkpointing else layer_bytes),
           "log-softmax at answer positions": n_logits * 4,
           "embedding + final norm": tokens * 3 * h * dtype_bytes,
           "vocabulary matrix with new rows": s.vocab * h * dtype_bytes if new_token_rows else 0.0,
           "recompute (one layer)": layer_bytes if checkpointing else 0.0,
           "loss transient (logits, fp32 copy, gradient)": n_logits * (dtype_bytes + 4 + 4)}
    return out


SAVED = ("layers", "log-softmax at answer positions", "embedding + final norm", "vocabulary matrix with new rows")


@dataclass
class Plan:
    mode: str
    gpu: dict[str, float] = field(default_factory=dict)  # component -> bytes per GPU
    cpu: dict[str, float] = field(default_factory=dict)  # component -> bytes of CPU memory per GPU process

    @property
    def gpu_total(self) -> float:
        return sum(self.gpu.values())

    def fits(self, gb: int) -> bool:
        return self.gpu_total <= gb * 1e9


def plan_training(p: ParameterCounts, s: LLMShape, gpus: int, seq: int, micro_batch: int, answer: int,
                  checkpointing: bool) -> list[Plan]:
    n = max(1, gpus)
    ft, tt = p.frozen, p.trainable_total
    act = activation_bytes(s, seq, micro_batch, answer, BF16, checkpointing, "new_tokens" in p.trainable)
    acts = {f"activations: {k}": v for k, v in act.items() if v}
    ctx = {"CUDA context + buffers (rule of thumb)": CUDA_CONTEXT_GIB * GIB}
    working = (PREFETCH_ELEMENTS + 2 * p.largest_layer) * BF16
    # ZeRO-3: the frozen encoders stay whole on every GPU (outside the engine: training.engine), and the grounding
    # heads are gathered whole while they run (one ZeRO-3 leaf module)
    outside = {"frozen encoders outside the engine (bf16, whole)": p.outside_engine * BF16} if p.outside_engine else {}
    heads = {"grounding heads gathered whole (bf16)": p.heads_in_engine * BF16} if p.heads_in_engine else {}
    fz = ft - p.outside_engine
    z2 = Plan("ZeRO-2", {"frozen weights (bf16)": ft * BF16, "trainable weights (bf16)": tt * BF16,
                         "gradients (bf16, partitioned)": tt * BF16 / n,
                         "gradient buckets": REDUCE_BUCKET_ELEMENTS * BF16,
                         "optimizer: fp32 master + Adam (partitioned)": tt * ADAM_BYTES / n, **acts, **ctx})
    z3 = Plan("ZeRO-3", {**outside, "frozen weights (bf16, partitioned)": fz * BF16 / n,
                         "trainable weights (bf16, partitioned)": tt * BF16 / n,
                         "gathered working set (prefetch + 2 layers)": working, **heads,
                         "gradients (bf16, partitioned)": tt * BF16 / n,
                         "gradient buckets": REDUCE_BUCKET_ELEMENTS * BF16,
                         "optimizer: fp32 master + Adam (partitioned)": tt * ADAM_BYTES / n, **acts, **ctx})
    z3o = Plan("ZeRO-3 + CPU offload", {**outside, "gathered working set (prefetch + 2 layers)": working, **heads,
                                        "gradient buckets": REDUCE_BUCKET_ELEMENTS * BF16, **acts, **ctx},
               {"weights (bf16, partitioned, pinned)": (fz + tt) * BF16 / n,
                "gradients (fp32, partitioned)": tt * 4 / n,
                "optimizer: fp32 master + Adam (partitioned)": tt * ADAM_BYTES / n})
    return [z2, z3, z3o]


def plan_inference(p: ParameterCounts, s: LLMShape, seq: int, batch: int) -> list[Plan]:
    """One GPU holding the whole model for `batch` sequences of `seq` tokens (KV cache in bf16). 8-/4-bit
    loading changes only the LLM's weights (bitsandbytes keeps norms and embeddings in 16 bits; counted as
    8-bit/4-bit here, a slight underestimate)."""
    llm = p.llm_frozen + sum(v for k, v in p.trainable.items() if k in ("lora", "new_tokens", "llm"))
    rest = p.encoder + p.heads_frozen + p.frozen_untrained_groups + sum(
        v for k, v in p.trainable.items() if k in ("projector", "heads"))
    kv = 2 * s.layers * s.kv_dim * seq * batch * BF16
    logits = batch * s.vocab * 4
    out = []
    for name, bytes_per in (("bf16", 2.0), ("8-bit LLM weights", 1.0), ("4-bit LLM weights", 0.5)):
        out.append(Plan(f"inference, {name}", {"LLM weights": llm * bytes_per,
                                                "encoder + heads + projector (bf16)": rest * BF16,
                                                f"KV cache ({batch} x {seq} tokens)": kv, "logits (fp32)": logits,
                                                "CUDA context + buffers (rule of thumb)": CUDA_CONTEXT_GIB * GIB}))
    return out


def render(p: ParameterCounts, s: LLMShape, plans: list[Plan], chosen: str, title: str) -> str:
    g = lambda b: f"{b / GIB:8.2f} GiB"
    lines = [title, f"parameters: {p.total:,} ({p.trainable_total:,} trainable: "
             + ", ".join(f"{k} {v:,}" for k, v in p.trainable.items()) + f"; frozen {p.frozen:,})", ""]
    for plan in plans:
        mark = "  <- --zero" if plan.mode == chosen else ""
        lines.append(f"{plan.mode}{mark}")
        for k, v in plan.gpu.items():
            lines.append(f"  GPU  {k:<48}{g(v)}")
        lines.append(f"  GPU  {'total':<48}{g(plan.gpu_total)}   fits: "
                     + ", ".join(f"{gb} GB {'yes' if plan.fits(gb) else 'no'}" for gb in GPU_SIZES_GB))
        for k, v in plan.cpu.items():
            lines.append(f"  CPU  {k:<48}{g(v)}")
        lines.append("")
    return "\n".join(lines)


ZERO3_NOTE = ("note: every phase runs under ZeRO-2, ZeRO-3 and ZeRO-3 + offload (every rank runs the same modules "
              "each step; tested with 2 processes in tests/test_distributed.py); the frozen encoders stay whole on "
              "each GPU under ZeRO-3")


def run_plan(args) -> int:
    counts, shape = count_parameters(args.config, args.phase)
    chosen = {"2": "ZeRO-2", "3": "ZeRO-3", "3-offload": "ZeRO-3 + CPU offload"}[args.zero]
    title = (f"{args.config}, {args.phase}: {args.gpus} GPUs, micro-batch {args.micro_batch}, sequence {args.seq} "
             f"({args.answer} answer tokens), LoRA r={shape.lora_r}")
    for ckpt in (False, True):
        plans = plan_training(counts, shape, args.gpus, args.seq, args.micro_batch, args.answer, ckpt)
        print(render(counts, shape, plans, chosen, f"== training step, per GPU, gradient checkpointing "
                                                   f"{'on' if ckpt else 'off'} ==\n{title}"))
    print(ZERO3_NOTE + "\n")
    print(render(counts, shape, plan_inference(counts, shape, args.seq, args.micro_batch), "",
                 f"== inference, one GPU: batch {args.micro_batch} x {args.seq} tokens =="))
    return 0
