"""Converters on the real files in ../shared/data: counts (checked against counts made here, independently of
the converters), offsets, relation indices; malformed lines reported by number without losing the others;
the CLI."""
import json
from pathlib import Path

import pytest

from reamo.cli import main as cli_main
from reamo.records import read_jsonl

CASES = [("conll2003", "text/conll2003/test.txt", 3453, 5648), ("conll04", "text/conll04/conll04_test.json", 288, 1079),
         ("twitter2017", "multimodal/twitter2017/test.txt", 723, None), ("mnre", "multimodal/mnre/mnre_test.txt", 1614, 3228),
         ("m2e2", "multimodal/m2e2", None, None), ("charades-sta", "grounding/charades_sta/charades_sta_test.txt", 3720, 3720),
         ("rams", "text/rams/dev.jsonlines", 924, None), ("wikievents", "text/wikievents/dev.jsonl", 20, None),
         ("webnlg", "text/webnlg/sample_triples.json", 200, None),
         ("qvhighlights", "grounding/qvhighlights/highlight_val_sample.jsonl", 300, 300),
         ("tacos", "grounding/tacos/test_sample.json", 757, 757)]


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
    if name == "mnre":  # a pair labelled None holds no relation, and None is no relation type
        import ast

        labels = [ast.literal_eval(line)["relation"] for line in (data_dir / rel).read_text().splitlines() if line]
        assert sum(len(r.relations) for r in recs) == sum(x != "None" for x in labels) == 640
        assert all("None" not in r.schema["relation_types"] for r in recs)
        assert len(recs[0].schema["relation_types"]) == len(set(labels)) - 1
        # the pair is part of MNRE's input: the schema names it, head first
        assert all(r.schema["entity_pairs"] == [[r.entities[0].text, r.entities[1].text]] for r in recs)


def test_unknown_format_is_a_clear_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        cli_main(["data", "convert", "--format", "nope", "a", str(tmp_path / "b")])
    assert e.value.code == 2 and "invalid choice: 'nope'" in capsys.readouterr().err


def test_help_lists_every_format(capsys):
    from reamo.converters import FORMATS

    with pytest.raises(SystemExit):
        cli_main(["data", "convert", "--help"])
    out = capsys.readouterr().out
    assert all(name in out for name in FORMATS)
    assert set(FORMATS) == {"conll2003", "conll04", "twitter2015", "twitter2017", "mnre", "m2e2", "rams", "wikievents",
                            "webnlg", "charades-sta", "qvhighlights", "tacos", "ontonotes", "ace05", "nyt", "nyt11-hrl",
                            "maven"}


def _jsonl(path):
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def _convert(name, src, tmp_path):
    from reamo.converters import read_format

    errors = []
    return read_format(name, src, errors), errors


def _check_offsets(recs):
    for r in recs:
        for e in r.entities:
            if e.start is not None:
                assert r.text[e.start:e.end] == e.text
        for ev in r.events:
            assert r.text[ev.trigger.start:ev.trigger.end] == ev.trigger.text
            for a in ev.arguments:
                assert r.text[a.start:a.end] == a.text


def test_rams(data_dir, tmp_path):
    src = data_dir / "text" / "rams" / "dev.jsonlines"
    docs = _jsonl(src)
    recs, errors = _convert("rams", src, tmp_path)
    assert not errors and len(recs) == len(docs) == 924
    assert sum(len(r.events) for r in recs) == sum(len(d["evt_triggers"]) for d in docs)
    assert sum(len(e.arguments) for r in recs for e in r.events) == sum(len(d["gold_evt_links"]) for d in docs)
    _check_offsets(recs)
    ev = recs[0].events[0]
    assert ev.type == "life.die.n/a" and {a.role for a in ev.arguments} == {"victim", "place"}
    assert len(recs[0].schema["event_types"]) == 139  # meta.json's event types
    assert "victim" in recs[0].schema["event_types"]["life.die.n/a"]


