"""The phase-1 mixture (reamo.corpora): label sampling, the build on the real training files of ../shared/data and
the NYT sample, its manifest, reproducibility, and what it does with absent sources and bad lines."""
import json
from pathlib import Path

import numpy as np
import pytest

from reamo.cli import main as cli_main
from reamo.corpora import LabelSampling, MixtureConfig, build_mixture, sample_labels
from reamo.corpora.labels import coarse_event_name, load_synonyms, own_types, restyle_name
from reamo.errors import ConfigError, InputError
from reamo.records import Argument, Entity, Event, Record, Relation, Span, read_jsonl
from reamo.records.schemas import LABEL_KEYS

FIXTURES = Path(__file__).parent / "fixtures" / "formats"
NER_POOL = ["person", "location", "organization", "miscellaneous", "date", "product"]


def _ner(types):
    text = " ".join(f"w{i}" for i in range(len(types)))
    ents = [Entity(f"w{i}", t, 3 * i, 3 * i + 2) for i, t in enumerate(types)]
    return Record("r", "ner", text, schema={"entity_types": NER_POOL[:4]}, entities=ents)


def test_sampled_labels_hold_the_answer_and_only_it():
    rng = np.random.default_rng(0)
    cfg = LabelSampling(drop=0.3, negatives=[1, 3], max_labels=8)
    dropped = added = 0
    for _ in range(300):
        rec = _ner(["person", "location", "person", "organization"])
        out = sample_labels(rec, NER_POOL, {}, cfg, rng)
        labels = out.schema["entity_types"]
        assert len(labels) == len(set(labels)) <= 8
        # the answer keeps exactly the items whose type is listed
        assert [e.type for e in out.entities] == [e.type for e in rec.entities if e.type in labels]
        assert set(own_types(out)) <= set(labels) and own_types(out)  # one own type always stays
        dropped += len({"person", "location", "organization"} - set(labels))
        added += len(set(labels) - {"person", "location", "organization"})
        assert rec.schema["entity_types"] == NER_POOL[:4] and len(rec.entities) == 4  # the input is not changed
    assert dropped > 0 and added > 0
    # shuffled: the same labels come in more than one order
    orders = {tuple(sample_labels(_ner(["person", "location"]), ["person", "location"], {}, LabelSampling(drop=0.0),
                                  np.random.default_rng(s)).schema["entity_types"]) for s in range(20)}
    assert len(orders) == 2


def test_a_record_without_items_is_asked_for_some_labels_and_ee_keeps_roles():
    rng = np.random.default_rng(1)
    out = sample_labels(_ner([]), NER_POOL, {}, LabelSampling(negatives=[0, 0]), rng)
    assert len(out.schema["entity_types"]) == 1 and out.entities == []
    ev = Record("e", "ee", "Troops attacked the town", schema={"event_types": {"attack": ["attacker"], "move": []}},
                events=[Event("attack", Span("attacked", 7, 15))])
    roles = {"attack": ["attacker", "target"], "move": ["mover"], "die": ["victim"]}
    out = sample_labels(ev, list(roles), roles, LabelSampling(drop=0.0, negatives=[2, 2]), rng)
    assert out.schema["event_types"] == {t: roles[t] for t in out.schema["event_types"]}
    assert set(out.schema["event_types"]) == set(roles) and [e.type for e in out.events] == ["attack"]
    rel = Record("x", "re", "A in B", schema={"relation_types": ["in", "of"], "entity_types": ["place"]},
                 entities=[Entity("A", "", 0, 1), Entity("B", "", 5, 6)], relations=[Relation(0, 1, "in")])
    out = sample_labels(rel, ["in", "of"], {}, LabelSampling(drop=0.0, negatives=[0, 0]), rng)
    assert out.schema == {"relation_types": ["in"], "entity_types": ["place"]}


