"""The web demo: the service (checks, batching, views), the Gradio server over HTTP with gradio_client, the
`reamo demo` command, and the page itself in headless Chromium.

The LLM's answer is forced (as in test_extract) so the entities are known; everything after generation runs
for real: the parse, the </Instruction> hidden states, the grounding heads, the tables and the pictures."""
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from reamo.api import Reamo
from reamo.cli import main as cli_main
from reamo.demo import DemoLimits, DemoRequest, DemoService, parse_labels
from reamo.demo.browser import chromium_path, run_page
from reamo.errors import InputError

ANSWER = ("(Alice, person)(Rex, animal)"
          "<Module>ImageSegmentation</Module><Instruction>Alice</Instruction>"
          "<Module>AudioSegmentation</Module><Instruction>Rex</Instruction>")


@pytest.fixture(scope="module")
def reamo():
    r = Reamo.from_config("tiny").eval()
    ids = r.tokenizer.encode(ANSWER, add_special_tokens=False) + [r.tokenizer.eos_token_id]

    def forced_generate(input_ids, attention_mask, media=None, max_new_tokens=0, **kw):
        time.sleep(0.3)  # a model takes time: requests that arrive meanwhile queue up and are batched
        return torch.tensor([ids] * input_ids.shape[0])

    r.model.generate = forced_generate
    return r


