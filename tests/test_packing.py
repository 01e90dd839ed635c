"""training.packing: examples of a micro-batch concatenated into rows, with the same loss and gradients as the
padded batch of the same examples (phase 4: media of every kind, grounding instructions in the answers)."""
import pytest
import torch

from reamo.api import Reamo
from reamo.model.processor import IGNORE_INDEX, EncodedExample
from reamo.synth import generate_corpus
from training.config import LossWeights, TrainConfig
from training.data import phase_examples
from training.packing import pack, padding_fraction


def _ex(n, answer):
    return EncodedExample(list(range(1, n + 1)), [IGNORE_INDEX] * (n - answer) + list(range(100, 100 + answer)), {}, False)


def test_rows_positions_and_labels():
    exs = [_ex(5, 2), _ex(4, 1), _ex(7, 3), _ex(2, 1)]
    p = pack(exs, max_length=10, pad_id=0)
    assert p.order == [0, 1, 2, 3] and p.placement == [(0, 0), (0, 5), (1, 0), (1, 7)]  # 7+2 and 5+4
    assert p.input_ids.shape == (2, 9)
    assert p.position_ids[0].tolist() == [0, 1, 2, 3, 4, 0, 1, 2, 3]
    assert p.position_ids[1].tolist() == [0, 1, 2, 3, 4, 5, 6, 0, 1]
    assert p.labels[0, 5:9].tolist() == exs[1].labels and p.attention_mask.sum() == 18
    # balanced: five of 5 need two rows of 20; 3 + 2 examples (width 15) instead of 4 + 1 (width 20)
    b = pack([_ex(5, 1)] * 5, max_length=20, pad_id=0)
    assert [r for r, _ in b.placement] == [0, 0, 0, 1, 1] and b.input_ids.shape == (2, 15)
    c = pack([_ex(2, 1), _ex(8, 1), _ex(6, 1), _ex(4, 1)], max_length=10, pad_id=0)
    assert c.order == [0, 1, 2, 3] and [r for r, _ in c.placement] == [0, 0, 1, 1]  # 2+8, 6+4 (next-fit: 3 rows)
    d = pack([_ex(5, 1), _ex(5, 1), _ex(3, 1), _ex(3, 1)], max_length=8, pad_id=0)
    assert d.order == [0, 2, 1, 3] and d.input_ids.shape == (2, 8)  # 5+3 twice: the rows reorder the examples
    assert d.labels[0, 5:8].tolist() == [IGNORE_INDEX] * 2 + [100]
    q = pack([_ex(3, 1), _ex(8, 1)], max_length=10, pad_id=0)
    assert q.position_ids[0].tolist() == [0, 1, 2, 0, 1, 2, 3, 4]  # row 0's padding: a sequence of its own
    assert padding_fraction(q.attention_mask) == pytest.approx(5 / 16)
    with pytest.raises(ValueError, match="ignored label"):
        pack([EncodedExample([1, 2], [1, 2], {}, False)], 10, 0)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("pack")
    generate_corpus(root / "corpus", {"train": 12, "dev": 1, "test": 1}, seed=5)
    model = Reamo.from_config("tiny").model.train()
    return root, model


def _losses_and_grads(model, batch, denom):
    model.zero_grad()
    batch.lm_denominator = denom
    parts = model.training_losses(batch, LossWeights(), all_heads=True)
    parts["loss"].backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    return {k: v.detach() for k, v in parts.items()}, grads


@pytest.mark.parametrize("phase", ["phase1_uie", "phase4_meta"])
def test_packed_batch_has_the_loss_and_gradients_of_the_padded_one(phase, setup):
    root, model = setup
    for p in model.parameters():
        p.requires_grad_(p.is_floating_point())
    for enc in model.frozen_encoders():
        getattr(*enc).requires_grad_(False)
    out = {}
    for packing in (False, True):
        cfg = TrainConfig.from_yaml(f"configs/phases/{phase}.yaml", {
            "data.train": [str(root / "corpus" / f"{phase}.jsonl")], "output_dir": str(root / "out"), "init_from": None,
            "data.packing": packing, "max_length": 512, "data.cache_dir": str(root / "cache")})
        builder, examples, _ = phase_examples(model, cfg)
        batch = builder.collate(examples[:6])
        assert batch.size == 6
        out[packing] = (batch, *_losses_and_grads(model, batch, denom=float(batch.num_answer_tokens)))
    (plain, lp, gp), (packed, lk, gk) = out[False], out[True]
    assert packed.input_ids.shape[0] < plain.input_ids.shape[0]  # fewer rows, less padding
    assert padding_fraction(packed.attention_mask) < padding_fraction(plain.attention_mask)
    assert packed.num_tokens == plain.num_tokens and packed.num_answer_tokens == plain.num_answer_tokens
    if phase == "phase4_meta":
        assert len(packed.grounding["requests"]) == len(plain.grounding["requests"]) > 0
        assert "mask_loss" in lp and "span_loss" in lp
    assert lp.keys() == lk.keys()
    for k in lp:
        torch.testing.assert_close(lk[k], lp[k], rtol=1e-5, atol=1e-6, msg=k)
    assert gp.keys() == gk.keys() and any("lora" in n for n in gp)
    for n in gp:  # float summation order only: within 1e-4 of each tensor's largest gradient
        torch.testing.assert_close(gk[n], gp[n], rtol=1e-4, atol=1e-4 * float(gp[n].abs().max()) + 1e-9, msg=n)
