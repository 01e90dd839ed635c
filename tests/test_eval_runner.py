"""The zero-shot benchmark runner: MUIE layout, cached predictions resume, paper-shaped table."""
import json
import shutil

from reamo.api import Reamo
from reamo.evaluation.report import discover
from reamo.evaluation.runner import run_benchmark
from reamo.records import read_jsonl, write_jsonl
from reamo.synth import generate_corpus


def test_runner_over_the_layout_resumes(tmp_path):
    corpus = tmp_path / "corpus"
    generate_corpus(corpus, {"train": 1, "dev": 1, "test": 60}, seed=2)
    bench = tmp_path / "bench"
    test = list(read_jsonl(corpus / "test.jsonl"))
    sets = {("T+I", "twt17"): ("T+I", "ner"), ("A", "ace05-aud"): ("A", "ner"), ("V", "vidsitu"): ("V", "ee")}
    for (combo, name), (c, task) in sets.items():
        recs = [r for r in test if r.extra["combo"] == c and r.task == task][:2]
        assert recs, (c, task)
        (bench / combo).mkdir(parents=True, exist_ok=True)
        for r in recs:
            for m in r.modalities:
                if m != "text":
                    rel = getattr(r, m)
                    (bench / combo / rel).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy(corpus / rel, bench / combo / rel)
        write_jsonl(bench / combo / f"{name}.jsonl", recs)
    assert [(c, s) for c, s, _, _ in discover(bench)] == [("V", "vidsitu"), ("A", "ace05-aud"), ("T+I", "twt17")]
    reamo = Reamo.from_config("tiny").eval()
    out = tmp_path / "out"
    res = run_benchmark(reamo, bench, out, batch_size=2, max_new_tokens=6, progress=False)
    assert set(res) == set(sets)
    table = (out / "table.md").read_text()
    assert "| T+I | twt17 |" in table and "47.4" in table  # the paper's reference column
    pred = out / "predictions" / "T+I" / "twt17.jsonl"
    lines = pred.read_text().splitlines()
    pred.write_text(lines[0] + "\n" + lines[1][:10])  # an interrupted run: one full line and a cut one
    calls = []
    orig = reamo.extract
    reamo.extract = lambda items, **kw: calls.append(len(items)) or orig(items, **kw)
    res2 = run_benchmark(reamo, bench, out, batch_size=2, max_new_tokens=6, progress=False)
    assert set(res2) == set(res)  # the resumed run reports every set again
    assert calls == [1]  # only the missing instance of twt17 was predicted again
    assert json.loads((out / "scores.json").read_text())["T+I/twt17"]["records"] == 2


def test_absent_media_evaluate_on_text_and_failures_are_reported(tmp_path):
    """A tweet set whose images were never distributed runs on its text; a set whose only input is absent
    media fails item by item, and the table and scores say so instead of showing a silent 0."""
    from reamo.evaluation.runner import eval_input
    from reamo.records import Entity, Record

    bench = tmp_path / "bench"
    tweets = []
    for i in range(3):
        r = Record(f"t{i}", "ner", "Trump meets Merkel", image=f"images/{i}.jpg",
                   schema={"entity_types": ["person"]}, entities=[Entity("Trump", "person", 0, 5)])
        r.extra["media_absent"] = ["image"]
        tweets.append(r)
    assert eval_input(tweets[0]) == {"id": "t0", "text": "Trump meets Merkel"}
    images_only = [Record(f"i{i}", "ner", None, image=f"images/{i}.jpg", schema={"entity_types": ["person"]},
                          entities=[Entity("man", "person")]) for i in range(2)]
    write_jsonl(bench / "T+I" / "twt17.jsonl", tweets)
    write_jsonl(bench / "I" / "pascal-c.jsonl", images_only)
    out = tmp_path / "out"
    res = run_benchmark(Reamo.from_config("tiny").eval(), bench, out, batch_size=4, max_new_tokens=4, progress=False)
    assert res[("T+I", "twt17")]["failed"] == 0 and res[("T+I", "twt17")]["records"] == 3
    bad = res[("I", "pascal-c")]
    assert bad["failed"] == 2 and bad["first_error"].startswith("MediaNotFoundError")
    table = (out / "table.md").read_text()
    assert "| I | pascal-c | 2 | 2 (all failed) | 0 | 0 | - | - | - |" in table
    assert "I/pascal-c: 2 of 2 items failed; first error: MediaNotFoundError" in table
    scores = json.loads((out / "scores.json").read_text())
    assert scores["I/pascal-c"]["failed"] == 2 and scores["T+I/twt17"]["failed"] == 0
