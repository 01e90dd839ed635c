"""Long audio in bounded memory: the file is read in windows (AudioStream), the fbank of a window equals the
whole file's, the grounding head runs window by window over the whole length, and peak memory does not grow
with the recording's length."""
import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import soundfile as sf
import torch

from encoders import preprocess as P
from reamo.api import Reamo

ANSWER = "(Kennedy, person)<Module>AudioSegmentation</Module><Instruction>Kennedy</Instruction>"


def test_stream_reads_the_same_features_as_the_whole_file(media):
    wave, _ = P.load_waveform(media["wav"])
    stream = P.AudioStream(media["wav"])
    whole = P.fbank_frames(wave)
    windows = list(stream.fbank_windows(700))
    assert [w.shape[0] for w in windows] == [700, 700, 700, 700, 198] and stream.num_frames == whole.shape[0]
    assert (torch.cat(windows) - whole).abs().max() < 1e-3
    assert torch.equal(stream.clips(), P.audio_clips(wave))  # the encoder's clips, read by seeking
    env = stream.envelope(rate=50)
    assert env.shape[0] == int(stream.duration * 50) and torch.allclose(env.max(), wave.abs().max())


def test_stream_resamples_and_reports_bad_files(tmp_path):
    t = np.arange(8000 * 3) / 8000
    sf.write(tmp_path / "8k.wav", (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 8000)
    s = P.AudioStream(tmp_path / "8k.wav")
    assert s.num_samples == 48000 and abs(s.read(0, 16000).numel() - 16000) == 0
    (tmp_path / "bad.wav").write_bytes(b"RIFF0000WAVEjunkjunk")
    with pytest.raises(P.MediaDecodeError, match="bad.wav"):
        P.AudioStream(tmp_path / "bad.wav")


def _biased_head(reamo, frames):
    """Shift the classifier so that about half the steps of `frames` are above the threshold: spans appear."""
    head = reamo.model.heads.audio
    q = torch.randn(reamo.model.heads.audio.query_proj.in_features)
    with torch.no_grad():
        lg = head(frames[None], torch.ones(1, frames.shape[0], dtype=torch.bool), q[None])[0]
        head.classifier.bias -= lg.median()
    return head, q


def test_windowed_head_covers_the_whole_length(media):
    reamo = Reamo.from_config("tiny").eval()
    wave, _ = P.load_waveform(media["wav"])
    frames = P.fbank_frames(wave)
    head, q = _biased_head(reamo, frames)
    one = head.predict(head(frames[None], torch.ones(1, frames.shape[0], dtype=torch.bool), q[None]),
                       head.downsample(frames[None], torch.ones(1, frames.shape[0], dtype=torch.bool))[1])[0]
    assert one.spans  # the biased head finds spans
    # a window as long as the recording: exactly the one-pass result
    assert head.predict_windows([frames], q).spans == one.spans
    # windows of 10 s over a 30 s file: spans reach past the first window, up to the end
    head.cfg.window_s = 10.0
    windowed = head.predict_windows(frames.split(head.window_frames), q)
    assert windowed.spans and max(b for _, b in windowed.spans) > 20.0
    assert max(b for _, b in windowed.spans) <= frames.shape[0] / 100 + 0.04


def test_extract_streams_long_files_and_grounds_them(media):
    """A file over media.audio_stream_s is streamed: the loaded media hold no waveform, only an envelope; the
    instruction is grounded over the whole file, window by window."""
    reamo = Reamo.from_config("tiny", overrides={"media": {"audio_stream_s": 5.0},
                                                 "grounding": {"audio": {"window_s": 8.0}}}).eval()
    ids = reamo.tokenizer.encode(ANSWER, add_special_tokens=False) + [reamo.tokenizer.eos_token_id]
    reamo.model.generate = lambda input_ids, *a, **k: torch.tensor([ids] * input_ids.shape[0])
    seen = []
    orig = P.AudioStream.fbank_windows

    def counting(self, n, mel=128):
        for w in orig(self, n, mel):
            seen.append(w.shape[0])
            yield w

    P.AudioStream.fbank_windows = counting
    try:
        r = reamo.extract({"text": "Kennedy spoke", "audio": str(media["wav"])}, "ner", ["person"])
    finally:
        P.AudioStream.fbank_windows = orig
    assert r.ok, r.error
    lm = r.loaded["audio"]
    assert isinstance(lm.grounding, P.AudioStream) and lm.waveform_rate == 50.0 and lm.waveform.shape[0] == 1500
    assert sum(seen) == lm.grounding.num_frames and len(seen) == 4  # 30 s in 8 s windows: all of it
    assert "audio" in r.entities[0].grounding


PROBE = textwrap.dedent("""
    import json, resource, sys, torch
    from reamo.api import Reamo
    reamo = Reamo.from_config("tiny").eval()
    ids = reamo.tokenizer.encode(sys.argv[2], add_special_tokens=False) + [reamo.tokenizer.eos_token_id]
    reamo.model.generate = lambda input_ids, *a, **k: torch.tensor([ids] * input_ids.shape[0])
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    r = reamo.extract({"text": "Kennedy spoke", "audio": sys.argv[1]}, "ner", ["person"])
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"ok": r.ok, "error": str(r.error), "base_mib": base / 1024, "peak_mib": peak / 1024,
                      "grounded": "audio" in r.entities[0].grounding}))
""")


def _silent_wav(path, seconds):
    with sf.SoundFile(path, "w", samplerate=16000, channels=1, subtype="PCM_16") as f:
        block = np.zeros(16000 * 60, np.int16)
        for _ in range(int(seconds // 60)):
            f.write(block)


def _peak(path):
    out = subprocess.run([sys.executable, "-c", PROBE, str(path), ANSWER], capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_peak_memory_does_not_grow_with_length(tmp_path):
    """10 and 40 minutes of audio (both streamed): the extra memory of the longer file stays under 60 MiB
    (loaded whole, 30 extra minutes would need about 1.5 GB: samples, fbank frames and kaldi's framing)."""
    short, long_ = tmp_path / "10min.wav", tmp_path / "40min.wav"
    _silent_wav(short, 600)
    _silent_wav(long_, 2400)
    a, b = _peak(short), _peak(long_)
    assert a["ok"] and b["ok"] and a["grounded"] and b["grounded"], (a, b)
    assert b["peak_mib"] - a["peak_mib"] < 60, (a, b)
