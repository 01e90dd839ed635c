"""`reamo bench build`: the layout and manifest from the shared data, spoken variants whose word times agree
with the audio itself, audio spans for every spoken item, and moment retrieval through `reamo eval`."""
import json
import shutil

import numpy as np
import pytest
import soundfile as sf

from reamo.api import Reamo
from reamo.benchmark.build import BuildOptions, build_benchmark
from reamo.benchmark.speech import Speaker, check_word_times, span_times, voiced_segments
from reamo.cli import main as cli_main
from reamo.evaluation.runner import run_benchmark
from reamo.records import read_jsonl

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None,
                                  reason="espeak-ng is not installed (scripts/install.sh installs it)")


@needs_espeak
def test_word_times_agree_with_silence_detection(data_dir):
    """Real sentences spoken: the voiced stretches found in the audio alone line up with the stated word
    times within 50 ms on average (one stretch per spoken word)."""
    sentences = [json.loads(x)["text"] for x in [json.dumps(d) for d in
                 json.loads((data_dir / "text" / "webnlg" / "sample_triples.json").read_text())[:6]]]
    speaker = Speaker()
    means = []
    for text in sentences:
        spoken = speaker.speak(text)
        check = check_word_times(spoken)
        assert check["segments"] == check["words"] > 3, (text, check)
        means.append(check["mean_abs_ms"])
    assert np.mean(means) < 50
    # a mention's span runs from its first to its last word, inside the audio
    spoken = speaker.speak("Massimo Drago played for the club")
    a, b = span_times(spoken, 0, len("Massimo Drago"))
    first, second = spoken.words[0], spoken.words[1]
    assert (a, b) == (first[2], second[3]) and 0 < a < b < spoken.duration
    assert span_times(spoken, None, None) is None


def test_voiced_segments_on_a_synthetic_signal():
    sr = 16000
    wave = np.zeros(sr * 2, np.float32)
    wave[int(0.2 * sr): int(0.5 * sr)] = 0.5
    wave[int(1.0 * sr): int(1.3 * sr)] = 0.5
    segs = voiced_segments(wave, sr)
    assert len(segs) == 2
    assert abs(segs[0][0] - 0.2) < 0.01 and abs(segs[1][1] - 1.3) < 0.01


@needs_espeak
def test_build_from_shared_data(data_dir, tmp_path):
    out = tmp_path / "bench"
    m = build_benchmark(out, BuildOptions(data_dir=data_dir, per_set=8, seed=1), progress=lambda *_: None)
    expected = {"T+I/twt17", "T+I/mnre", "T+I/m2e2", "T/conll04", "T/webnlg", "T/rams", "T/wikievents",
                "A/twt17-aud", "T+A/twt17-aud", "A/conll04-aud", "T+A/conll04-aud", "A/m2e2-aud", "T+A/m2e2-aud"}
    assert set(m["sets"]) == expected
    assert set(m["skipped"]) == {"V/qvhighlights", "V/tacos", "V/charades-sta"}
    assert "not distributed" in m["skipped"]["V/tacos"]
    for key, entry in m["sets"].items():
        recs = list(read_jsonl(out / f"{key}.jsonl"))
        assert len(recs) == entry["records"] == 8, key
        assert entry["counts"]["entities"] == sum(len(r.entities) for r in recs)
        assert entry["license"]
    assert m["sets"]["T+I/twt17"]["media_absent"] == ["image"] and m["sets"]["T+I/twt17"]["of"] == 723
    rams = list(read_jsonl(out / "T" / "rams.jsonl"))
    assert all(len(r.schema["event_types"]) <= 12 for r in rams)  # cut per record, gold types kept
    assert all(e.type in r.schema["event_types"] for r in rams for e in r.events)
    webnlg = list(read_jsonl(out / "T" / "webnlg.jsonl"))  # 216 relation names: cut the same way, to 24
    assert all(len(r.schema["relation_types"]) == 24 for r in webnlg)
    assert all(x.type in r.schema["relation_types"] for r in webnlg for x in r.relations)
    assert "relation types" in m["sets"]["T/webnlg"]["schema"] and "schema" not in m["sets"]["T/conll04"]
    # spoken variants: audio-only has no text, text+audio has both; every spoken item has an audio span
    a_only = list(read_jsonl(out / "A" / "conll04-aud.jsonl"))
    both = list(read_jsonl(out / "T+A" / "conll04-aud.jsonl"))
    assert all(r.text is None and r.audio for r in a_only) and all(r.text and r.audio for r in both)
    for r in a_only:
        wave, sr = sf.read(out / "A" / r.audio)
        assert sr == 16000
        for e in r.entities:
            (s, t), = e.grounding["audio"]["spans"]
            assert 0 < s < t <= len(wave) / sr
    assert m["sets"]["A/conll04-aud"]["word_time_check"]["mean_abs_ms"] < 50
    assert [e.grounding for r in both for e in r.entities] == [e.grounding for r in a_only for e in r.entities]


def test_moment_sets_with_videos_run_through_eval(data_dir, media, tmp_path):
    """QVHighlights with a folder of videos (a real clip stands in for each): the set is built, evaluated,
    and reported with R@1 and mIoU."""
    qvh = data_dir / "grounding" / "qvhighlights" / "highlight_val_sample.jsonl"
    vids = tmp_path / "videos"
    vids.mkdir()
    for line in qvh.read_text().splitlines()[:3]:
        shutil.copy(media["mp4_short"], vids / f"{json.loads(line)['vid']}.mp4")
    out = tmp_path / "bench"
    m = build_benchmark(out, BuildOptions(data_dir=None, speech=False, sources={"qvhighlights": str(qvh)},
                                          videos={"qvhighlights": str(vids)}), progress=lambda *_: None)
    assert m["sets"]["V/qvhighlights"]["records"] == 3 and "V/tacos" in m["skipped"]
    res = run_benchmark(Reamo.from_config("tiny").eval(), out, tmp_path / "eval", batch_size=3, max_new_tokens=4,
                        progress=False)
    s = res[("V", "qvhighlights")]
    assert s["failed"] == 0 and s["moment"]["n"] == 3 and 0 <= s["moment"]["miou"] <= 1
    assert "R@1 0.5" in (tmp_path / "eval" / "table.md").read_text()


def test_cli_rejects_a_bad_source(tmp_path, capsys):
    assert cli_main(["bench", "build", "--out", str(tmp_path / "b"), "--source", "rams"]) == 2
    assert "FORMAT=PATH" in capsys.readouterr().err
    assert cli_main(["bench", "build", "--out", str(tmp_path / "b"), "--source", "rams=/nonexistent"]) == 2