def test_wikievents(data_dir, tmp_path):
    src = data_dir / "text" / "wikievents" / "dev.jsonl"
    docs = _jsonl(src)
    recs, errors = _convert("wikievents", src, tmp_path)
    assert not errors and len(recs) == len(docs)
    assert sum(len(r.events) for r in recs) == sum(len(d["event_mentions"]) for d in docs)
    assert sum(len(e.arguments) for r in recs for e in r.events) == sum(len(m["arguments"]) for d in docs
                                                                         for m in d["event_mentions"])
    assert sum(len(r.entities) for r in recs) == sum(len(d["entity_mentions"]) for d in docs)
    _check_offsets(recs)
    first = recs[0].events[0]
    assert (first.type, first.trigger.text) == ("Life.Die.Unspecified", "kills")
    assert [(a.role, a.text) for a in first.arguments] == [("Victim", "general"), ("Place", "Syria")]


def test_webnlg(data_dir, tmp_path):
    src = data_dir / "text" / "webnlg" / "sample_triples.json"
    data = json.loads(src.read_text())
    recs, errors = _convert("webnlg", src, tmp_path)
    assert not errors and len(recs) == len(data) == 200
    assert sum(len(r.relations) for r in recs) == sum(len(d["triple_list"]) for d in data)
    _check_offsets(recs)
    r0 = recs[0]
    assert [(r.resolve(r0.entities)[0].text, r.type, r.resolve(r0.entities)[1].text) for r in r0.relations][0] == \
        ("A.C. Cesena", "ground", "Cesena")
    located = sum(e.start is not None for r in recs for e in r.entities) / sum(len(r.entities) for r in recs)
    assert located > 0.9  # nearly every triple argument is found verbatim in its sentence
    # the candidate labels are rel2id.json's relation names (they were its numeric ids once)
    names = json.loads((src.parent / "rel2id.json").read_text())[1]
    assert recs[0].schema["relation_types"] == sorted(names) and "ground" in names


def test_qvhighlights_and_tacos(data_dir, tmp_path):
    src = data_dir / "grounding" / "qvhighlights" / "highlight_val_sample.jsonl"
    lines = _jsonl(src)
    recs, errors = _convert("qvhighlights", src, tmp_path)
    assert not errors and len(recs) == len(lines) == 300
    assert [r.extra["moment"]["windows"] for r in recs] == [d["relevant_windows"] for d in lines]
    assert all(r.extra["media_absent"] == ["video"] and r.video.startswith("videos/") for r in recs)
    src = data_dir / "grounding" / "tacos" / "test_sample.json"
    data = json.loads(src.read_text())
    recs, errors = _convert("tacos", src, tmp_path)
    assert not errors and len(recs) == sum(len(v["sentences"]) for v in data.values()) == 757
    vid, v = next(iter(data.items()))
    a, b = v["timestamps"][0]
    assert recs[0].extra["moment"]["windows"][0] == [round(a / v["fps"], 3), round(b / v["fps"], 3)]
    assert recs[0].text == v["sentences"][0].strip()


BROKEN = [  # (format, source, how to break it, what the error names)
    ("rams", "text/rams/dev.jsonlines", "line", 3), ("wikievents", "text/wikievents/dev.jsonl", "line", 2),
    ("qvhighlights", "grounding/qvhighlights/highlight_val_sample.jsonl", "line", 5),
    ("conll2003", "text/conll2003/test.txt", "tagless", None),
    ("conll2003", "text/conll2003/test.txt", "bad line without tab", None),  # the last column is not a tag
    ("conll2003", "text/conll2003/test.txt", "German B-MISC EXTRA", None),
    ("webnlg", "text/webnlg/sample_triples.json", "entry", 7), ("tacos", "grounding/tacos/test_sample.json", "entry", None),
]


