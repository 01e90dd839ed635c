"""`reamo plan`: parameter counts from the meta-device model, the activation model against what autograd
really saves at SmolLM2 shapes on the CPU, and the ZeRO arithmetic."""
import pytest

from reamo.cli import main as cli_main
from reamo.planning import (ADAM_BYTES, BF16, GIB, LLMShape, ParameterCounts, activation_bytes, count_parameters,
                            plan_inference, plan_training)


def test_vicuna_counts_equal_the_readme():
    p, s = count_parameters("vicuna-7b", "phase4_meta")
    assert p.total == 8_464_716_338
    lora = 32 * 128 * (4 * (4096 + 4096) + 3 * (4096 + 11008))
    assert p.trainable["lora"] == lora and p.trainable["new_tokens"] == 7 * 4096 * 2
    assert set(p.trainable) == {"lora", "new_tokens", "heads"}  # phase 4's groups (configs/phases/phase4_meta.yaml)
    assert (s.hidden, s.intermediate, s.layers, s.vocab, s.lora_r) == (4096, 11008, 32, 32000, 128)


def test_zero_arithmetic_by_hand():
    p = ParameterCounts(llm_frozen=1000, encoder=0, heads_frozen=0, trainable={"lora": 100}, largest_layer=10)
    s = LLMShape(hidden=8, intermediate=16, layers=2, heads=2, kv_heads=2, vocab=50)
    z2, z3, z3o = plan_training(p, s, gpus=4, seq=4, micro_batch=1, answer=2, checkpointing=False)
    assert z2.gpu["frozen weights (bf16)"] == 1000 * BF16 and z2.gpu["trainable weights (bf16)"] == 100 * BF16
    assert z2.gpu["optimizer: fp32 master + Adam (partitioned)"] == 100 * ADAM_BYTES / 4
    assert z3.gpu["frozen weights (bf16, partitioned)"] == 1000 * BF16 / 4
    assert "frozen weights (bf16, partitioned)" not in z3o.gpu and z3o.cpu["weights (bf16, partitioned, pinned)"] == 1100 * BF16 / 4
    act = activation_bytes(s, 4, 1, 2)
    assert act["layers"] == 2 * 4 * (6 * 8 + 2 * 8 + 4 * 16) * BF16
    assert act["log-softmax at answer positions"] == 2 * 50 * 4 and act["vocabulary matrix with new rows"] == 50 * 8 * 2
    ck = activation_bytes(s, 4, 1, 2, checkpointing=True)
    assert ck["layers"] == 2 * 4 * 8 * BF16 and ck["recompute (one layer)"] == act["layers"] / 2
    inf = plan_inference(p, s, seq=4, batch=1)
    assert [x.gpu["LLM weights"] for x in inf] == [1100 * 2, 1100 * 1, 1100 * 0.5]


@pytest.mark.parametrize("checkpointing", [False, True])
def test_activation_model_matches_measured_at_smollm2_shapes(checkpointing):
    """SmolLM2-135M + LoRA r=16 + new token rows in fp32 on the CPU, seq 256 x 2 with 64 answer tokens: the
    model's saved-activation bytes are within 25% of the bytes autograd saved during the forward (with
    checkpointing: what stays between layers). benchmarks/activation_memory.py prints more shapes."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from activation_memory import build, measured_saved_bytes, predicted_saved_bytes

    model, cfg = build(256)
    measured = measured_saved_bytes(model, cfg, 256, 2, 64, checkpointing)
    predicted = predicted_saved_bytes(256, 2, 64, checkpointing)
    assert abs(predicted - measured) / measured < 0.25, (predicted / GIB, measured / GIB)


def test_plan_command_prints_every_mode_and_the_gpu_sizes(capsys):
    assert cli_main(["plan", "--config", "vicuna-7b", "--phase", "phase4_meta", "--gpus", "8", "--zero", "2"]) == 0
    out = capsys.readouterr().out
    assert "8,464,716,338" in out
    for mode in ("ZeRO-2  <- --zero", "ZeRO-3", "ZeRO-3 + CPU offload", "inference, bf16", "inference, 4-bit"):
        assert mode in out
    assert "fits: 24 GB" in out and "gradient checkpointing on" in out


def test_zero3_keeps_the_frozen_encoders_whole_and_gathers_the_heads():
    p = ParameterCounts(llm_frozen=1000, encoder=300, heads_frozen=100, trainable={"lora": 100, "heads": 50},
                        largest_layer=10, outside_engine=350, heads_in_engine=120)
    s = LLMShape(hidden=8, intermediate=16, layers=2, heads=2, kv_heads=2, vocab=50)
    z2, z3, z3o = plan_training(p, s, gpus=4, seq=4, micro_batch=1, answer=2, checkpointing=False)
    assert z2.gpu["frozen weights (bf16)"] == 1400 * BF16
    assert z3.gpu["frozen encoders outside the engine (bf16, whole)"] == 350 * BF16
    assert z3.gpu["frozen weights (bf16, partitioned)"] == (1400 - 350) * BF16 / 4
    assert z3.gpu["grounding heads gathered whole (bf16)"] == 120 * BF16
    assert z3o.gpu["frozen encoders outside the engine (bf16, whole)"] == 350 * BF16
    assert z3o.cpu["weights (bf16, partitioned, pinned)"] == (1400 - 350 + 150) * BF16 / 4


def test_frozen_encoders_are_counted_from_the_model():
    p, _ = count_parameters("tiny", "phase4_meta")
    from reamo.api import Reamo

    m = Reamo.from_config("tiny").model
    assert p.outside_engine == sum(x.numel() for x in m.encoder.parameters()) + \
        sum(x.numel() for x in m.heads.image.image_encoder.parameters()) > 0
    assert p.heads_in_engine == sum(x.numel() for x in m.heads.parameters()) - \
        sum(x.numel() for x in m.heads.image.image_encoder.parameters())
