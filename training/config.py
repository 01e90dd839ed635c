"""TrainConfig: one YAML per tuning phase (configs/phases/*.yaml); the same loop runs them all.

The phase decides which dataset builder turns records into examples (`phase`), what trains (`trainable`),
learning rates per parameter group (`lr`), schedule, loss weights, sizes and the DeepSpeed JSON.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, get_args

from reamo.configbase import Config

PhaseName = Literal["uie", "alignment", "grounding", "meta", "schema_text", "schema_visual"]
PHASES = get_args(PhaseName)
GROUPS = ("lora", "new_tokens", "projector", "heads", "llm")  # llm: full fine-tuning of the base LM
REPO = Path(__file__).resolve().parents[1]
MAX_REPLAY_FRACTION = 4.0  # replayed examples per example of the phase, at most


@dataclass
class ReplayConfig(Config):
    """Examples of an earlier phase mixed into this one, so that what that phase taught is not overwritten
    (e.g. alignment captions replayed during grounding and meta tuning)."""
    phase: PhaseName = "alignment"
    train: list[str] = field(default_factory=list)  # that phase's JSONL files
    fraction: float = 0.1  # replayed examples per example of this phase (drawn once, seeded)

    def __post_init__(self):
        self.check(bool(self.train), "train", "give the JSONL files of the replayed phase")
        self.check(0.0 < self.fraction <= MAX_REPLAY_FRACTION, "fraction", f"must be in (0, {MAX_REPLAY_FRACTION:g}]")


@dataclass
class DataConfig(Config):
    train: list[str] = field(default_factory=list)
    eval: list[str] = field(default_factory=list)
    use_embedding_cache: bool = True  # frozen-encoder features read from / written to the cache
    cache_dir: str | None = None  # default: <output_dir>/../embedding_cache
    shuffle: bool = True
    max_records: int | None = None
    event_schema: str | None = None  # MS-PIT: an event schema as data (JSON or an M2E2 folder) for EE prompts
    replay: list[ReplayConfig] = field(default_factory=list)
    # padding-free: each micro-batch's examples concatenated into rows of at most max_length tokens, position ids
    # restarting per example and attention kept inside each (training.packing)
    packing: bool = False
    # each epoch's order grouped by length, as transformers' group_by_length does: the seeded permutation is cut
    # into mega-batches of GROUP_MEGABATCH micro-batches, each sorted by length, cut into micro-batches, and
    # those shuffled; packed rows of like lengths then hold almost no padding (training.data.PhaseLoader)
    group_by_length: bool = False
    # streamed shards (a data.train entry that is a .tar, a folder of them, a brace pattern or a URL): DataLoader
    # worker processes that read and unpack the micro-batches (training.streaming)
    workers: int = 0

    def __post_init__(self):
        self.check(self.max_records is None or self.max_records > 0, "max_records", "must be positive")
        self.check(self.workers >= 0, "workers", "must be >= 0")


@dataclass
class ScheduleConfig(Config):
    kind: Literal["cosine", "linear", "constant"] = "cosine"
    warmup_ratio: float = 0.03
    min_lr_ratio: float = 0.0

    def __post_init__(self):
        self.check(0.0 <= self.warmup_ratio < 1.0, "warmup_ratio", "must be in [0, 1)")
        self.check(0.0 <= self.min_lr_ratio <= 1.0, "min_lr_ratio", "must be in [0, 1]")


@dataclass
class LossWeights(Config):
    lm: float = 1.0
    mask: float = 1.0  # image/video masks: BCE*2 + dice*0.5 inside the head, times this
    span: float = 1.0  # audio frames
    bind: float = 0.0  # reamo.model.binding: a row's second medium pulled toward its anchor medium (off by default)

    def __post_init__(self):
        for k in ("lm", "mask", "span", "bind"):
            self.check(getattr(self, k) >= 0, k, "must be >= 0")


@dataclass
class TrainConfig(Config):
    phase: PhaseName = "uie"
    model: str = "tiny"  # a model config name (configs/model/NAME.yaml) or YAML path; ignored with init_from
    model_overrides: dict = field(default_factory=dict)
    init_from: str | None = None  # a Reamo checkpoint folder (the previous phase's output)
    data: DataConfig = field(default_factory=DataConfig)
    trainable: list[str] = field(default_factory=lambda: ["lora", "new_tokens"])
    lr: dict[str, float] = field(default_factory=lambda: {"lora": 2e-4, "new_tokens": 2e-4, "projector": 2e-5,
                                                            "heads": 1e-4})
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    loss_weights: LossWeights = field(default_factory=LossWeights)
    schema_guided: bool = False  # MS-PIT: prompts carry textual event-type definitions
    max_length: int = 512
    micro_batch_size: int = 4
    grad_accum: int = 1
    # examples per optimizer step over all processes; when set, grad_accum follows from it and the number of
    # processes (global_batch_size / (micro_batch_size x processes)), so a run on fewer GPUs trains the same way
    global_batch_size: int | None = None
    epochs: float = 1.0
    max_steps: int | None = None
    deepspeed: str = "configs/deepspeed/zero2.json"
    precision: Literal["auto", "fp32", "bf16"] = "auto"  # auto: bf16 on GPU, fp32 on CPU
    save_every: int = 0  # optimizer steps between checkpoints; 0 = only at the end
    keep_checkpoints: int = 2
    output_dir: str = "runs/phase"
    seed: int = 0
    log_every: int = 10
    progress: bool = True
    stop_on_nonfinite: bool = True

    def __post_init__(self):
        self.check_choices(self.trainable, GROUPS, "trainable", "group")
        self.check(bool(self.trainable), "trainable", "nothing to train")
        missing = [g for g in self.trainable if g not in self.lr]
        self.check(not missing, "lr", f"no learning rate for trainable group {missing[0] if missing else ''!r}")
        for g, v in self.lr.items():
            self.check(g in GROUPS and v > 0, "lr", f"lr.{g}={v}: groups are {list(GROUPS)}, rates must be > 0")
        for k in ("micro_batch_size", "grad_accum", "max_length"):
            self.check(getattr(self, k) > 0, k, "must be positive")
        self.check(self.epochs > 0, "epochs", "must be positive")
        self.check(self.global_batch_size is None or self.global_batch_size > 0, "global_batch_size", "must be positive")
        self.check(self.max_steps is None or self.max_steps > 0, "max_steps", "must be positive")
        self.check(self.save_every >= 0, "save_every", "must be >= 0")
        self.check(self.keep_checkpoints >= 1, "keep_checkpoints", "must be >= 1")

    def accumulation(self, world_size: int, global_batch: int | None = None) -> int:
        """Micro-batches per optimizer step on each of `world_size` processes: from `global_batch` (e.g. the one
        a checkpoint was written with) or `global_batch_size` when given, else `grad_accum`."""
        g = global_batch or self.global_batch_size
        if g is None:
            return self.grad_accum
        per_step = self.micro_batch_size * world_size
        self.check(g % per_step == 0, "global_batch_size",
                   f"{g} examples per step do not split into micro-batches of {self.micro_batch_size} on "
                   f"{world_size} process(es)")
        return g // per_step

    def resolve(self, path: str) -> Path:
        """Paths in phase configs are relative to the working directory, else to the repository."""
        p = Path(path).expanduser()
        if p.is_absolute() or p.exists():
            return p
        return REPO / p
