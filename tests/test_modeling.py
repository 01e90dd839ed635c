"""The tiny Reamo end to end: every modality combination runs forward with a finite loss and generates;
save/load gives identical logits; real media go through the encoders."""
import json
import math

import pytest
import torch

from reamo.api import Reamo
from reamo.model.config import ReamoConfig
from reamo.errors import CheckpointError, ConfigError, InputError, UnsupportedModalityError
from reamo.model.inputs import as_item, load_item_media
from reamo.model.modeling import MediaBatch
from reamo.model.processor import IGNORE_INDEX

COMBOS = ["T", "I", "V", "A", "T+I", "T+V", "T+A", "I+A", "T+I+A", "V+A"]
SCHEMA = {"entity_types": ["person", "location"]}


@pytest.fixture(scope="module")
def reamo():
    return Reamo.from_config("tiny").eval()


@pytest.fixture(scope="module")
def inputs(media, astronaut_png):
    return {"T": "Kennedy spoke in Washington", "I": str(astronaut_png), "A": str(media["flac"]), "V": str(media["mp4"])}


def make_batch(reamo, combos, inputs, answers=True):
    key = {"T": "text", "I": "image", "A": "audio", "V": "video"}
    items, loaded, examples = [], [], []
    for i, combo in enumerate(combos):
        item = as_item({key[k]: inputs[k] for k in combo.split("+")}, i)
        lm = load_item_media(item, reamo.config, i)
        prompt = reamo.model.prompt("ner", SCHEMA, item.text, item.modalities)
        answer = "(Kennedy, person)<Module>ImageSegmentation</Module><Instruction>Kennedy</Instruction>" if answers else None
        examples.append(reamo.processor.encode(prompt, answer))
        items.append(item)
        loaded.append(lm)
    batch = reamo.processor.collate(examples, padding_side="right" if answers else "left")
    return batch, reamo.model.media_batch(loaded)


def test_every_modality_combination_forward_and_generate(reamo, inputs):
    batch, media = make_batch(reamo, COMBOS, inputs)
    out = reamo.model(batch["input_ids"], batch["attention_mask"], batch["labels"], media)
    assert math.isfinite(out.loss.item()) and out.loss.item() > 0
    assert out.logits.shape[:2] == batch["input_ids"].shape
    # each row alone gives the same loss terms as in the batch (padding and media order are right)
    for i in (1, 8):
        b1, m1 = make_batch(reamo, [COMBOS[i]], inputs)
        o1 = reamo.model(b1["input_ids"], b1["attention_mask"], b1["labels"], m1)
        n = int(b1["attention_mask"].sum())
        torch.testing.assert_close(o1.logits[0, :n], out.logits[i, :n], rtol=1e-4, atol=1e-4)
    gb, gm = make_batch(reamo, COMBOS, inputs, answers=False)
    new = reamo.model.generate(gb["input_ids"], gb["attention_mask"], gm, max_new_tokens=5)
    assert new.shape[0] == len(COMBOS) and 1 <= new.shape[1] <= 5


def test_media_count_mismatch_is_a_typed_error(reamo, inputs):
    batch, media = make_batch(reamo, ["T+I"], inputs)
    two = MediaBatch({"image": media.inputs["image"].repeat(2, 1, 1, 1)})
    with pytest.raises(InputError, match="image"):
        reamo.model(batch["input_ids"], batch["attention_mask"], media=two)
    with pytest.raises(InputError, match="no image"):
        reamo.model(batch["input_ids"], batch["attention_mask"], media=None)


def test_batched_generation_equals_single(reamo, inputs):
    gb, gm = make_batch(reamo, ["T", "T+I+A"], inputs, answers=False)
    both = reamo.model.generate(gb["input_ids"], gb["attention_mask"], gm, max_new_tokens=6, min_new_tokens=6)
    b1, m1 = make_batch(reamo, ["T+I+A"], inputs, answers=False)
    one = reamo.model.generate(b1["input_ids"], b1["attention_mask"], m1, max_new_tokens=6, min_new_tokens=6)
    assert both[1].tolist() == one[0].tolist()


