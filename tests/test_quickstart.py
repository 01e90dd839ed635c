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
    pairs = lambda recs: {(e.type, r.extra["combo"]) for r in recs for e in r.entities}
    for p in HELD_OUT_PAIRS:
        assert p not in pairs(train) and p in pairs(test)
    # exact groundings: the mask pixels have the drawn colour, the spans hold the tone energy
    import numpy as np
    import soundfile as sf
    from PIL import Image

    from reamo.masks import mask_to_box, rle_decode

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


def test_quickstart_smoke_end_to_end(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")}
    out = tmp_path / "qs"
    r = subprocess.run([sys.executable, "-m", "reamo.cli", "quickstart", "--smoke", "--out", str(out)],
                       capture_output=True, text=True, timeout=900, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "| metric | before training | after training | target |" in r.stdout
    scores = json.loads((out / "scores.json").read_text())
    assert set(scores["timings_s"]) == {"phase1_uie", "phase2_alignment", "phase3_grounding", "phase4_meta"}
    assert list((out / "pictures").glob("*.png"))
    ex = subprocess.run([sys.executable, "-m", "reamo.cli", "extract", "--model", str(out / "model"), "--text",
                         "Alice met Rex", "--labels", "person,animal,vehicle", "--max-new-tokens", "8"],
                        capture_output=True, text=True, timeout=300, env=env)
    assert ex.returncode == 0 and json.loads(ex.stdout)["task"] == "ner"