@pytest.mark.parametrize("name,rel,how,where", BROKEN)
def test_a_malformed_line_is_reported_and_the_rest_kept(name, rel, how, where, data_dir, tmp_path):
    src = data_dir / rel
    good, _ = _convert(name, src, tmp_path)
    bad = tmp_path / src.name
    if how == "line":  # a broken JSON line inserted as line `where`
        lines = src.read_text().splitlines()
        bad.write_text("\n".join(lines[: where - 1] + ['{"this": is not json'] + lines[where - 1:]) + "\n")
    elif how == "tagless" or " " in how:  # a token without its tag, or a line whose last column is not a BIO tag,
        lines = src.read_text().splitlines()  # inside the first sentence
        k = next(i for i, x in enumerate(lines) if x.strip() and not x.startswith("-DOCSTART-"))
        bad.write_text("\n".join(lines[:k] + ["lonelytoken" if how == "tagless" else how] + lines[k:]) + "\n")
        where = k + 1
    else:  # an entry without its required fields
        data = json.loads(src.read_text())
        if isinstance(data, list):
            data.insert(where, {"text": "no triples here"})
        else:
            data["broken.avi"] = {"sentences": ["x"]}
        bad.write_text(json.dumps(data))
    recs, errors = _convert(name, bad, tmp_path)
    assert len(errors) == 1
    msg = str(errors[0])
    if how in ("line", "tagless") or " " in how:
        assert f"{bad}:{where}:" in msg
        assert " " not in how or "not a BIO tag" in msg
    else:
        assert ("entry 7" in msg) if name == "webnlg" else ("broken.avi" in msg)
    lost = 1 if how == "tagless" or " " in how else 0  # the sentence holding the bad line
    assert len(recs) == len(good) - lost


# ---- readers tested on real samples of formats fetched from public repositories (tests/fixtures/formats) ----
FIXTURES = Path(__file__).parent / "fixtures" / "formats"


def test_ace05_dygiepp_counts_and_offsets(tmp_path):
    src = FIXTURES / "ace05_dygiepp.jsonl"
    docs = [json.loads(x) for x in src.read_text().splitlines()]
    recs, errors = _convert("ace05", src, tmp_path)
    assert not errors
    n_sent = sum(len(d["sentences"]) for d in docs)  # the independent count, from the JSON itself
    by_task = {t: [r for r in recs if r.task == t] for t in ("ner", "re", "ee")}
    assert all(len(v) == n_sent for v in by_task.values())
    assert sum(len(r.entities) for r in by_task["ner"]) == sum(len(s) for d in docs for s in d["ner"])
    assert sum(len(r.relations) for r in by_task["re"]) == sum(len(s) for d in docs for s in d["relations"])
    assert sum(len(r.events) for r in by_task["ee"]) == sum(len(s) for d in docs for s in d["events"])
    assert sum(len(e.arguments) for r in by_task["ee"] for e in r.events) == \
        sum(len(ev) - 1 for d in docs for s in d["events"] for ev in s)
    for r in recs:  # every span's offsets point at its words
        for e in r.entities:
            assert r.text[e.start:e.end] == e.text
        for ev in r.events:
            assert r.text[ev.trigger.start:ev.trigger.end] == ev.trigger.text
            assert all(r.text[a.start:a.end] == a.text for a in ev.arguments)
    re_rec = next(r for r in by_task["re"] if r.text.startswith("Orders went out today to deploy"))
    assert [(h.text, t, x.text) for h, x, t in ((*rel.resolve(re_rec.entities), rel.type) for rel in re_rec.relations)][:2] == \
        [("Army", "part-whole:subsidiary", "U.S."), ("soldiers", "org-aff:employment", "Army")]
    assert [(e.text, e.type) for e in re_rec.entities][:3] == [("U.S.", "geo-political entity"), ("Army", "organization"),
                                                              ("soldiers", "person")]
    ev = next(r for r in by_task["ee"] if r.id == re_rec.id.replace("-re", "-ee")).events[0]
    assert (ev.type, ev.trigger.text, [(a.role, a.text) for a in ev.arguments]) == \
        ("Movement:Transport", "deploy", [("Artifact", "soldiers"), ("Destination", "region")])
    assert "Movement:Transport" in by_task["ee"][0].schema["event_types"]


