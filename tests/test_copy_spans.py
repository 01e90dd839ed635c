"""Copy-constrained decoding (reamo.inference.copy_spans): which continuations keep a span a piece of the text,
the logits processor on a real tokenizer, and extraction with it."""
import pytest
import torch
from transformers import PreTrainedTokenizerFast

from reamo.api import Reamo
from reamo.inference.copy_spans import CopySpans, allowed
from reamo.model.llm import TINY_TOKENIZER

TEXT = "Kevin O 'Brien , a spokesman for The opera company , said ; Boise , Idaho ."


@pytest.mark.parametrize("task, answer, piece, ok", [
    ("ner", "(Kevin", " O", True), ("ner", "(Kevin", " P", False), ("ner", "", "(Kev", True),
    ("ner", "", "(Kav", False),
    ("ner", "(Kevin O 'Brien", ",", True),  # may start the ", " that ends the field
    ("ner", "(Kevin O 'Brien", ")", True), ("ner", "(Kevin O 'Brien, per", "son)", True),  # the type is free
    ("ner", "(Kevin O 'Brien, person)", "(The Opera", False), ("ner", "(Kevin O 'Brien, person)", "(The opera", True),
    ("ner", "", "(a)(Kevin", True),  # the piece closes one tuple ("a" is in the text) and opens another
    ("ner", "", "(b)(Kevin", False),
    ("ner", "(Kevin, person)<Module>ImageSegmentation</Module><Instruction>", "the Opera", True),  # meta: free
    ("re", "(Kevin O 'Brien, work for, The", " Opera", False), ("re", "(Kevin O 'Brien, work for, The", " opera", True),
    ("re", "(Kevin O 'Brien, work for", ", The", True), ("re", "(Kevin O 'Brien, wo", "rk for", True),  # label: free
    ("re", "(Kevin O 'Brien, work for, Boise)", "(Idaho", True), ("re", "(Kevin O 'Brien, work for, Boise)", "(Ohio", False),
    ("re", "(Kevin O 'Brien, work for, Boise", " ,", True), ("re", "(Kevin O 'Brien, work for, Boise", "x)", False),
])
def test_allowed_ner_and_re(task, answer, piece, ok):
    assert allowed(answer, piece, TEXT, task) is ok


@pytest.mark.parametrize("answer, piece, ok", [
    ("(Type: Sa", "y", True),  # the type is free
    ("(Type: Say, Trigger: sa", "id", True), ("(Type: Say, Trigger: sa", "ys", False),
    ("(Type: Say, Trigger: said, Spea", "ker", True),  # a role name is free
    ("(Type: Say, Trigger: said, Speaker: Kevin", " O", True), ("(Type: Say, Trigger: said, Speaker: Kevin", " X", False),
    ("(Type: Say, Trigger: said, Speaker: Kevin O 'Brien", ")", True),
])
def test_allowed_ee(answer, piece, ok):
    assert allowed(answer, piece, TEXT, "ee") is ok


@pytest.fixture(scope="module")
def tok():
    return PreTrainedTokenizerFast(tokenizer_file=str(TINY_TOKENIZER), bos_token="<s>", eos_token="</s>",
                                   unk_token="<unk>", pad_token="<unk>")


def test_processor_keeps_the_best_candidates_that_copy(tok):
    text = "the cat sat"
    prefix = tok.encode("(the c", add_special_tokens=False)
    pieces = {i: tok.decode([i]) for i in range(len(tok))}
    good = next(i for i, p in pieces.items() if p == "a")
    bad = next(i for i, p in pieces.items() if p == "o")
    scores = torch.zeros(3, len(tok))
    for row in range(3):
        scores[row, bad], scores[row, good] = 5.0, 4.0
    ids = torch.tensor([prefix] * 3)
    proc = CopySpans(tok, [text, None, "no c here"], "ner", top_k=8)
    out = proc(ids, scores.clone())
    assert out[0].argmax().item() == good and out[0, bad] == float("-inf")
    assert torch.equal(out[1], scores[1])  # no text: nothing constrained
    # "(the c..." fits nowhere in "no c here": no candidate fits, the step is left free
    assert torch.equal(out[2], scores[2]) and proc.steps_free == 1 and proc.steps_constrained == 1


def test_extract_with_copy_spans_runs_and_leaves_inputs_without_text_alone(media, astronaut_png):
    reamo = Reamo.from_config("tiny").eval()
    items = [{"text": "President Kennedy spoke in Washington"}, {"image": str(astronaut_png)}]
    on = reamo.extract(items, "re", ["born in"], max_new_tokens=10, copy_spans=True)
    off = reamo.extract(items, "re", ["born in"], max_new_tokens=10)
    assert all(r.ok for r in on) and on[1].raw_output == off[1].raw_output
    for r in on:
        for rel in r.relations:
            assert rel.head.text in items[0]["text"] or "does not occur" in " ".join(r.warnings)
