"""Converters on the real files in ../shared/data: counts, offsets, relation indices; the CLI."""

import pytest

from reamo.cli import main as cli_main
from reamo.records import read_jsonl

CASES = [("conll2003", "text/conll2003/test.txt", 3453, 5648), ("conll04", "text/conll04/conll04_test.json", 288, 1079),
         ("twitter2017", "multimodal/twitter2017/test.txt", 723, None), ("mnre", "multimodal/mnre/mnre_test.txt", 1614, 3228),
         ("m2e2", "multimodal/m2e2", None, None), ("charades-sta", "grounding/charades_sta/charades_sta_test.txt", 3720, 3720)]


@pytest.mark.parametrize("name,rel,n_records,n_entities", CASES)
def test_converter_on_real_data(name, rel, n_records, n_entities, data_dir, tmp_path):
    out = tmp_path / f"{name}.jsonl"
    assert cli_main(["data", "convert", "--format", name, str(data_dir / rel), str(out)]) == 0
    recs = list(read_jsonl(out))
    if n_records is not None:
        assert len(recs) == n_records
    if n_entities is not None:
        assert sum(len(r.entities) for r in recs) == n_entities
    for r in recs:
        for e in r.entities:
            if e.start is not None:
                assert r.text[e.start:e.end] == e.text
        for rel_ in r.relations:
            rel_.resolve(r.entities)
        for ev in r.events:
            if ev.trigger.start is not None:
                assert r.text[ev.trigger.start:ev.trigger.end] == ev.trigger.text
            for a in ev.arguments:
                if a.start is not None:
                    assert r.text[a.start:a.end] == a.text
    if name == "conll04":
        assert sum(len(r.relations) for r in recs) == 422
    if name == "m2e2":
        text = [r for r in recs if r.text]
        assert len(text) == 192 and sum(len(r.events) for r in text) > 0
        assert any("crossmedia_links" in r.extra for r in recs)
        assert any(a.grounding.get("image", {}).get("box") for r in recs if not r.text for e in r.events for a in e.arguments)
    if name in ("twitter2017", "mnre"):
        assert all(r.image and r.extra.get("media_absent") for r in recs)


def test_unknown_format_is_a_clear_error(tmp_path, capsys):
    assert cli_main(["data", "convert", "--format", "nope", "a", str(tmp_path / "b")]) == 2
    assert "unknown format" in capsys.readouterr().err