def test_ace05_a_bad_document_is_reported_with_its_line(tmp_path):
    lines = (FIXTURES / "ace05_dygiepp.jsonl").read_text().splitlines()
    broken = json.loads(lines[1])
    broken["ner"][5] = [[10_000, 10_001, "PER"]]  # an index outside its sentence
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join([lines[0], json.dumps(broken), "{not json", lines[2]]) + "\n")
    recs, errors = _convert("ace05", bad, tmp_path)
    assert [e.line for e in errors] == [2, 3] and "outside" in str(errors[0])
    docs = [json.loads(lines[0]), json.loads(lines[2])]
    assert len(recs) == 3 * sum(len(d["sentences"]) for d in docs)


def test_ontonotes_conll2012_counts_and_spans(tmp_path):
    src = FIXTURES / "ontonotes_conll2012.gold_conll"
    rows = [x.split() for x in src.read_text().splitlines()]
    body = [r for r in rows if r and not r[0].startswith("#")]
    n_sent = sum(1 for a, b in zip(rows, rows[1:] + [[]])  # a token row followed by a blank or a #end line
                 if a and not a[0].startswith("#") and (not b or b[0].startswith("#")))
    n_ents = sum(1 for r in body if r[10].startswith("("))  # the independent count: opening brackets
    recs, errors = _convert("ontonotes", src, tmp_path)
    assert not errors and len(recs) == n_sent == 9 and sum(len(r.entities) for r in recs) == n_ents
    assert [(e.text, e.type) for e in recs[0].entities] == [("the summer of 2005", "date"),
                                                            ("Hong Kong", "geo-political entity")]
    _check_offsets(recs)
    assert all(r.task == "ner" and "date" in r.schema["entity_types"] for r in recs)


def test_ontonotes_bad_rows_are_reported_with_their_line(tmp_path):
    lines = (FIXTURES / "ontonotes_conll2012.gold_conll").read_text().splitlines()
    k = next(i for i, x in enumerate(lines) if "(GPE*" in x)  # "Hong": a GPE span opens here

    def unclosed(rows):  # "Kong" (the next row) no longer closes the GPE span
        cols = rows[k + 1].split()
        assert cols[3] == "Kong" and cols[10] == "*)"
        rows[k + 1] = "   ".join(cols[:10] + ["*"] + cols[11:])
        return rows

    bad_lines = unclosed(list(lines))
    bad_lines[3] = "bc/cctv/00/cctv_0000 0 2 summer"  # too few columns (line 4)
    bad = tmp_path / "bad.gold_conll"
    bad.write_text("\n".join(bad_lines) + "\n")
    good, _ = _convert("ontonotes", FIXTURES / "ontonotes_conll2012.gold_conll", tmp_path)
    recs, errors = _convert("ontonotes", bad, tmp_path)
    assert [e.line for e in errors] == [4] and len(recs) == len(good) - 1  # both faults sit in sentence 1
    assert "column 11" in str(errors[0])
    only_brackets = unclosed(list(lines))
    bad.write_text("\n".join(only_brackets) + "\n")
    recs, errors = _convert("ontonotes", bad, tmp_path)
    assert [e.line for e in errors] == [k + 1] and "never closes" in str(errors[0]) and len(recs) == len(good) - 1


def test_nyt_casrel_counts_and_offsets(tmp_path):
    src = FIXTURES / "nyt" / "dev_triples.json"
    data = json.loads(src.read_text())
    recs, errors = _convert("nyt", src, tmp_path)
    assert not errors and len(recs) == len(data) == 40
    assert sum(len(r.relations) for r in recs) == sum(len(d["triple_list"]) for d in data) == 61
    _check_offsets(recs)
    assert all(e.start is not None for r in recs for e in r.entities)  # every NYT argument is in its sentence
    r0 = recs[0]
    assert [(h.text, rel.type, t.text) for rel in r0.relations for h, t in [rel.resolve(r0.entities)]] == \
        [("Queens", "/location/location/contains", "Douglaston"),
         ("Douglaston", "/location/neighborhood/neighborhood_of", "Queens")]
    assert len(r0.schema["relation_types"]) == 24 and "/people/person/nationality" in r0.schema["relation_types"]