def test_restyled_labels_change_prompt_and_answer_alike():
    assert restyle_name("life.die.deathcausedbyviolentevents", "title", ":") == "Life:Die:Deathcausedbyviolentevents"
    assert restyle_name("/location/location/contains", "lower", " ") == "location location contains"
    assert restyle_name("live in", "upper", "_") == "LIVE_IN" and restyle_name("Kill", "keep", None) == "Kill"
    roles = {"life.die": ["victim", "place"], "conflict.attack": ["attacker", "target"]}
    ev = Record("e", "ee", "Troops killed him", schema={"event_types": dict(roles)},
                events=[Event("life.die", Span("killed", 7, 13), [Argument("victim", "him", 14, 17)])])
    cfg = LabelSampling(drop=0.0, negatives=[1, 1], restyle=1.0)
    styles = set()
    for s in range(40):
        out = sample_labels(ev, list(roles), roles, cfg, np.random.default_rng(s))
        types = out.schema["event_types"]
        styles.add(tuple(sorted(types)))
        (event,) = out.events
        assert event.type in types and event.trigger == ev.events[0].trigger  # the answer uses the listed name
        assert [a.role for a in event.arguments] == [r for r in types[event.type] if r.lower() == "victim"]
        assert {k.lower().replace(":", ".").replace(" ", ".").replace("_", ".").replace("-", ".") for k in types} == \
            set(roles)  # the same types, spelt another way
    assert len(styles) > 4 and ev.events[0].type == "life.die"  # several styles; the input is not changed
    ner = sample_labels(_ner(["person", "location"]), NER_POOL, {}, cfg, np.random.default_rng(7))
    assert {e.type for e in ner.entities} <= set(ner.schema["entity_types"])
    # no restyle (the default): the draws, and so a seeded mixture, are those of before
    a = sample_labels(_ner(["person"]), NER_POOL, {}, LabelSampling(), np.random.default_rng(3))
    b = sample_labels(_ner(["person"]), NER_POOL, {}, LabelSampling(restyle=0.0), np.random.default_rng(3))
    assert a.to_dict() == b.to_dict()


def test_renamed_labels_change_prompt_and_answer_alike(tmp_path):
    """labels.rename: a record's labels take other names (synonyms; RAMS-style event types their first two levels)
    in the prompt and the answer alike; a name another listed label holds is never given; seeded."""
    synonyms = load_synonyms("configs/data/label_synonyms.yaml")
    assert not {"human", "place", "group", "other thing"} & {n for v in synonyms.values() for n in v}
    cfg = LabelSampling(drop=0.0, negatives=[2, 2], rename=1.0)
    seen = set()
    for s in range(30):
        out = sample_labels(_ner(["person", "location"]), NER_POOL, {}, cfg, np.random.default_rng(s), synonyms)
        types = out.schema["entity_types"]
        assert len(set(types)) == 4 and not set(types) & set(synonyms)  # every label that has other names renamed
        assert [e.type for e in out.entities][0] in synonyms["person"]
        assert [e.type for e in out.entities][1] in synonyms["location"]
        seen.add(tuple(e.type for e in out.entities))
    assert len(seen) > 5
    assert coarse_event_name("life.die.n/a") == "life.die" and coarse_event_name("Life:Die") is None
    roles = {"life.die.n/a": ["victim"], "life.die.deathcausedbyviolentevents": ["victim", "killer"],
             "conflict.attack.n/a": ["attacker"]}
    ev = Record("e", "ee", "Troops killed him", schema={"event_types": dict(roles)},
                events=[Event("life.die.deathcausedbyviolentevents", Span("killed", 7, 13),
                              [Argument("victim", "him", 14, 17)])])
    out = sample_labels(ev, list(roles), roles, LabelSampling(drop=0.0, negatives=[2, 2], rename=1.0),
                        np.random.default_rng(0))
    types = out.schema["event_types"]
    # two types share the coarse name life.die: one of them takes it, the other keeps its own
    assert "conflict.attack" in types and "life.die" in types and len(types) == 3
    assert out.events[0].type in types and out.events[0].arguments[0].role == "victim"
    assert types[out.events[0].type] == roles["life.die.deathcausedbyviolentevents"]
    again = sample_labels(ev, list(roles), roles, LabelSampling(drop=0.0, negatives=[2, 2], rename=1.0),
                          np.random.default_rng(0))
    assert again.to_dict() == out.to_dict() and ev.events[0].type == "life.die.deathcausedbyviolentevents"
    # rename 0 (the default) draws nothing: seeded mixtures of before are unchanged
    a = sample_labels(_ner(["person"]), NER_POOL, {}, LabelSampling(), np.random.default_rng(3), synonyms)
    b = sample_labels(_ner(["person"]), NER_POOL, {}, LabelSampling(), np.random.default_rng(3))
    assert a.to_dict() == b.to_dict()
    for text, match in (("- a\n", "mapping"), ("person: []\n", "person"), ("person: [a\n", "cannot read")):
        (tmp_path / "s.yaml").write_text(text)
        with pytest.raises(InputError, match=match):
            load_synonyms(tmp_path / "s.yaml")
    with pytest.raises(InputError, match="missing.yaml"):
        load_synonyms(tmp_path / "missing.yaml")