def test_loss_is_masked_to_the_answer(reamo, inputs):
    batch, media = make_batch(reamo, ["T+I"], inputs)
    labels = batch["labels"].clone()
    labels[labels != IGNORE_INDEX] = IGNORE_INDEX
    out = reamo.model(batch["input_ids"], batch["attention_mask"], labels, media)
    assert torch.isnan(out.loss) or out.loss.item() == 0  # no answer tokens -> nothing to learn from


def test_training_loss_computes_logits_only_at_answers_and_matches_the_full_loss(reamo, inputs):
    from training.config import LossWeights
    from training.batch import Batch

    batch, media = make_batch(reamo, ["T", "T+I+A", "V+A"], inputs)
    full = reamo.model(batch["input_ids"], batch["attention_mask"], batch["labels"], media)  # transformers' loss
    b = Batch(batch["input_ids"], batch["attention_mask"], batch["labels"], media)
    parts = reamo.model.training_losses(b, LossWeights())
    torch.testing.assert_close(parts["lm_loss"], full.loss.detach(), rtol=1e-5, atol=1e-6)
    # a given denominator (exact data parallelism) turns it into the token sum over that count
    b.lm_denominator = 10.0
    n = b.num_answer_tokens
    torch.testing.assert_close(reamo.model.training_losses(b, LossWeights())["lm_loss"] * 10.0,
                               full.loss.detach() * n, rtol=1e-5, atol=1e-5)


def test_save_load_round_trip_gives_identical_logits(reamo, inputs, tmp_path):
    # perturb the trained parts so the round trip carries real values
    with torch.no_grad():
        for n, p in reamo.model.named_parameters():
            if p.requires_grad:
                p.add_(0.01 * torch.randn_like(p))
    batch, media = make_batch(reamo, ["T+I+A", "V+A"], inputs)
    before = reamo.model(batch["input_ids"], batch["attention_mask"], media=media).logits
    reamo.save_pretrained(tmp_path / "ck")
    files = sorted(p.name for p in (tmp_path / "ck").iterdir())
    assert files == ["adapter", "base.safetensors", "config.yaml", "reamo.safetensors", "reamo_checkpoint.json", "tokenizer"]
    assert not list((tmp_path / "ck").rglob("*.bin")) and not list((tmp_path / "ck").rglob("*.pt"))
    # written in one order whatever the process's string hashing (peft keeps the names as a set)
    targets = json.loads((tmp_path / "ck" / "adapter" / "adapter_config.json").read_text())["target_modules"]
    assert len(targets) > 2 and targets == sorted(targets)
    again = Reamo.from_pretrained(tmp_path / "ck").eval()
    after = again.model(batch["input_ids"], batch["attention_mask"], media=media).logits
    torch.testing.assert_close(before, after, rtol=0, atol=0)
    # overwriting an existing checkpoint is atomic and leaves no temporary folders
    reamo.save_pretrained(tmp_path / "ck")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck"]


