"""Prompt/answer encoding: placeholder expansion, exact label masking, padding sides, truncation."""
import pytest

from reamo.model.config import LLMConfig
from reamo.model.llm import build_tokenizer
from reamo.model.processor import IGNORE_INDEX, ReamoProcessor
from reamo.model.tokens import add_special_tokens


@pytest.fixture(scope="module")
def proc():
    tok = build_tokenizer(LLMConfig())
    ids = add_special_tokens(tok)
    return ReamoProcessor(tok, ids, {"image": 3, "audio": 1, "video": 2}, max_length=96)


def test_labels_are_exactly_the_answer_and_eos(proc):
    answer = "(Trump, person)<Module>ImageSegmentation</Module><Instruction>Trump</Instruction>"
    ex = proc.encode("USER: <image> Trump meets Merkel ASSISTANT:", answer)
    kept = [t for t in ex.labels if t != IGNORE_INDEX]
    assert kept[-1] == proc.tokenizer.eos_token_id
    assert proc.tokenizer.decode(kept[:-1]) == answer
    # the labelled ids are the tail of input_ids, position by position
    n = len(kept)
    assert ex.input_ids[-n:] == kept and all(t == IGNORE_INDEX for t in ex.labels[:-n])
    assert ex.input_ids[0] == proc.tokenizer.bos_token_id


def test_placeholders_expand_to_media_tokens(proc):
    ex = proc.encode("<image><image> and <video> and <audio> text")
    ph = proc.ids.placeholders
    assert ex.input_ids.count(ph["image"]) == 6
    assert ex.input_ids.count(ph["video"]) == 2
    assert ex.input_ids.count(ph["audio"]) == 1
    assert ex.media_counts == {"image": 2, "video": 1, "audio": 1}


def test_collate_pads_left_for_generation_and_right_for_training(proc):
    a, b = proc.encode("short", "x"), proc.encode("a much longer prompt than the other one", "y")
    left = proc.collate([a, b], padding_side="left")
    right = proc.collate([a, b], padding_side="right")
    assert left["attention_mask"][0, -1] == 1 and left["attention_mask"][0, 0] == 0
    assert right["attention_mask"][0, 0] == 1 and right["attention_mask"][0, -1] == 0
    assert left["input_ids"].shape == right["input_ids"].shape
    assert int(left["attention_mask"][0].sum()) == len(a.input_ids)


def test_long_prompt_is_truncated_keeping_placeholders_and_answer(proc):
    long_text = "word " * 400
    ex = proc.encode(f"<image> {long_text} ASSISTANT:", "(a, person)")
    assert ex.truncated and len(ex.input_ids) <= proc.max_length
    assert ex.input_ids.count(proc.ids.placeholders["image"]) == 3
    kept = [t for t in ex.labels if t != IGNORE_INDEX]
    assert proc.tokenizer.decode(kept[:-1]) == "(a, person)"