def test_relation_records_asked_about_one_pair():
    """labels.pairs: an RE record is asked about one (subject, object) pair; its answer holds that pair's relations
    only (related pairs and, about a third of the time, pairs with none); a record's own pairs (MNRE) are kept;
    the prompt names the pair."""
    from reamo.model.prompts import build_prompt

    ents = [Entity("Ann", "", 0, 3), Entity("Bo", "", 8, 10), Entity("Rome", "", 14, 18)]
    rel = Record("x", "re", "Ann met Bo in Rome", schema={"relation_types": ["met", "in"]}, entities=ents,
                 relations=[Relation(0, 1, "met"), Relation(0, 2, "in"), Relation(1, 2, "in")])
    cfg = LabelSampling(drop=0.0, negatives=[0, 0], pairs=1.0)
    empty = 0
    for s in range(60):
        out = sample_labels(rel, ["met", "in"], {}, cfg, np.random.default_rng(s))
        (h, t), = out.schema["entity_pairs"]
        gold = [(a.text, r.type, b.text) for r in rel.relations for a, b in [r.resolve(ents)] if (a.text, b.text) == (h, t)]
        assert [(a.text, r.type, b.text) for r in out.relations for a, b in [r.resolve(out.entities)]] == gold
        empty += not gold
        assert f"Entity pairs: ({h}, {t})" in build_prompt("re", out.schema, out.text, [], {})
    assert 10 <= empty <= 35 and len(rel.relations) == 3 and "entity_pairs" not in rel.schema
    assert "entity_pairs" not in sample_labels(rel, ["met", "in"], {}, LabelSampling(), np.random.default_rng(0)).schema
    given = Record("m", "re", "Ann met Bo", schema={"relation_types": ["met"], "entity_pairs": [["Bo", "Ann"]]},
                   entities=ents[:2], relations=[])
    assert sample_labels(given, ["met"], {}, cfg, np.random.default_rng(0)).schema["entity_pairs"] == [["Bo", "Ann"]]
    assert "Entity pairs" not in build_prompt("ner", {"entity_types": ["person"], "entity_pairs": [["a", "b"]]},
                                              "a b", [], {})


@pytest.mark.parametrize("bad", [{"drop": 1.0}, {"negatives": [3, 1]}, {"max_labels": 0}, {"restyle": 1.5},
                                 {"rename": -0.1}, {"pairs": 2.0}])
def test_label_sampling_config_is_checked(bad):
    with pytest.raises(ConfigError):
        LabelSampling.from_dict(bad)


def _config(data_dir, **over) -> MixtureConfig:
    d = {"size": 300, "seed": 3, "data_dir": str(data_dir),
         "sources": [{"name": "conll03", "format": "conll2003", "path": "text/conll2003/train.txt", "weight": 2,
                      "max_records": 500, "licence": "research"},
                     {"name": "conll04", "format": "conll04", "path": "text/conll04/conll04_train.json", "weight": 1},
                     {"name": "nyt", "format": "nyt", "path": "nyt/dev_triples.json", "split": "dev", "weight": 1,
                      "optional": True},
                     {"name": "rams", "format": "rams", "path": "text/rams/dev.jsonlines", "split": "dev", "weight": 1},
                     {"name": "maven", "format": "maven", "path": "maven/train.jsonl", "optional": True}],
         "eval": [{"name": "conll03", "format": "conll2003", "path": "text/conll2003/dev.txt", "role": "dev", "limit": 50},
                  {"name": "conll03", "format": "conll2003", "path": "text/conll2003/test.txt", "role": "test", "limit": 40}]}
    d.update(over)
    return MixtureConfig.from_dict(d)


def test_mixture_renames_labels_from_a_synonyms_file(data_dir, tmp_path):
    """labels.rename + labels.synonyms on the real training files: about the given share of records answer with
    other names (CoNLL's NER types, CoNLL04's relations, RAMS's types by two levels), each still listed in its
    prompt; the manifest names the file; a missing file is an InputError naming it."""
    labels = {"drop": 0.0, "negatives": [0, 2], "rename": 0.5, "synonyms": "configs/data/label_synonyms.yaml"}
    m = build_mixture(_config(data_dir, labels=labels), tmp_path / "r")
    recs = list(read_jsonl(tmp_path / "r" / "train.jsonl"))
    original = {"person", "location", "organization", "miscellaneous", "live in", "work for", "orgbased in",
                "located in", "kill"}
    renamed = [r for r in recs if r.task != "ee" and not set(own_types(r)) <= original]
    assert 0.35 < len(renamed) / sum(r.task != "ee" for r in recs) < 0.65
    two_levels = [r for r in recs if r.task == "ee" and any(t.count(".") == 1 for t in own_types(r))]
    assert 0.2 < len(two_levels) / sum(r.task == "ee" for r in recs) < 0.65
    for r in recs:
        listed = r.schema[LABEL_KEYS[r.task]]
        assert set(own_types(r)) <= set(listed) and len(set(listed)) == len(listed)
    assert m["synonyms"]["path"] == "configs/data/label_synonyms.yaml" and m["synonyms"]["labels"] >= 30
    with pytest.raises(InputError, match="nowhere.yaml"):
        build_mixture(_config(data_dir, labels={**labels, "synonyms": "nowhere.yaml"}), tmp_path / "x")


