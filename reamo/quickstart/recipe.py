"""The quickstart recipe: configs/quickstart/<name>.yaml, validated (unknown keys and phases are named).

A recipe lists its phases in the order they run; each names its phase config (configs/phases/CONFIG.yaml, by
default the phase's own name) and the corpus files it trains on (CORPUS/NAME.jsonl, by default its name). A recipe
may start from another (`base: smollm2`): it inherits every key it does not give; in its `phases`, a phase set to
null is the base's phase of that name."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from reamo.configbase import Config
from reamo.errors import ConfigError

RECIPES = Path(__file__).resolve().parents[2] / "configs" / "quickstart"
PHASE_CONFIGS = RECIPES.parent / "phases"
DEFAULT_PHASES = ("phase1_uie", "phase2_alignment", "phase3_grounding", "phase4_meta")  # the paper's four
SIZES = ("full", "smoke")


@dataclass
class PhaseRecipe(Config):
    epochs: dict[str, float] = field(default_factory=dict)  # per size: full, smoke
    trainable: list[str] = field(default_factory=list)
    lr: dict[str, float] = field(default_factory=dict)
    # earlier phases whose examples are mixed in: {recipe phase: replayed examples per example of this one}
    replay: dict[str, float] = field(default_factory=dict)
    loss_weights: dict[str, float] = field(default_factory=dict)  # this phase's, over the recipe's train.loss_weights
    config: str = ""  # configs/phases/CONFIG.yaml (default: the phase's name)
    data: list[str] = field(default_factory=list)  # corpus files it trains on, CORPUS/NAME.jsonl (default: [config])
    train: dict = field(default_factory=dict)  # other TrainConfig keys of this phase (dotted keys reach in)

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
    base: str | None = None  # the recipe this one starts from (its keys are inherited)
    model: str = "quickstart"  # a model config name (configs/model/NAME.yaml)
    train: dict = field(default_factory=dict)  # TrainConfig keys shared by every phase
    phases: dict[str, PhaseRecipe] = field(default_factory=dict)
    eval: EvalSettings = field(default_factory=EvalSettings)
    corpus: CorpusSettings = field(default_factory=CorpusSettings)

    def __post_init__(self):
        self.check(bool(self.phases), "phases", "list at least one phase")
        names = list(self.phases)
        for i, (name, p) in enumerate(self.phases.items()):
            if not self.phase_yaml(name).is_file():
                raise ConfigError(f"phases.{name}.config", p.config or name, f"no phase config {self.phase_yaml(name)}")
            bad = [r for r in p.replay if r not in names[:i]]
            if bad:
                raise ConfigError(f"phases.{name}.replay", p.replay, f"{bad[0]!r} is not a phase before {name}")

    def phase_yaml(self, name: str) -> Path:
        """The phase config a recipe phase runs: configs/phases/CONFIG.yaml (CONFIG: its `config`, else its name)."""
        return PHASE_CONFIGS / f"{self.phases[name].config or name}.yaml"

    @staticmethod
    def _path(name_or_path: str) -> Path:
        p = Path(name_or_path)
        return p if p.suffix in (".yaml", ".yml") else RECIPES / f"{name_or_path}.yaml"

    @classmethod
    def _resolved(cls, name_or_path: str, seen: tuple = ()) -> tuple[dict, dict]:
        """The recipe's keys with its bases' filled in, and every phase defined along the chain of bases (a null
        phase takes the nearest base's phase of that name)."""
        from reamo.configbase import load_yaml

        path = cls._path(name_or_path)
        data = load_yaml(path)
        base = data.get("base")
        own = {n: p for n, p in (data.get("phases") or {}).items() if p is not None}
        if base is None:
            return data, own
        if str(base) in seen:
            raise ConfigError("base", base, f"recipes start from each other in a loop ({' -> '.join(seen)})",
                              source=str(path))
        parent, library = cls._resolved(str(base), (*seen, str(base)))
        library = {**library, **parent.get("phases", {}), **own}
        out = {**parent, **{k: v for k, v in data.items() if k not in ("train", "phases")}}
        out["train"] = {**parent.get("train", {}), **data.get("train", {})}
        phases = data.get("phases") or parent.get("phases", {})
        for name, p in phases.items():
            if p is None and name not in library:
                raise ConfigError(f"phases.{name}", None, f"null takes a base's phase, and no base of this recipe "
                                                          f"has a phase {name!r}", source=str(path))
        out["phases"] = {name: library[name] if p is None else p for name, p in phases.items()}
        return out, library

    @classmethod
    def load(cls, name_or_path: str, overrides: dict | None = None) -> "Recipe":
        """The recipe with its bases filled in; `overrides` (dotted keys, e.g. "phases.phase2_alignment.epochs.full")
        go in before validation, so a bad one is named as a bad key of the file would be."""
        from reamo.configbase import deep_update

        data = cls._resolved(name_or_path, (str(name_or_path),))[0]
        return cls.from_dict(deep_update(data, overrides) if overrides else data, source=str(cls._path(name_or_path)))

    def phase_config(self, phase: str, size: str, out: Path, init_from: str | None, seed: int):
        """The TrainConfig of one phase: configs/phases/<phase>.yaml with the recipe's keys."""
        from training.config import TrainConfig

        from reamo.configbase import load_yaml

        def data_of(name):
            return [str(out / "corpus" / f"{f}.jsonl") for f in self.phases[name].data or [name]]

        p = self.phases[phase]
        replay = [{"phase": load_yaml(self.phase_yaml(name))["phase"], "train": data_of(name), "fraction": float(f)}
                  for name, f in p.replay.items()]
        weights = {"loss_weights": {**self.train.get("loss_weights", {}), **p.loss_weights}} if p.loss_weights else {}
        return TrainConfig.from_yaml(self.phase_yaml(phase), {
            **self.train, **weights, **p.train, "model": self.model, "init_from": init_from,
            "output_dir": str(out / phase), "epochs": float(p.epochs[size]), "data.train": data_of(phase),
            "data.replay": replay, "data.cache_dir": str(out / "embedding_cache"), "trainable": list(p.trainable),
            "lr": dict(p.lr), "seed": seed})
