"""Reamo.extract end to end on the tiny model, with real media; the CLI writes its JSON and PNG."""
import json

import pytest
import torch

from reamo.api import Reamo
from reamo.cli import main as cli_main
from reamo.errors import InputError, MediaDecodeError, MediaNotFoundError
from reamo.records.masks import rle_decode
from reamo.records import Record

KEY = {"T": "text", "I": "image", "A": "audio", "V": "video"}
COMBOS = ["T", "I", "V", "A", "T+I", "T+V", "T+A", "I+A", "T+I+A", "V+A"]


@pytest.fixture(scope="module")
def reamo():
    return Reamo.from_config("tiny").eval()


@pytest.fixture(scope="module")
def sources(media, astronaut_png):
    return {"T": "President Kennedy spoke in Washington", "I": str(astronaut_png), "A": str(media["flac"]),
            "V": str(media["mp4"])}


def item(combo, sources):
    return {KEY[k]: sources[k] for k in combo.split("+")}


def test_every_combination_gives_well_formed_results(reamo, sources):
    res = reamo.extract([item(c, sources) for c in COMBOS], task="ner", schema=["person", "location"],
                        max_new_tokens=12, batch_size=5)
    assert len(res) == len(COMBOS)
    for r, c in zip(res, COMBOS):
        assert r.ok, r.error
        d = json.loads(r.to_json())
        Record.from_dict({k: v for k, v in d.items() if k not in ("instructions", "warnings", "raw_output", "error")})
        assert d["task"] == "ner" and isinstance(d["raw_output"], str)
        assert set(r.loaded) == {KEY[k] for k in c.split("+") if k != "T"}


def test_batched_equals_one_by_one(reamo, sources):
    items = [item("T+I", sources), item("V+A", sources), item("T", sources)]
    batched = reamo.extract(items, "ner", ["person"], max_new_tokens=8, batch_size=3)
    single = [reamo.extract(x, "ner", ["person"], max_new_tokens=8) for x in items]
    assert [r.raw_output for r in batched] == [r.raw_output for r in single]


def test_bad_items_get_typed_errors_and_the_rest_are_answered(reamo, sources, tmp_path):
    (tmp_path / "empty.wav").write_bytes(b"")
    items = [item("T+I", sources), {"image": str(tmp_path / "missing.png")}, {"audio": str(tmp_path / "empty.wav")},
             {"text": ""}, {"text": "fine", "smell": "x"}, item("A", sources)]
    res = reamo.extract(items, "ner", ["person"], max_new_tokens=6)
    assert [r.ok for r in res] == [True, False, False, False, False, True]
    assert isinstance(res[1].error, MediaNotFoundError) and "missing.png" in str(res[1].error)
    assert isinstance(res[2].error, MediaDecodeError) and "empty.wav" in str(res[2].error)
    assert isinstance(res[3].error, InputError) and isinstance(res[4].error, InputError)
    assert res[1].to_dict()["error"]["type"] == "MediaNotFoundError"
    with pytest.raises(InputError, match="unknown task"):
        reamo.extract(item("T", sources), "pos", ["x"])
    with pytest.raises(InputError, match="schema"):
        reamo.extract(item("T", sources), "ner", [])
    with pytest.raises(InputError, match="entity_pairs"):
        reamo.extract(item("T", sources), "re", {"relation_types": ["in"], "entity_pairs": [["only one"]]})


def test_every_instruction_is_grounded_and_linked(reamo, sources, monkeypatch, tmp_path):
    """Force the LLM's answer: the parse, the </Instruction> hidden states, the three heads and the linking
    back to the extracted items all run for real."""
    answer = ("(Kennedy, person)(Washington, location)"
              "<Module>ImageSegmentation</Module><Instruction>Kennedy</Instruction>"
              "<Module>AudioSegmentation</Module><Instruction>Kennedy</Instruction>"
              "<Module>VideoTracking</Module><Instruction>Washington</Instruction>"
              "<Module>ImageSegmentation</Module><Instruction>Washington</Instruction>")
    ids = reamo.tokenizer.encode(answer, add_special_tokens=False) + [reamo.tokenizer.eos_token_id]

    def fake_generate(input_ids, attention_mask, media=None, max_new_tokens=0, **kw):
        return torch.tensor([ids] * input_ids.shape[0])

    monkeypatch.setattr(reamo.model, "generate", fake_generate)
    src = {"text": "President Kennedy spoke in Washington", "image": sources["I"], "audio": sources["A"],
           "video": sources["V"]}
    r = reamo.extract(src, "ner", ["person", "location"])
    assert [(e.text, e.start, e.end) for e in r.entities] == [("Kennedy", 10, 17), ("Washington", 27, 37)]
    assert [i.module for i in r.instructions] == ["ImageSegmentation", "AudioSegmentation", "VideoTracking",
                                                  "ImageSegmentation"]
    assert all(i.error is None and i.grounding for i in r.instructions)
    g = r.entities[0].grounding
    assert set(g) == {"image", "audio"} and set(r.entities[1].grounding) == {"video", "image"}
    mask = rle_decode(g["image"]["mask_rle"])
    assert mask.shape == (512, 512)  # the astronaut's original size
    assert isinstance(g["audio"]["spans"], list)
    assert "frames" in r.entities[1].grounding["video"]
    # the two image instructions got different queries, so (generally) different masks
    q = [i.grounding for i in r.instructions if i.module == "ImageSegmentation"]
    assert q[0]["mask_rle"] != q[1]["mask_rle"] or q[0]["score"] != q[1]["score"]
    png = r.visualize(tmp_path / "viz.png")
    assert png.stat().st_size > 10_000
    # an item without the media an instruction names: a failure on that instruction, not on the item
    r2 = reamo.extract({"text": "President Kennedy spoke in Washington"}, "ner", ["person"])
    assert r2.ok and all(i.error and "no" in i.error for i in r2.instructions)


def test_cli_writes_json_and_png(tmp_path, sources, capsys):
    out, viz = tmp_path / "r.json", tmp_path / "r.png"
    rc = cli_main(["extract", "--model", "tiny", "--text", "Kennedy spoke", "--image", sources["I"], "--audio",
                   sources["A"], "--task", "ner", "--labels", "person,location", "--max-new-tokens", "6",
                   "--out", str(out), "--viz", str(viz)])
    assert rc == 0
    d = json.loads(out.read_text())
    assert d["task"] == "ner" and d["schema"] == {"entity_types": ["person", "location"]}
    assert viz.stat().st_size > 5000
    inputs = tmp_path / "in.jsonl"
    inputs.write_text(json.dumps({"id": "a", "task": "ner", "text": "Kennedy"}) + "\n" + "{broken\n" +
                      json.dumps({"id": "b", "task": "ner", "image": "nope.png"}) + "\n")
    rc = cli_main(["extract", "--model", "tiny", "--inputs", str(inputs), "--labels", "person", "--max-new-tokens", "4",
                   "--out", str(tmp_path / "o.jsonl")])
    lines = [json.loads(x) for x in (tmp_path / "o.jsonl").read_text().splitlines()]
    assert rc == 0 and [x["id"] for x in lines] == ["a", "b"] and lines[1]["error"]["type"] == "MediaNotFoundError"
    assert "in.jsonl:2" in capsys.readouterr().err
    assert cli_main(["extract", "--model", "tiny", "--image", str(tmp_path / "none.png"), "--labels", "person"]) == 1
