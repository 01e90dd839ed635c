"""The LLM backbone: tokenizer, special tokens, mean-initialised rows, LoRA targets."""
import pytest
import torch

from reamo.model.config import LLMConfig, LoraSettings
from reamo.errors import CheckpointError, ConfigError
from reamo.model.llm import build_tokenizer, prepare_llm
from reamo.model.tokens import META_TOKENS, PLACEHOLDERS


def test_special_tokens_are_single_ids_and_new_rows_are_the_mean():
    torch.manual_seed(0)
    tok, model, ids = prepare_llm(LLMConfig(), LoraSettings(enabled=False))
    for t in (*META_TOKENS, *PLACEHOLDERS.values()):
        assert len(tok.encode(t, add_special_tokens=False)) == 1
    # inside running text the marker stays one id
    enc = tok.encode("(Trump, person)<Module>ImageSegmentation</Module><Instruction>Trump</Instruction>",
                     add_special_tokens=False)
    assert enc.count(ids.instruction_end) == 1 and enc.count(ids.module_start) == 1
    emb = model.get_input_embeddings().weight
    base = emb[: min(ids.all)]
    for i in ids.all:
        torch.testing.assert_close(emb[i], base.mean(0))
    out = model.get_output_embeddings().weight
    torch.testing.assert_close(out[ids.instruction_end], out[: min(ids.all)].mean(0))


def test_lora_targets_every_linear_but_lm_head_and_only_new_rows_train():
    tok, model, ids = prepare_llm(LLMConfig(), LoraSettings(r=4, alpha=8))
    names = [n for n, _ in model.named_modules() if n.endswith("lora_A")]
    layer0 = {n.split(".")[-2] for n in names if ".layers.0." in n}
    assert layer0 == {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}
    assert not any("lm_head.lora" in n for n in names)
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert all("lora_" in n or "trainable_tokens" in n for n in trainable), trainable
    assert any("embed_tokens" in n and "trainable_tokens" in n for n in trainable)
    assert any("lm_head" in n and "trainable_tokens" in n for n in trainable)
    # the full vocabulary matrices stay frozen
    frozen = dict(model.named_parameters())
    assert not any(p.requires_grad for n, p in frozen.items() if n.endswith("embed_tokens.base_layer.weight")
                   or n.endswith("embed_tokens.weight"))


def test_llm_config_validation_names_the_key():
    with pytest.raises(ConfigError, match="hidden_size"):
        LLMConfig.from_dict({"hidden_size": 30, "num_attention_heads": 4})
    with pytest.raises(ConfigError, match="llm_size|unknown key"):
        LLMConfig.from_dict({"llm_size": 3})


def test_missing_checkpoint_folder_is_a_typed_error(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        build_tokenizer(LLMConfig(path=str(tmp_path / "nope")))


def test_vicuna_7b_shapes_on_meta_device():
    cfg = LLMConfig(hidden_size=4096, intermediate_size=11008, num_hidden_layers=32, num_attention_heads=32,
                    max_position_embeddings=4096, rms_norm_eps=1e-5)
    tok = build_tokenizer(LLMConfig())
    _, model, _ = prepare_llm(cfg, LoraSettings(r=128, alpha=256), tokenizer=tok, device="meta")
    n = sum(p.numel() for n, p in model.named_parameters() if "lora_" not in n and "trainable_tokens" not in n)
    # LLaMA-7B body without the 32000-token embeddings: 6.476e9; plus this tokenizer's 2 x vocab x 4096
    body = n - 2 * len(tok) * 4096
    assert body == 6_476_271_616


def test_gguf_cache_folder_gives_the_same_model_and_tokenizer(tmp_path, monkeypatch):
    """A GGUF checkpoint loads through a de-quantized folder written once under $REAMO_CACHE: the same weights,
    bit for bit, and the same tokenizer as reading the GGUF file directly."""
    pytest.importorskip("gguf")
    from reamo.model.config import ReamoConfig
    from reamo.model.llm import build_llm

    monkeypatch.setenv("REAMO_CACHE", str(tmp_path))
    cfg = ReamoConfig.from_yaml("configs/model/smollm2-135m.yaml").llm
    tok = build_tokenizer(cfg)
    model = build_llm(cfg, tok)
    folders = list((tmp_path / "gguf").iterdir())
    assert len(folders) == 1 and (folders[0] / "model.safetensors").is_file()
    direct = cfg.replace(gguf_cache=False)
    tok2 = build_tokenizer(direct)
    model2 = build_llm(direct, tok2)
    s = "<|im_start|>user\nYesterday Takaxa met the dog Visami near Bus 845.<|im_end|>"
    assert tok(s).input_ids == tok2(s).input_ids and len(tok) == len(tok2)
    assert tok.eos_token == tok2.eos_token and tok.chat_template == tok2.chat_template
    sd, sd2 = model.state_dict(), model2.state_dict()
    assert sd.keys() == sd2.keys() and all(torch.equal(sd[k], sd2[k]) for k in sd)
    assert model.config.tie_word_embeddings and not getattr(model, "is_quantized", False)
    build_llm(cfg, tok)  # a second load reads the folder, writes nothing new
    assert list((tmp_path / "gguf").iterdir()) == folders