def test_checkpoint_errors(tmp_path, reamo):
    with pytest.raises(CheckpointError, match="not found"):
        Reamo.from_pretrained(tmp_path / "missing")
    reamo.save_pretrained(tmp_path / "ck")
    (tmp_path / "ck" / "reamo.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(CheckpointError, match="corrupt"):
        Reamo.from_pretrained(tmp_path / "ck")
    (tmp_path / "ck" / "adapter" / "adapter_model.safetensors").unlink()
    with pytest.raises(CheckpointError):
        Reamo.from_pretrained(tmp_path / "ck")


def test_config_errors_name_the_key():
    with pytest.raises(ConfigError, match="llm.hidden_size"):
        ReamoConfig.named("tiny", {"llm.hidden_size": "big"})
    with pytest.raises(ConfigError, match="projector"):
        ReamoConfig.named("tiny", {"projector.in_dim": 32})
    with pytest.raises(ConfigError, match="modalities"):
        ReamoConfig.named("tiny", {"modalities": ["smell"]})
    with pytest.raises(ConfigError, match="grounding.image.sam"):
        ReamoConfig.named("tiny", {"grounding.image.sam": "vit_z"})
    with pytest.raises(ConfigError, match="media.video_clip_s"):
        ReamoConfig.named("tiny", {"media.video_clip_s": 0})


def test_unsupported_modality_and_bad_items(inputs):
    r = Reamo.from_config("tiny", {"modalities": ["image"], "encoder.towers": ["vision"]})
    with pytest.raises(UnsupportedModalityError, match="audio"):
        load_item_media(as_item({"audio": inputs["A"]}, 0), r.config, 0)
    with pytest.raises(InputError, match="empty"):
        load_item_media(as_item({"text": ""}, 0), r.config, 0)
    with pytest.raises(InputError, match="unknown input key"):
        as_item({"picture": "x.png"}, 2)


def test_parameter_counts_of_shipped_configs():
    from reamo.model.modeling import ReamoModel

    tiny = ReamoModel(ReamoConfig.named("tiny")).num_parameters()
    assert tiny["total"] < 2_000_000 and tiny["trainable"] > 0
    cfg = ReamoConfig.named("vicuna-7b", {"llm.dtype": "float32"})
    from accelerate import init_empty_weights

    with init_empty_weights():
        big = ReamoModel(cfg, llm_device="meta").num_parameters()
    # Vicuna-7B with 7 added token rows + ImageBind vision/audio + SAM vit_h + heads
    lora = 32 * 128 * (4 * (4096 + 4096) + 3 * (4096 + 11008))  # r=128 on q,k,v,o,gate,up,down of 32 layers
    assert big["llm"] == 6_738_415_616 + lora + 2 * 7 * 4096  # LLaMA-7B (vocab 32000) + LoRA + 7 new token rows
    assert big["encoder"] > 7e8 and big["heads"] > 6e8


def test_eval_merges_lora_with_the_same_outputs_and_train_takes_it_out():
    from reamo.api import Reamo

    r = Reamo.from_config("tiny")
    torch.manual_seed(1)
    for n, p in r.model.llm.named_parameters():
        if "lora_B" in n:  # LoRA B starts at zero: give the update a value so merging matters
            p.data.normal_(0, 0.05)
    ids = torch.randint(5, 200, (2, 12))
    r.model.eval()
    base_w = {n: p.detach().clone() for n, p in r.model.llm.named_parameters() if "base_layer" in n}
    with torch.no_grad():
        before = r.model(ids).logits
    assert not r.lora_merged
    r.eval()
    assert not r.lora_merged  # only when asked
    r.eval(merge_lora=True)
    assert r.lora_merged
    with torch.no_grad():
        merged = r.model(ids).logits
    torch.testing.assert_close(merged, before, atol=1e-4, rtol=1e-4)
    changed = [n for n, p in r.model.llm.named_parameters() if "base_layer" in n and not torch.equal(p, base_w[n])]
    assert changed  # the base weights now hold the update
    r.eval(merge_lora=True)  # twice: merged once
    import tempfile

    with tempfile.TemporaryDirectory() as d:  # a merged model is saved unmerged, and stays merged
        r.save_pretrained(d)
        assert r.lora_merged
        again = Reamo.from_pretrained(d).eval()
        with torch.no_grad():
            torch.testing.assert_close(again.model(ids).logits, before, atol=1e-4, rtol=1e-4)
    r.train()
    assert not r.lora_merged and r.model.training
    for n, p in r.model.llm.named_parameters():
        if "base_layer" in n:
            torch.testing.assert_close(p, base_w[n], atol=1e-6, rtol=0)