@pytest.fixture(scope="module")
def files(tmp_path_factory, media):
    d = tmp_path_factory.mktemp("demo_inputs")
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (80, 96, 3), dtype=np.uint8)).save(d / "photo.png")
    (d / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n this is not an image")
    (d / "empty.wav").write_bytes(b"")
    (d / "notes.txt").write_text("not audio")
    return {"png": str(d / "photo.png"), "corrupt": str(d / "corrupt.png"), "empty": str(d / "empty.wav"),
            "txt": str(d / "notes.txt"), "flac": str(media["flac"]), "mp4": str(media["mp4_short"])}


def test_parse_labels():
    assert parse_labels("ner", "person, location\norganization") == ["person", "location", "organization"]
    assert parse_labels("ee", "Contact:Meet: Entity, Place; Movement:Transport") == {
        "event_types": {"Contact:Meet": ["Entity", "Place"], "Movement:Transport": []}}
    assert parse_labels("re", '{"relation_types": ["owns"]}') == {"relation_types": ["owns"]}
    for bad in ("", "  ", "{not json"):
        with pytest.raises(InputError):
            parse_labels("ner", bad)


def test_real_sentence_examples_one_per_task(data_dir, tmp_path):
    """The demo offers one real test sentence per task, with its dataset's labels in the form the page parses."""
    from reamo.demo.app import example_rows
    from reamo.demo.examples import real_text_examples

    rows = real_text_examples(data_dir)
    assert [r[4] for r in rows] == ["ner", "re", "ee"]
    assert rows[0][0].startswith("Japan began the defence of their Asian Cup title")
    assert parse_labels("ner", rows[0][5]) == ["person", "location", "organization", "miscellaneous"]
    assert "live in" in parse_labels("re", rows[1][5])
    assert parse_labels("ee", rows[2][5])["event_types"]["Conflict:Attack"] == ["Attacker", "Instrument", "Place", "Target"]
    assert all(r[1] is r[2] is r[3] is None for r in rows)  # text alone
    assert rows == [r for r in example_rows(None, None, str(data_dir), tmp_path) if r[4] != "ner" or not r[1]][:3]
    assert real_text_examples(tmp_path) == []  # no data folder: no examples, no error


def test_limits_are_validated():
    with pytest.raises(ValueError, match="max_audio_seconds"):
        DemoLimits(max_audio_seconds=0)


def test_service_answers_good_requests_and_explains_bad_ones(reamo, files, tmp_path):
    svc = DemoService(reamo, DemoLimits(max_audio_seconds=5.0), workdir=tmp_path)
    reqs = [
        DemoRequest("Alice walks Rex", image=files["png"], labels="person, animal"),
        DemoRequest("Alice walks Rex", image=files["corrupt"], labels="person"),
        DemoRequest(audio=files["empty"], labels="person"),
        DemoRequest(audio=files["txt"], labels="person"),
        DemoRequest(audio=files["flac"], labels="person"),  # 11 s > 5 s
        DemoRequest("Alice walks Rex", labels=" "),
        DemoRequest("", labels="person"),
        DemoRequest("Alice met Rex", image=files["png"], task="re", labels="owns"),
    ]
    out = svc.run(reqs)
    assert [o.ok for o in out] == [True, False, False, False, False, False, False, True]
    good = out[0]
    assert [row[:3] for row in good.table] == [["entity", "person", "Alice"], ["entity", "animal", "Rex"]]
    assert good.table[0][3].startswith("image box [")
    assert good.image is not None and good.image.shape == (80 * 4, 96 * 4, 3)  # shown 4x: at least 320 px
    small = good.image[::4, ::4]
    assert not np.array_equal(small, np.asarray(Image.open(files["png"]).convert("RGB")))  # mask drawn in
    assert good.audio is None and good.video is None
    saved = json.loads(Path(good.json_path).read_text())
    assert [e["text"] for e in saved["entities"]] == ["Alice", "Rex"] and "image" in saved["entities"][0]["grounding"]
    assert "**2 entities** extracted, 1 grounding" in good.status
    msgs = [o.status for o in out[1:7]]
    assert "corrupt.png" in msgs[0] and "cannot decode image" in msgs[0]
    assert str(Path(files["corrupt"]).parent) not in msgs[0]  # the file by its name, never a server folder
    assert "empty.wav" in msgs[1] and "empty" in msgs[1]
    assert "unsupported audio format '.txt'" in msgs[2]
    assert "11 s long" in msgs[3] and "at most 5 s" in msgs[3]
    assert "labels" in msgs[4]
    assert "give some text" in msgs[5]
    assert all("Traceback" not in m for m in msgs)
    assert svc.batch_sizes == [8]


def test_service_shows_audio_and_video(reamo, files, tmp_path):
    out = DemoService(reamo, workdir=tmp_path).run([
        DemoRequest("Alice walks Rex", audio=files["flac"], video=files["mp4"], labels="person, animal")])[0]
    assert out.ok, out.status
    assert out.audio is not None and out.audio.ndim == 3  # the waveform picture
    assert out.video is not None and out.video.ndim == 3  # the frame strip
    rex = out.table[1][3]  # Rex's audio grounding: spans in seconds, or said to be none
    assert rex.startswith("audio ") and (rex.endswith(" s") or rex.endswith("(no span found)"))


def test_service_survives_an_unexpected_error(reamo, files, tmp_path, monkeypatch):
    svc = DemoService(reamo, workdir=tmp_path)
    monkeypatch.setattr(reamo, "extract", lambda *a, **k: 1 / 0)
    out = svc.run([DemoRequest("Alice", labels="person")])
    assert not out[0].ok and "ZeroDivisionError" in out[0].status and "Traceback" not in out[0].status


@pytest.fixture(scope="module")
def server(reamo, tmp_path_factory, files, free_port):
    from reamo.demo.app import build_app

    svc = DemoService(reamo, workdir=tmp_path_factory.mktemp("demo_work"), model_name="tiny (forced answer)")
    examples = [["Alice walks Rex", files["png"], None, None, "ner", "person, animal"]]
    app = build_app(svc, examples)
    port = free_port()
    _, url, _ = app.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True,
                           allowed_paths=[str(Path(files["png"]).parent)])
    yield url, svc
    app.close()


