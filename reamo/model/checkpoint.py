"""Reamo's checkpoint folder: only what training changed, base checkpoints referenced by path.

    DIR/config.yaml                ReamoConfig (base checkpoints as the paths they were loaded from)
    DIR/tokenizer/                 tokenizer with Reamo's special tokens (JSON files, no pickles)
    DIR/adapter/                   LoRA adapter + new token rows, in peft's own format (safetensors)
    DIR/reamo.safetensors          projector and grounding heads
    DIR/base.safetensors           only for parts that were randomly initialised (no checkpoint path to
                                   refer to): tiny LLM / encoder / SAM weights, so a reload is identical
    DIR/reamo_checkpoint.json      format version and the list of files

Loading never unpickles: tensors come from safetensors only; a folder holding pickled weights
(.bin/.pt/.pth) instead is refused with CheckpointError.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from reamo.errors import CheckpointError

FORMAT_VERSION = 1
MANIFEST = "reamo_checkpoint.json"


def _save_tensors(tensors: dict[str, torch.Tensor], path: Path) -> None:
    # clone: safetensors refuses tensors that share storage (tied weights)
    save_file({k: v.detach().to("cpu").contiguous().clone() for k, v in tensors.items()}, str(path))


def load_tensors(path: str | Path) -> dict[str, torch.Tensor]:
    """Tensors from a .safetensors file. Anything else is refused: we never unpickle checkpoint data."""
    path = Path(path)
    if path.suffix != ".safetensors":
        raise CheckpointError(path, "refusing to load a non-safetensors file (pickled checkpoints can run code); "
                                    "convert it to .safetensors first")
    if not path.is_file():
        raise CheckpointError(path, "file not found")
    try:
        return load_file(str(path))
    except Exception as e:  # safetensors raises its own SafetensorError for corrupt headers
        raise CheckpointError(path, f"corrupt or unreadable safetensors file: {e}") from None


def _base_keys(model) -> list[str]:
    """State-dict prefixes of randomly initialised frozen parts, which must be saved to reload identically."""
    cfg = model.config
    prefixes = []
    llm_trained = any(p.requires_grad for n, p in model.llm.named_parameters()
                      if "lora_" not in n and "trainable_tokens" not in n)
    if not (cfg.llm.path or cfg.llm.package) or llm_trained:  # random or fully fine-tuned: not on disk elsewhere
        prefixes.append("llm.")
    if not getattr(cfg.encoder, "checkpoint", None):
        prefixes.append("encoder.")
    return prefixes


def trained_state(model) -> dict[str, torch.Tensor]:
    """Projector and heads (everything but the encoder and the LLM)."""
    heads = model.heads.checkpoint_state_dict() if hasattr(model.heads, "checkpoint_state_dict") else model.heads.state_dict()
    out = {f"projector.{k}": v for k, v in model.projector.state_dict().items()}
    out.update({f"heads.{k}": v for k, v in heads.items()})
    return out


def saved_parameters(model) -> list[torch.nn.Parameter]:
    """The parameters `save_pretrained` reads: LoRA and new token rows (the adapter), projector, heads, and
    the randomly initialised base parts. Under ZeRO-3 these are partitioned across ranks and must be gathered
    (deepspeed.zero.GatheredParameters, on every rank) before rank 0 saves."""
    prefixes = ("projector.", "heads.") + tuple(_base_keys(model))
    return [p for n, p in model.named_parameters()
            if n.startswith(prefixes) or "lora_" in n or "trainable_tokens" in n or "modules_to_save" in n]


def save_pretrained(model, directory: str | Path) -> Path:
    """Write the checkpoint folder atomically: built in a temporary sibling, then renamed into place. A model
    whose LoRA update is merged into its base weights (Reamo.eval(merge_lora=True)) is saved unmerged."""
    from reamo.model.llm import lora_merged

    merged = model.config.lora.enabled and lora_merged(model.llm)
    if merged:
        model.llm.unmerge_adapter()
    try:
        return _save_pretrained(model, directory)
    finally:
        if merged:
            model.llm.merge_adapter()


def _save_pretrained(model, directory: str | Path) -> Path:
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    try:
        model.config.to_yaml(tmp / "config.yaml")
        model.tokenizer.save_pretrained(str(tmp / "tokenizer"))
        files = ["config.yaml", "tokenizer", "reamo.safetensors"]
        if model.config.lora.enabled:
            # the adapter only: the new token rows are in it (trainable_tokens_delta); peft would otherwise
            # add whole embedding matrices when the base folder's config shows the resized vocabulary
            model.llm.save_pretrained(str(tmp / "adapter"), safe_serialization=True, save_embedding_layers=False)
            _sort_target_modules(tmp / "adapter" / "adapter_config.json")
            files.append("adapter")
        _save_tensors(trained_state(model), tmp / "reamo.safetensors")
        prefixes = _base_keys(model)
        if prefixes:
            sd = model.state_dict()
            base = {k: v for k, v in sd.items() if k.startswith(tuple(prefixes))
                    and "lora_" not in k and "trainable_tokens" not in k}
            _save_tensors(base, tmp / "base.safetensors")
            files.append("base.safetensors")
        (tmp / MANIFEST).write_text(json.dumps({"format_version": FORMAT_VERSION, "files": files}, indent=1))
        if directory.exists():
            old = directory.with_name(f".{directory.name}.old")
            if old.exists():
                shutil.rmtree(old)
            os.replace(directory, old)
            os.replace(tmp, directory)
            shutil.rmtree(old)
        else:
            os.replace(tmp, directory)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return directory


def _sort_target_modules(path: Path) -> None:
    """peft keeps `target_modules` as a set and writes it in the order of Python's string hashing, which changes
    from process to process; sorted, a seeded run's checkpoint is the same bytes when run again."""
    cfg = json.loads(path.read_text())
    if isinstance(cfg.get("target_modules"), list):
        cfg["target_modules"] = sorted(cfg["target_modules"])
        path.write_text(json.dumps(cfg, indent=2, sort_keys=True))


