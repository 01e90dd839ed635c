"""Reliability: a corpus of bad inputs (typed errors naming the input; the batch keeps its good items),
safe config and checkpoint loading, every shipped config validates, killed training resumes exactly."""
import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from reamo.api import Reamo
from reamo.model.config import ReamoConfig
from reamo.configbase import load_yaml
from reamo.errors import ConfigError, InputError, MediaDecodeError, MediaError, MediaNotFoundError, \
    UnsupportedModalityError
from training.config import TrainConfig

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def reamo():
    return Reamo.from_config("tiny").eval()


@pytest.fixture(scope="module")
def bad_inputs(tmp_path_factory, media, astronaut_png):
    """(name, input item, expected error type, text the message must contain)."""
    import soundfile as sf
    from PIL import Image

    d = tmp_path_factory.mktemp("bad")
    def w(name, data):
        (d / name).write_bytes(data)
        return str(d / name)
    png = astronaut_png.read_bytes()
    jpg = io.BytesIO()
    Image.open(astronaut_png).convert("RGB").save(jpg, "JPEG")
    wav = io.BytesIO()
    sf.write(wav, np.zeros(16000, np.float32), 16000, format="WAV")
    flac, mp4 = media["flac"].read_bytes(), media["mp4"].read_bytes()
    sf.write(d / "silent.wav", np.zeros(32000, np.float32), 16000)
    sf.write(d / "rate8k.wav", np.sin(np.arange(24000) / 3).astype(np.float32), 8000)
    sf.write(d / "tiny.wav", np.zeros(50, np.float32), 16000)
    (d / "adir").mkdir()
    huge = Image.new("RGB", (12000, 10000))
    huge.save(d / "huge.png")
    import av

    with av.open(str(d / "one_frame.mp4"), "w") as out:
        s = out.add_stream("mpeg4", rate=1)
        s.width = s.height = 32
        for pkt in s.encode(av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), np.uint8), format="rgb24")):
            out.mux(pkt)
        for pkt in s.encode():
            out.mux(pkt)
    cases = [
        ("missing image", {"image": str(d / "nope.png")}, MediaNotFoundError, "nope.png"),
        ("missing audio", {"audio": str(d / "nope.wav")}, MediaNotFoundError, "nope.wav"),
        ("missing video", {"video": str(d / "nope.mp4")}, MediaNotFoundError, "nope.mp4"),
        ("directory as image", {"image": str(d / "adir")}, MediaNotFoundError, "directory"),
        ("directory as audio", {"audio": str(d / "adir")}, MediaNotFoundError, "directory"),
        ("directory as video", {"video": str(d / "adir")}, MediaNotFoundError, "directory"),
        ("empty png", {"image": w("empty.png", b"")}, MediaDecodeError, "empty"),
        ("empty wav", {"audio": w("empty.wav", b"")}, MediaDecodeError, "empty"),
        ("empty mp4", {"video": w("empty.mp4", b"")}, MediaDecodeError, "empty"),
        ("truncated png", {"image": w("cut.png", png[: len(png) // 3])}, MediaDecodeError, "cut.png"),
        ("truncated jpeg", {"image": w("cut.jpg", jpg.getvalue()[:300])}, MediaDecodeError, "cut.jpg"),
        ("corrupt jpeg", {"image": w("noise.jpg", np.random.default_rng(1).bytes(4000))}, MediaDecodeError, "noise.jpg"),
        ("truncated wav header", {"audio": w("cut.wav", wav.getvalue()[:20])}, MediaDecodeError, "cut.wav"),
        ("corrupt flac", {"audio": w("bad.flac", b"fLaC" + np.random.default_rng(2).bytes(3000))}, MediaDecodeError, "bad.flac"),
        ("truncated flac", {"audio": w("cut.flac", flac[:60])}, MediaDecodeError, "cut.flac"),
        ("truncated mp4", {"video": w("cut.mp4", mp4[:2000])}, MediaDecodeError, "cut.mp4"),
        ("corrupt mp4", {"video": w("noise.mp4", np.random.default_rng(3).bytes(6000))}, MediaDecodeError, "noise.mp4"),
        ("image given as audio", {"audio": str(astronaut_png)}, MediaDecodeError, "astronaut.png"),
        ("audio given as image", {"image": str(media["flac"])}, MediaDecodeError, "jfk.flac"),
        ("text file as video", {"video": w("notes.mp4", b"hello, this is text")}, MediaDecodeError, "notes.mp4"),
        ("zero-length audio array", {"audio": np.zeros(0, np.float32)}, MediaDecodeError, "no samples"),
        ("NaN audio", {"audio": np.full(16000, np.nan, np.float32)}, MediaDecodeError, "NaN"),
        ("inf audio", {"audio": np.full(16000, np.inf, np.float32)}, MediaDecodeError, "NaN or inf"),
        ("audio shorter than a window", {"audio": str(d / "tiny.wav")}, MediaDecodeError, "too short"),
        ("huge image", {"image": str(d / "huge.png")}, MediaDecodeError, "pixel limit"),
        ("4-D array as image", {"image": np.zeros((2, 2, 2, 2))}, MediaDecodeError, "shape"),
        ("NaN image array", {"image": np.full((8, 8, 3), np.nan)}, MediaDecodeError, "NaN"),
        ("video array of wrong shape", {"video": np.zeros((4, 4))}, MediaDecodeError, "shape"),
        ("unsupported input type", {"image": 42}, MediaError, "unsupported"),
        ("empty input", {"text": ""}, InputError, "empty"),
        ("no keys", {}, InputError, "empty"),
        ("unknown modality key", {"text": "a", "smell": "x"}, InputError, "smell"),
        ("text of the wrong type", {"text": 12}, InputError, "string"),
        ("not a dict", 3.5, InputError, "dict"),
    ]
    fine = [("silent audio", {"audio": str(d / "silent.wav")}), ("8 kHz audio", {"audio": str(d / "rate8k.wav")}),
            ("one-frame video", {"video": str(d / "one_frame.mp4")}),
            ("very long video (30 s at 30 fps, as frames)", {"video": (np.zeros((900, 24, 32, 3), np.uint8), 30.0)}),
            ("very long text", {"text": "word " * 5000})]
    return cases, fine


def test_bad_input_corpus(reamo, bad_inputs):
    cases, fine = bad_inputs
    assert len(cases) >= 30
    items = [c[1] for c in cases] + [f[1] for f in fine]
    res = reamo.extract(items, "ner", ["person"], max_new_tokens=4, batch_size=16)
    for (name, _, etype, text), r in zip(cases, res):
        assert isinstance(r.error, etype), (name, r.error)
        assert text.lower() in str(r.error).lower(), (name, str(r.error))
    for (name, _), r in zip(fine, res[len(cases):]):
        assert r.ok, (name, r.error)
    assert any("truncated" in w for w in res[-1].warnings)  # very long text: truncated with a warning


def test_unsupported_modality_unknown_task_bad_schema(reamo):
    only_image = Reamo.from_config("tiny", {"modalities": ["image"], "encoder.towers": ["vision"]})
    r = only_image.extract({"audio": np.zeros(16000, np.float32)}, "ner", ["person"], max_new_tokens=2)
    assert isinstance(r.error, UnsupportedModalityError) and "audio" in str(r.error)
    for task, schema, text in [("pos", ["x"], "unknown task"), ("ner", None, "needs a schema"), ("ner", [1, 2], "strings"),
                               ("ner", {"entity_types": []}, "non-empty"), ("ee", {"event_types": {"A": "x"}}, "roles"),
                               ("re", {"relation_types": "knows"}, "non-empty list")]:
        with pytest.raises(InputError, match=text):
            reamo.extract({"text": "a"}, task, schema)


def test_every_shipped_config_validates():
    for p in sorted((REPO / "configs" / "model").glob("*.yaml")):
        ReamoConfig.from_yaml(p)
    for p in sorted((REPO / "configs" / "phases").glob("*.yaml")):
        cfg = TrainConfig.from_yaml(p)
        assert cfg.resolve(cfg.deepspeed).is_file(), p
    import json

    for p in sorted((REPO / "configs" / "deepspeed").glob("*.json")):
        assert "zero_optimization" in json.loads(p.read_text())


def test_wrong_key_or_type_names_itself(tmp_path):
    cases = [({"llm": {"hidden_sise": 3}}, "llm.hidden_sise"), ({"lora": {"r": "8"}}, "lora.r"),
             ({"media_tokens": {"image": 0}}, "media_tokens"), ({"grounding": {"audio": {"threshold": 2}}}, "grounding.audio.threshold")]
    for override, key in cases:
        with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
            ReamoConfig.named("tiny", override)
    with pytest.raises(ConfigError, match="micro_batch_size"):
        TrainConfig.from_dict({"micro_batch_size": 0})


def test_yaml_with_python_tags_is_refused(tmp_path):
    p = tmp_path / "evil.yaml"
    p.write_text("name: !!python/object/apply:os.system ['echo pwned > %s']\n" % (tmp_path / "pwned"))
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_yaml(p)
    assert not (tmp_path / "pwned").exists()


def test_pickled_checkpoints_are_refused(reamo, tmp_path):
    from reamo.model.checkpoint import load_tensors
    from reamo.errors import CheckpointError

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {tmp_path / 'ran'}",))

    torch.save({"w": Payload()}, tmp_path / "evil.pt")
    with pytest.raises(CheckpointError, match="non-safetensors"):
        load_tensors(tmp_path / "evil.pt")
    reamo.save_pretrained(tmp_path / "ck")
    st = tmp_path / "ck" / "adapter" / "adapter_model.safetensors"
    st.unlink()
    torch.save({"w": Payload()}, tmp_path / "ck" / "adapter" / "adapter_model.bin")
    with pytest.raises(CheckpointError, match="refusing pickled"):
        Reamo.from_pretrained(tmp_path / "ck")
    assert not (tmp_path / "ran").exists()


def test_sigkill_at_random_steps_then_resume_is_bitwise_exact(tmp_path):
    """A run killed with SIGKILL (twice, at different steps) and resumed ends with exactly the weights of an
    uninterrupted run."""
    from reamo.model.checkpoint import load_tensors
    from reamo.synth import generate_corpus

    generate_corpus(tmp_path / "c", {"train": 40, "dev": 1, "test": 1}, seed=5)
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")}

    def cmd(out):
        return [sys.executable, "-m", "reamo.cli", "train", "--config", "configs/phases/phase4_meta.yaml",
                "--set", f"data.train=[{tmp_path / 'c' / 'phase4_meta.jsonl'}]", "--set", f"output_dir={out}",
                "--set", "init_from=null", "--set", "max_steps=8", "--set", "save_every=1", "--set", "micro_batch_size=4",
                "--set", "progress=false", "--set", f"data.cache_dir={tmp_path / 'cache'}", "--set", "log_every=1"]

    full = subprocess.run(cmd(tmp_path / "full"), env=env, capture_output=True, text=True, timeout=600)
    assert full.returncode == 0, full.stderr[-2000:]
    out = tmp_path / "killed"
    for target in (3, 6):
        p = subprocess.Popen(cmd(out), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 300
        latest = out / "checkpoints" / "latest"
        while time.time() < deadline:
            if latest.is_file() and int(latest.read_text().split("_")[1]) >= target:
                break
            time.sleep(0.05)
        p.send_signal(signal.SIGKILL)
        p.wait()
    done = subprocess.run(cmd(out), env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0 and "resumed from" in done.stdout, done.stdout[-1000:] + done.stderr[-2000:]
    for name in ("reamo.safetensors", "adapter/adapter_model.safetensors"):
        a, b = load_tensors(tmp_path / "full" / "final" / name), load_tensors(out / "final" / name)
        for k in a:
            assert torch.equal(a[k], b[k]), (name, k)


def test_interrupted_checkpoint_write_keeps_the_last_good_one(tmp_path, monkeypatch):
    from training.checkpointing import CheckpointManager

    class Engine:
        global_rank = 0

        def __init__(self, fail):
            self.fail = fail

        def save_checkpoint(self, root, tag, client_state, save_latest):
            d = Path(root) / tag
            d.mkdir(parents=True)
            (d / "part1").write_text("x")
            if self.fail:
                raise KeyboardInterrupt  # the process dies in the middle of the write
            (d / "part2").write_text("y")

    m = CheckpointManager(tmp_path / "ck")
    m.save(Engine(False), 1, {})
    with pytest.raises(KeyboardInterrupt):
        m.save(Engine(True), 2, {})
    assert m.latest_tag() == "step_000001" and (tmp_path / "ck" / "step_000001" / "part2").is_file()
    m.save(Engine(False), 3, {})
    assert m.latest_tag() == "step_000003" and not list((tmp_path / "ck").glob("*.tmp"))