def test_mixture_on_real_training_files(data_dir, tmp_path):
    cfg = _config(data_dir)
    m = build_mixture(cfg, tmp_path / "a", {"nyt": str(FIXTURES / "nyt")})
    recs = list(read_jsonl(tmp_path / "a" / "train.jsonl"))
    assert len(recs) == m["examples"] == 300
    by_source = {s["name"]: s for s in m["sources"]}
    assert {k: v["examples"] for k, v in by_source.items()} == {"conll03": 120, "conll04": 60, "nyt": 60, "rams": 60}
    assert [x["name"] for x in m["left_out"]] == ["maven"]
    assert by_source["conll03"]["records"] == 500 and by_source["nyt"]["records"] == 40
    assert by_source["nyt"]["epochs_of_source"] == 1.5 and by_source["conll03"]["licence"] == "research"
    assert len(by_source["rams"]["sha256"]) == 64 and by_source["rams"]["split"] == "dev"
    assert {r.extra["source"] for r in recs} == set(by_source) and m["tasks"] == {"ner": 120, "re": 120, "ee": 60}
    # RE labels come from the pool of both RE sources (CoNLL04's and NYT's relations in one prompt)
    re_labels = {t for r in recs if r.task == "re" for t in r.schema["relation_types"]}
    assert "live in" in re_labels and "/location/location/contains" in re_labels
    for r in recs:  # every answer item's type is in its prompt's labels
        listed = set(r.schema[{"ner": "entity_types", "re": "relation_types", "ee": "event_types"}[r.task]])
        assert set(own_types(r)) <= listed
    dev = list(read_jsonl(tmp_path / "a" / "eval" / "dev" / "T" / "conll03.jsonl"))
    test = list(read_jsonl(tmp_path / "a" / "eval" / "test" / "T" / "conll03.jsonl"))
    assert len(dev) == 50 and len(test) == 40 and dev[0].schema == {"entity_types": ["person", "location", "organization",
                                                                                     "miscellaneous"]}
    # the same config builds the same bytes; another seed another mixture
    build_mixture(cfg, tmp_path / "b", {"nyt": str(FIXTURES / "nyt")})
    for f in ("train.jsonl", "manifest.json", "eval/test/T/conll03.jsonl"):
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes()
    build_mixture(_config(data_dir, seed=4), tmp_path / "c", {"nyt": str(FIXTURES / "nyt")})
    assert (tmp_path / "c" / "train.jsonl").read_bytes() != (tmp_path / "a" / "train.jsonl").read_bytes()


def test_absent_sources_bad_lines_and_bad_configs(data_dir, tmp_path):
    with pytest.raises(InputError, match="conll04_train.json.*--source conll04=PATH"):
        build_mixture(_config(data_dir), tmp_path / "x", {"conll04": str(tmp_path / "nowhere" / "conll04_train.json")})
    with pytest.raises(InputError, match="no source or evaluation set named 'nope'"):
        build_mixture(_config(data_dir), tmp_path / "x", {"nope": "a"})
    with pytest.raises(ConfigError, match="format"):
        _config(data_dir, sources=[{"name": "a", "format": "nope", "path": "x"}])
    with pytest.raises(ConfigError, match="unique"):
        _config(data_dir, sources=[{"name": "a", "format": "nyt", "path": "x"}, {"name": "a", "format": "nyt", "path": "y"}])
    lines = (FIXTURES / "nyt11_hrl.json").read_text().splitlines()
    bad = tmp_path / "nyt11" / "train.json"
    bad.parent.mkdir()
    bad.write_text("\n".join(lines[:3] + ["{broken"] + lines[3:]) + "\n")
    cfg = _config(data_dir, size=40, sources=[{"name": "nyt11", "format": "nyt11-hrl", "path": str(bad)}], eval=[])
    m = build_mixture(cfg, tmp_path / "y")
    assert m["sources"][0]["bad_lines"] == 1 and m["sources"][0]["records"] == len(lines)


