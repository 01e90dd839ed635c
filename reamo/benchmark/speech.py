"""Speech variants of text records, as the paper built its audio sets: the text is spoken by a TTS engine
(espeak-ng) into a 16 kHz mono WAV with the time of every word, so each entity mention, relation argument and
trigger gets a gold audio span.

espeak-ng's command line gives no word times, so each word is spoken on its own (cached per word), its
leading and trailing silence trimmed, and the words placed one after another with a fixed pause: the times
are then known exactly. `voiced_segments` finds the spoken words back from the audio alone (silence
detection); `check_word_times` compares the two, and the builder stores that check per set.
"""
from __future__ import annotations

import io
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SAMPLE_RATE = 16000


class SpeechError(RuntimeError):
    """espeak-ng is missing or failed on a word."""


@dataclass
class SpokenText:
    wave: np.ndarray  # float32 mono, SAMPLE_RATE
    words: list[tuple[int, int, float, float]]  # (char start, char end, start s, end s) of each spoken word
    unspoken: list[str] = None  # words espeak-ng failed on (left out of the audio, so their items get no span)

    @property
    def duration(self) -> float:
        return len(self.wave) / SAMPLE_RATE


class Speaker:
    """Speaks words with espeak-ng (one process per distinct word, then cached)."""

    def __init__(self, voice: str = "en-us", words_per_minute: int = 165, pause_s: float = 0.16,
                 lead_s: float = 0.3, threshold: float = 0.02):
        exe = shutil.which("espeak-ng")
        if exe is None:
            raise SpeechError("espeak-ng is not installed (Debian: apt-get install espeak-ng; scripts/install.sh does it)")
        self.exe, self.voice, self.wpm = exe, voice, words_per_minute
        self.pause_s, self.lead_s, self.threshold = pause_s, lead_s, threshold
        self._cache: dict[str, np.ndarray] = {}

    def word(self, word: str) -> np.ndarray:
        """The trimmed 16 kHz waveform of one word."""
        if word not in self._cache:
            import soundfile as sf
            from scipy.signal import resample_poly

            try:
                # the word goes in on stdin: a token such as "-LCB-" would be read as an option
                wav = subprocess.run([self.exe, "-v", self.voice, "-s", str(self.wpm), "--stdout", "--stdin"],
                                     input=word.encode("utf-8"), capture_output=True, check=True, timeout=30).stdout
                w, sr = sf.read(io.BytesIO(wav), dtype="float32")
            except (subprocess.SubprocessError, RuntimeError, OSError) as e:
                raise SpeechError(f"espeak-ng failed on {word!r}: {e}") from None
            if w.ndim > 1:
                w = w.mean(1)
            g = np.gcd(SAMPLE_RATE, sr)
            w = resample_poly(w, SAMPLE_RATE // g, sr // g).astype(np.float32)
            loud = np.flatnonzero(np.abs(w) > self.threshold * max(np.abs(w).max(), 1e-6))
            self._cache[word] = w[loud[0]: loud[-1] + 1] if len(loud) else np.zeros(0, np.float32)
        return self._cache[word]

    def speak(self, text: str) -> SpokenText:
        """Speak `text` word by word (words = runs of non-space characters holding a letter or digit;
        punctuation-only tokens are not spoken)."""
        pieces, words, t = [np.zeros(int(self.lead_s * SAMPLE_RATE), np.float32)], [], self.lead_s
        pos, unspoken = 0, []
        for token in text.split(" "):
            start, end = pos, pos + len(token)
            pos = end + 1
            if not any(c.isalnum() for c in token):
                continue
            try:
                w = self.word(token)
            except SpeechError:
                unspoken.append(token)
                continue
            if len(w) == 0:
                continue
            words.append((start, end, round(t, 4), round(t + len(w) / SAMPLE_RATE, 4)))
            pieces += [w, np.zeros(int(self.pause_s * SAMPLE_RATE), np.float32)]
            t += (len(w) + int(self.pause_s * SAMPLE_RATE)) / SAMPLE_RATE
        pieces.append(np.zeros(int(self.lead_s * SAMPLE_RATE), np.float32))
        return SpokenText(np.concatenate(pieces), words, unspoken)


def span_times(spoken: SpokenText, start: int | None, end: int | None) -> list[float] | None:
    """The audio span [start s, end s] of the characters [start, end): from the first to the last spoken
    word overlapping them; None if no spoken word does (or no offsets)."""
    if start is None or end is None:
        return None
    hit = [(a, b) for s, e, a, b in spoken.words if s < end and e > start]
    return [hit[0][0], hit[-1][1]] if hit else None


def write_wav(path: str | Path, wave: np.ndarray) -> None:
    import soundfile as sf

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), wave, SAMPLE_RATE, subtype="PCM_16")


def voiced_segments(wave: np.ndarray, sr: int = SAMPLE_RATE, frame_s: float = 0.005, min_silence_s: float = 0.1,
                    threshold: float = 0.02) -> list[tuple[float, float]]:
    """Spoken stretches found from the audio alone: frames whose peak exceeds `threshold` x the file's peak,
    joined across silences shorter than `min_silence_s`."""
    hop = max(1, int(frame_s * sr))
    n = len(wave) // hop
    if n == 0:
        return []
    peak = np.abs(wave[: n * hop]).reshape(n, hop).max(1)
    on = peak > threshold * max(peak.max(), 1e-9)
    segs, start, last = [], None, None
    gap = int(round(min_silence_s / frame_s))
    for i in np.flatnonzero(on):
        if start is None:
            start = last = i
        elif i - last > gap:
            segs.append((start, last))
            start = i
        last = i
    if start is not None:
        segs.append((start, last))
    return [(a * hop / sr, (b + 1) * hop / sr) for a, b in segs]


def check_word_times(spoken: SpokenText) -> dict:
    """Compare the stated word times with the voiced segments found in the audio: the number of each, and
    the mean absolute boundary difference (ms) over the segments paired in order (when the counts agree)."""
    found = voiced_segments(spoken.wave)
    stated = [(a, b) for _, _, a, b in spoken.words]
    out = {"words": len(stated), "segments": len(found)}
    if len(found) == len(stated) and stated:
        diffs = [abs(x - y) for (a, b), (c, d) in zip(stated, found) for x, y in ((a, c), (b, d))]
        out["mean_abs_ms"] = round(1000 * float(np.mean(diffs)), 2)
        out["max_abs_ms"] = round(1000 * float(np.max(diffs)), 2)
    return out