def test_nyt11_hrl_spans_from_tags_and_bad_lines(tmp_path):
    """The HRL-RE sample holds the NYT sample's sentences with their triples' tags: reading it must give the
    same triples as the CasRel reader does for those sentences."""
    src = FIXTURES / "nyt11_hrl.json"
    lines = src.read_text().splitlines()
    recs, errors = _convert("nyt11-hrl", src, tmp_path)
    assert not errors and len(recs) == len(lines) == 8
    assert sum(len(r.relations) for r in recs) == sum(len(json.loads(x)["relations"]) for x in lines)
    _check_offsets(recs)
    casrel = {d["text"]: d["triple_list"] for d in json.loads((FIXTURES / "nyt" / "dev_triples.json").read_text())}
    for r in recs:
        got = [[h.text, rel.type, t.text] for rel in r.relations for h, t in [rel.resolve(r.entities)]]
        assert got == casrel[r.text]
    broken = json.loads(lines[2])
    broken["relations"][0]["tags"] = broken["relations"][0]["tags"][:-1]  # one tag short
    no_tail = json.loads(lines[3])
    no_tail["relations"][0]["tags"] = [0 if x in (5, 2) else x for x in no_tail["relations"][0]["tags"]]
    bad = tmp_path / "bad.json"
    bad.write_text("\n".join([lines[0], lines[1], json.dumps(broken), json.dumps(no_tail), "{oops", lines[4]]) + "\n")
    recs, errors = _convert("nyt11-hrl", bad, tmp_path)
    assert [e.line for e in errors] == [3, 4, 5] and "tags for" in str(errors[0]) and "tail" in str(errors[1])
    assert len(recs) == 3


def test_maven_sentences_documents_and_bad_lines(tmp_path):
    """MAVEN has no public sample (the data is on Tsinghua Cloud): the fixture is written in the schema of
    MAVEN-dataset's DataFormat.md and MAVEN-Argument's README (see fixtures/formats/README.md)."""
    src = FIXTURES / "maven.jsonl"
    docs = [json.loads(x) for x in src.read_text().splitlines()]
    recs, errors = _convert("maven", src, tmp_path)
    assert not errors
    ed = [d for d in docs if "content" in d]
    assert len(recs) == sum(len(d["content"]) for d in ed) + 1  # a record a sentence, one for the MAVEN-Arg doc
    assert sum(len(r.events) for r in recs) == sum(len(e["mention"]) for d in docs for e in d["events"])
    _check_offsets(recs)
    first = recs[0]
    assert [(e.type, e.trigger.text) for e in first.events] == [("Causation", "caused"), ("Catastrophe", "flood")]
    assert recs[2].events == []  # "thanked" is a negative trigger, not an event
    arg = recs[-1]
    assert [(a.role, a.text) for a in arg.events[0].arguments] == [("Agent", "The band"), ("Destination", "Canada"),
                                                                  ("Time", "1985")]
    assert set(arg.schema["event_types"]["Traveling"]) == {"Agent", "Destination", "Time"}
    wrong = json.loads(src.read_text().splitlines()[0])
    wrong["events"][0]["mention"][0]["offset"] = [3, 4]  # "the", not "caused"
    test_split = {"id": "t", "content": docs[0]["content"], "candidates": []}
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join([json.dumps(wrong), json.dumps(test_split), json.dumps(docs[1])]) + "\n")
    recs, errors = _convert("maven", bad, tmp_path)
    assert [e.line for e in errors] == [1, 2] and "trigger_word" in str(errors[0]) and "test" in str(errors[1])
    assert len(recs) == len(docs[1]["content"])