def test_reamo_data_mix_cli(data_dir, tmp_path, capsys):
    cfg = tmp_path / "mix.yaml"
    cfg.write_text(json.dumps(_config(data_dir).to_dict()))  # JSON is YAML
    out = tmp_path / "out"
    assert cli_main(["data", "mix", "--config", str(cfg), "--out", str(out), "--source", f"nyt={FIXTURES / 'nyt'}",
                     "--set", "size=100", "--set", "labels.drop=0.0"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["examples"] == 100 and summary["left_out"] == ["maven"] and summary["eval"] == {"dev/conll03": 50,
                                                                                                  "test/conll03": 40}
    assert json.loads((out / "manifest.json").read_text())["labels"]["drop"] == 0.0
    assert cli_main(["data", "mix", "--config", str(cfg), "--out", str(out), "--source", "nyt"]) == 2
    assert "--source: expected NAME=PATH, got 'nyt'" in capsys.readouterr().err


def test_the_committed_mixture_config_reads():
    cfg = MixtureConfig.from_yaml(Path(__file__).resolve().parents[1] / "configs" / "data" / "phase1_public.yaml")
    names = {s.name for s in cfg.sources}
    assert {"conll03", "conll04", "rams", "nyt", "maven", "nyt11", "ontonotes", "ace05"} == names
    zero_shot = {"twitter2017", "mnre", "m2e2", "webnlg", "wikievents"}
    assert not {s.format for s in cfg.sources} & zero_shot  # the zero-shot sets never train
    assert all(e.split != "train" for e in cfg.eval)


def test_parts_of_one_file_train_and_evaluate_on_different_documents(data_dir, tmp_path):
    """configs/data/mspit_text_events.yaml: RAMS dev part 1/2 trains, part 2/2 is evaluated; no document in both."""
    from reamo.converters.registry import read_format
    from reamo.corpora.mixture import in_part

    cfg = MixtureConfig.from_yaml("configs/data/mspit_text_events.yaml", {"data_dir": str(data_dir)})
    m = build_mixture(cfg, tmp_path / "mix")
    all_ids = [r.id for r in read_format("rams", data_dir / "text" / "rams" / "dev.jsonlines")]
    first = {i for i in all_ids if in_part(i, "1/2")}
    assert 0.4 < len(first) / len(all_ids) < 0.6 and m["sources"][0]["records"] == len(first) == cfg.size
    trained = {r.id.split("/", 2)[2] for r in read_jsonl(tmp_path / "mix" / "train.jsonl")}
    evaluated = {r.id for r in read_jsonl(tmp_path / "mix" / "eval" / "test" / "T" / "rams.jsonl")}
    assert trained == first and len(evaluated) == 100 and not trained & evaluated
    assert [e["part"] for e in m["eval"]] == ["2/2", None] and m["sources"][0]["part"] == "1/2"
    # RAMS names 139 event types: each evaluation prompt gets its gold types + seeded distractors, 12 in all, as
    # `reamo bench build` cuts them; M2E2's 8 ACE types stay whole
    rams = list(read_jsonl(tmp_path / "mix" / "eval" / "test" / "T" / "rams.jsonl"))
    assert all(len(r.schema["event_types"]) == 12 for r in rams)
    assert all({e.type for e in r.events} <= set(r.schema["event_types"]) for r in rams)
    assert len({tuple(r.schema["event_types"]) for r in rams}) > 50  # the distractors differ per record
    assert "schema" in m["eval"][0] and "schema" not in m["eval"][1]
    m2e2 = list(read_jsonl(tmp_path / "mix" / "eval" / "test" / "T" / "m2e2.jsonl"))
    assert len({tuple(r.schema["event_types"]) for r in m2e2}) == 1
    again = build_mixture(cfg, tmp_path / "mix2")  # seeded: the same cut again
    assert [r.schema for r in read_jsonl(tmp_path / "mix2" / "eval" / "test" / "T" / "rams.jsonl")] == \
        [r.schema for r in rams] and again["eval"] == m["eval"]
    with pytest.raises(ConfigError, match="max_event_types"):
        MixtureConfig.from_dict({"sources": [{"name": "r", "format": "rams", "path": "x"}],
                                 "eval": [{"name": "e", "format": "rams", "path": "x", "max_event_types": 0}]})
    for bad in ("3/2", "0/2", "half", "1/0"):
        with pytest.raises(ConfigError, match="part"):
            MixtureConfig.from_dict({"sources": [{"name": "r", "format": "rams", "path": "x", "part": bad}]})