def read_manifest(directory: Path) -> dict:
    if not directory.is_dir():
        raise CheckpointError(directory, "checkpoint folder not found")
    mf = directory / MANIFEST
    if not mf.is_file():
        raise CheckpointError(directory, f"not a Reamo checkpoint ({MANIFEST} missing)")
    try:
        manifest = json.loads(mf.read_text())
    except json.JSONDecodeError as e:
        raise CheckpointError(mf, f"corrupt manifest: {e}") from None
    if manifest.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(directory, f"format version {manifest.get('format_version')} is not {FORMAT_VERSION}")
    for f in manifest.get("files", []):
        if not (directory / f).exists():
            raise CheckpointError(directory / f, "listed in the manifest but missing")
    return manifest


def load_into(model, directory: str | Path) -> None:
    """Load a checkpoint folder's weights into a model built from its config.yaml."""
    from peft import set_peft_model_state_dict

    directory = Path(directory)
    manifest = read_manifest(directory)
    files = manifest["files"]
    sd_keys = set(model.state_dict())
    if "base.safetensors" in files:
        base = load_tensors(directory / "base.safetensors")
        unknown = [k for k in base if k not in sd_keys]
        if unknown:
            raise CheckpointError(directory / "base.safetensors", f"unexpected keys {unknown[:5]}")
        model.load_state_dict(base, strict=False)
    trained = load_tensors(directory / "reamo.safetensors")
    proj = {k[len("projector."):]: v for k, v in trained.items() if k.startswith("projector.")}
    heads = {k[len("heads."):]: v for k, v in trained.items() if k.startswith("heads.")}
    _strict_load(model.projector, proj, directory / "reamo.safetensors", "projector")
    if hasattr(model.heads, "load_checkpoint_state_dict"):
        model.heads.load_checkpoint_state_dict(heads)
    else:
        _strict_load(model.heads, heads, directory / "reamo.safetensors", "heads")
    if "adapter" in files:
        adapter = directory / "adapter"
        st = adapter / "adapter_model.safetensors"
        if not st.is_file():
            pickles = [p.name for p in adapter.glob("*.bin")]
            raise CheckpointError(adapter, "no adapter_model.safetensors" + (f" (refusing pickled {pickles})" if pickles else ""))
        result = set_peft_model_state_dict(model.llm, load_tensors(st))
        unexpected = getattr(result, "unexpected_keys", [])
        if unexpected:
            raise CheckpointError(st, f"unexpected adapter keys {unexpected[:5]}")


def _strict_load(module, sd, path, what):
    missing, unexpected = module.load_state_dict(sd, strict=False)
    if missing or unexpected:
        raise CheckpointError(path, f"{what}: missing keys {list(missing)[:5]}, unexpected keys {list(unexpected)[:5]}")
