"""The user-facing API: `Reamo.from_config`, `Reamo.from_pretrained`, `save_pretrained`, `extract`."""
from __future__ import annotations

from pathlib import Path

import torch

from reamo.model import checkpoint
from reamo.model.config import ReamoConfig
from reamo.errors import CheckpointError
from reamo.model.modeling import ReamoModel


class Reamo:
    """A Reamo model with its tokenizer and processor.

    >>> reamo = Reamo.from_config("tiny")             # random tiny model (tests, quickstart)
    >>> reamo = Reamo.from_pretrained("runs/phase4")  # trained parts + base checkpoints referenced by path
    >>> results = reamo.extract([{"text": "...", "image": "photo.jpg"}], task="ner", schema=["person"])
    """

    def __init__(self, model: ReamoModel):
        self.model = model

    # ---- construction ----------------------------------------------------------------------------------
    @classmethod
    def from_config(cls, config: ReamoConfig | str | Path = "tiny", overrides: dict | None = None,
                    device: str | torch.device = "cpu") -> "Reamo":
        if not isinstance(config, ReamoConfig):
            config = ReamoConfig.named(str(config), overrides)
        elif overrides:
            config = ReamoConfig.from_dict(_merge(config.to_dict(), overrides))
        return cls(ReamoModel(config).to(device))

    @classmethod
    def from_pretrained(cls, directory: str | Path, overrides: dict | None = None,
                        device: str | torch.device = "cpu") -> "Reamo":
        """Load a folder written by `save_pretrained`. `overrides` (dotted keys) can repoint base checkpoint
        paths, e.g. {"llm.path": "/models/vicuna-7b-v1.5"} on another machine."""
        directory = Path(directory)
        checkpoint.read_manifest(directory)
        config = ReamoConfig.from_yaml(directory / "config.yaml", overrides)
        model = ReamoModel(config, tokenizer_dir=directory / "tokenizer")
        checkpoint.load_into(model, directory)
        return cls(model.to(device))

    @classmethod
    def load(cls, spec: str | Path, device: str | torch.device = "cpu") -> "Reamo":
        """A checkpoint folder (`from_pretrained`), or else a model config name or YAML (`from_config`)."""
        return cls.from_pretrained(spec, device=device) if Path(spec).is_dir() else cls.from_config(str(spec),
                                                                                                   device=device)

    def save_pretrained(self, directory: str | Path) -> Path:
        return checkpoint.save_pretrained(self.model, directory)

    # ---- extraction ------------------------------------------------------------------------------------
    def extract(self, inputs, task: str = "ner", schema=None, max_new_tokens: int = 256, batch_size: int = 8,
                progress: bool = False, base_dir=None, answers: list[str] | None = None, copy_spans: bool = False):
        """Extract and ground. `inputs`: one input or a list; an input is a dict with any of text, image,
        audio, video (paths, PIL images, arrays, tensors), a Record, or a string (text). `schema`: a dict as
        in DESIGN.md 3.1 or a list of labels. Returns one ExtractionResult, or a list for a list; a bad item
        carries its typed error in `.error` and the others are still answered. `answers` (one per input) are
        used instead of generating (teacher forcing: evaluates parsing and grounding alone). `copy_spans`: decode
        every span of an input with text as a piece of that text (entities, heads and tails, triggers and
        arguments; reamo.inference.copy_spans) instead of letting the model write any string."""
        from reamo.inference.extract import extract

        single = not isinstance(inputs, (list, tuple))
        was_training = self.model.training
        self.model.eval()
        try:
            res = extract(self.model, [inputs] if single else inputs, task, schema, max_new_tokens, batch_size,
                          progress, base_dir, None if answers is None else
                          [answers] if isinstance(answers, str) else list(answers), copy_spans)
        finally:
            self.model.train(was_training)
        return res[0] if single else res

    # ---- conveniences ----------------------------------------------------------------------------------
    @property
    def config(self) -> ReamoConfig:
        return self.model.config

    @property
    def tokenizer(self):
        return self.model.tokenizer

    @property
    def processor(self):
        return self.model.processor

    def eval(self, merge_lora: bool = False) -> "Reamo":
        """Inference mode. `merge_lora=True` adds the LoRA update into the base weights (peft's merge_adapter):
        the same model, with one matmul per layer instead of three (generation runs about 1.7x faster on a
        CPU for SmolLM2-135M); `train()` takes it out again. While merged, changing the LoRA weights does not
        change the outputs; `save_pretrained` saves the unmerged weights."""
        self.model.eval()
        if merge_lora and self.model.config.lora.enabled and not self.lora_merged:
            self.model.llm.merge_adapter()
        return self

    @property
    def lora_merged(self) -> bool:
        from reamo.model.llm import lora_merged

        return lora_merged(self.model.llm)

    def train(self) -> "Reamo":
        """Training mode, with the LoRA update separate from the base weights again."""
        if self.model.config.lora.enabled and self.lora_merged:
            self.model.llm.unmerge_adapter()
        self.model.train()
        return self


def _merge(base: dict, overrides: dict) -> dict:
    from reamo.configbase import deep_update

    return deep_update(base, overrides)


__all__ = ["Reamo", "CheckpointError"]