def test_server_answers_simultaneous_requests_in_batches(server, files):
    from gradio_client import Client, handle_file

    url, svc = server
    client = Client(url, verbose=False)
    svc.batch_sizes.clear()

    def ask(k):
        return client.predict(f"Alice walks Rex {k}", handle_file(files["png"]), None, None, "ner", "person, animal",
                              api_name="/extract")

    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(ask, range(6)))
    assert len(answers) == 6
    for status, table, image, audio, video, raw, json_path in answers:
        assert "**2 entities**" in status
        assert [row[:3] for row in table["data"]] == [["entity", "person", "Alice"], ["entity", "animal", "Rex"]]
        assert image and Image.open(image).size == (96 * 4, 80 * 4)  # the overlay came back as a picture
        assert raw == ANSWER and json.loads(Path(json_path).read_text())["entities"][0]["text"] == "Alice"
    assert sum(svc.batch_sizes) == 6 and max(svc.batch_sizes) >= 2  # some requests were answered together


def test_server_bad_input_is_a_message_and_the_server_keeps_serving(server, files):
    from gradio_client import Client, handle_file

    client = Client(server[0], verbose=False)
    status, *_ = client.predict("x", handle_file(files["corrupt"]), None, None, "ner", "person", api_name="/extract")
    assert "Cannot use this input" in status and "cannot decode image" in status
    assert "corrupt.png" in status and "/" not in status  # the name the user gave it; no server path
    status, *_ = client.predict("Alice walks Rex", None, None, None, "ner", "", api_name="/extract")
    assert "labels" in status
    status, table, *_ = client.predict("Alice walks Rex", None, None, None, "ner", "person", api_name="/extract")
    assert "**2 entities**" in status


def test_status_counts_in_words():
    from reamo.demo.service import _status
    from reamo.records import Entity, Event, Span
    from reamo.records.results import ExtractionResult

    one = ExtractionResult("x", "ner", "Alice", entities=[Entity("Alice", "person")])
    assert _status(one).startswith("**1 entity** extracted, 0 groundings")
    two = ExtractionResult("x", "ee", "a b", events=[Event("Move", Span("a")), Event("Meet", Span("b"))])
    assert _status(two).startswith("**2 events** extracted")


def test_demo_command_without_model_says_how_to_get_one(capsys):
    assert cli_main(["demo"]) == 2
    assert "reamo quickstart --out runs/quickstart" in capsys.readouterr().err


def test_demo_command_serves_a_saved_model(tmp_path, free_port):
    """`reamo demo --model DIR` in its own process: the page and the extract API answer over HTTP."""
    model = Reamo.from_config("tiny").save_pretrained(tmp_path / "model")
    port = free_port()
    env = dict(os.environ, HF_HUB_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False")
    proc = subprocess.Popen([sys.executable, "-m", "reamo.cli", "demo", "--model", str(model), "--port", str(port),
                             "--max-new-tokens", "8"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                            text=True)
    try:
        url = f"http://127.0.0.1:{port}/"
        for _ in range(120):
            try:
                page = urllib.request.urlopen(url, timeout=2).read().decode()
                break
            except OSError:
                assert proc.poll() is None, proc.stdout.read()
                time.sleep(0.5)
        else:
            raise AssertionError("the demo server did not start in 60 s")
        assert "Reamo" in page
        from gradio_client import Client

        status, table, *_ = Client(url, verbose=False).predict("Alice walks Rex", None, None, None, "ner",
                                                               "person", api_name="/extract")
        assert "extracted" in status  # a random tiny model: whatever it says, the request was answered
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@pytest.mark.skipif(chromium_path() is None, reason="Debian's chromium is not installed (scripts/install.sh "
                                                     "installs it)")
def test_page_in_headless_chromium(server, files, tmp_path):
    """Upload an image, click Run, wait for the result table, check it, and keep a screenshot
    (REAMO_DEMO_SCREENSHOT=path saves it there too)."""
    shot = tmp_path / "demo.png"
    r = run_page(server[0], "Alice walks Rex", "person, animal", image=files["png"], wait_for="Alice",
                 screenshot=str(shot))
    assert all(w in r.table for w in ("Alice", "Rex", "person", "animal", "image box ["))
    assert "2 entities" in r.status and r.overlay_shown
    assert Image.open(shot).size[0] == 1400
    if os.environ.get("REAMO_DEMO_SCREENSHOT"):
        shutil.copy(shot, os.environ["REAMO_DEMO_SCREENSHOT"])
