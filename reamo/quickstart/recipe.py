"""The quickstart recipe: configs/quickstart/<name>.yaml, validated (unknown keys and phases are named)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from reamo.configbase import Config
from reamo.errors import ConfigError

RECIPES = Path(__file__).resolve().parents[2] / "configs" / "quickstart"
PHASES = ("phase1_uie", "phase2_alignment", "phase3_grounding", "phase4_meta")
SIZES = ("full", "smoke")


@dataclass
class PhaseRecipe(Config):
    epochs: dict[str, float] = field(default_factory=dict)  # per size: full, smoke
    trainable: list[str] = field(default_factory=list)
    lr: dict[str, float] = field(default_factory=dict)
    # earlier phases whose examples are mixed in: {recipe phase: replayed examples per example of this one}
    replay: dict[str, float] = field(default_factory=dict)
    loss_weights: dict[str, float] = field(default_factory=dict)  # this phase's, over the recipe's train.loss_weights

    def __post_init__(self):
        self.check(set(self.epochs) == set(SIZES), "epochs", f"give epochs for each of {list(SIZES)}")
        self.check(all(v > 0 for v in self.epochs.values()), "epochs", "must be positive")
        from training.config import MAX_REPLAY_FRACTION, LossWeights

        self.check(all(0 < v <= MAX_REPLAY_FRACTION for v in self.replay.values()), "replay",
                   f"fractions must be in (0, {MAX_REPLAY_FRACTION:g}]")
        LossWeights.from_dict(self.loss_weights, prefix="loss_weights.")  # names an unknown key or a bad weight


@dataclass
class EvalSettings(Config):
    batch_size: int = 16
    max_new_tokens: int = 96

    def __post_init__(self):
        self.check(self.batch_size > 0 and self.max_new_tokens > 0, "batch_size", "sizes must be positive")


@dataclass
class CorpusSettings(Config):
    visual: str = "shapes"  # images and videos: "shapes" (coloured shapes), "photo" (cut from real photographs)
    audio: str = "tones"  # "tones" (one per type), "sounds" (speech by espeak-ng, calls, engines)

    def __post_init__(self):
        from reamo.synth.generator import AUDIO, VISUAL

        self.check(self.visual in VISUAL, "visual", f"must be one of {list(VISUAL)}")
        self.check(self.audio in AUDIO, "audio", f"must be one of {list(AUDIO)}")


@dataclass
class Recipe(Config):
    model: str = "quickstart"  # a model config name (configs/model/NAME.yaml)
    train: dict = field(default_factory=dict)  # TrainConfig keys shared by every phase
    phases: dict[str, PhaseRecipe] = field(default_factory=dict)
    eval: EvalSettings = field(default_factory=EvalSettings)
    corpus: CorpusSettings = field(default_factory=CorpusSettings)

    def __post_init__(self):
        self.check(list(self.phases) == list(PHASES), "phases", f"must list {list(PHASES)} in this order")
        for i, (name, p) in enumerate(self.phases.items()):
            bad = [r for r in p.replay if r not in PHASES[:i]]
            if bad:
                raise ConfigError(f"phases.{name}.replay", p.replay, f"{bad[0]!r} is not a phase before {name}")

    @classmethod
    def load(cls, name_or_path: str) -> "Recipe":
        p = Path(name_or_path)
        return cls.from_yaml(p if p.suffix in (".yaml", ".yml") else RECIPES / f"{name_or_path}.yaml")

    def phase_config(self, phase: str, size: str, out: Path, init_from: str | None, seed: int):
        """The TrainConfig of one phase: configs/phases/<phase>.yaml with the recipe's keys."""
        from training.config import TrainConfig

        from reamo.configbase import load_yaml

        def yaml_of(name):
            return RECIPES.parent / "phases" / f"{name}.yaml"

        def data_of(name):
            return [str(out / "corpus" / f"{name}.jsonl")]

        p = self.phases[phase]
        replay = [{"phase": load_yaml(yaml_of(name))["phase"], "train": data_of(name), "fraction": float(f)}
                  for name, f in p.replay.items()]
        weights = {"loss_weights": {**self.train.get("loss_weights", {}), **p.loss_weights}} if p.loss_weights else {}
        return TrainConfig.from_yaml(yaml_of(phase), {
            **self.train, **weights, "model": self.model, "init_from": init_from, "output_dir": str(out / phase),
            "epochs": float(p.epochs[size]), "data.train": data_of(phase), "data.replay": replay,
            "data.cache_dir": str(out / "embedding_cache"), "trainable": list(p.trainable), "lr": dict(p.lr),
            "seed": seed})
