"""The sounds of a corpus written with `audio="sounds"`, one per entity, 16 kHz mono float32:
- person: a short phrase spoken by espeak-ng, in one of several voices and speeds;
- animal: a dog's barks or a cat's meow, synthesised (a harmonic voice with the call's pitch contour, a breath
  of noise and the call's envelope);
- vehicle: an engine (a sawtooth at the firing rate, its harmonics and rumbling noise, pulsing with the
  cylinders) or a two-tone horn, synthesised.
Each sound is trimmed to where it is audible, so its gold span is exactly where it lies in the file. Without
espeak-ng, a person's sound raises reamo.benchmark.speech.SpeechError naming the missing program."""
from __future__ import annotations

import numpy as np

from reamo.benchmark.speech import SAMPLE_RATE, Speaker

PHRASES = ("hello there", "good morning", "come over here", "yes of course", "thank you", "see you later",
           "all right then", "wait for me")
VOICES = ("en-us", "en-gb", "en-us+f3", "en-gb+m3", "en-us+f2", "en-gb-x-rp+m5")
SPEEDS = (145, 175)
MAX_S = 1.2  # a longer sound is cut (with a fade) to this length


def _envelope(n: int, attack: int, decay: float) -> np.ndarray:
    t = np.arange(n, dtype=np.float32)
    env = np.minimum(1.0, t / max(1, attack)) * np.exp(-t / max(1.0, decay))
    return env.astype(np.float32)


def _harmonic(f0: np.ndarray, weights) -> np.ndarray:
    phase = 2 * np.pi * np.cumsum(f0) / SAMPLE_RATE
    return sum(w * np.sin((k + 1) * phase) for k, w in enumerate(weights)).astype(np.float32)


def _noise(rng: np.random.Generator, n: int, smooth: int) -> np.ndarray:
    x = rng.normal(0, 1, n + smooth).astype(np.float32)
    return (np.convolve(x, np.ones(smooth, np.float32) / smooth, "valid")[:n] * np.sqrt(smooth)).astype(np.float32)


def _normalise(x: np.ndarray, peak: float = 0.5) -> np.ndarray:
    return (x * (peak / max(float(np.abs(x).max()), 1e-6))).astype(np.float32)


class SoundBank:
    """Makes each type's sounds; espeak-ng's phrases are cached per (phrase, voice, speed)."""

    def __init__(self):
        self._speakers: dict[tuple[str, int], Speaker] = {}

    def speech(self, rng: np.random.Generator) -> np.ndarray:
        phrase, voice = str(rng.choice(PHRASES)), str(rng.choice(VOICES))
        speed = int(rng.choice(SPEEDS))
        key = (voice, speed)
        if key not in self._speakers:
            self._speakers[key] = Speaker(voice=voice, words_per_minute=speed)
        return self._speakers[key].word(phrase)  # one utterance: the whole phrase goes to espeak-ng at once

    @staticmethod
    def bark(rng: np.random.Generator) -> np.ndarray:
        parts = []
        for _ in range(int(rng.integers(2, 4))):
            n = int(rng.uniform(0.11, 0.17) * SAMPLE_RATE)
            f0 = np.linspace(rng.uniform(550, 700), rng.uniform(280, 380), n)
            voice = _harmonic(f0, (1.0, 0.7, 0.5, 0.35, 0.2)) + 0.35 * _noise(rng, n, 3)
            parts += [voice * _envelope(n, 80, n / 3), np.zeros(int(rng.uniform(0.08, 0.14) * SAMPLE_RATE), np.float32)]
        return _normalise(np.concatenate(parts[:-1]))

    @staticmethod
    def meow(rng: np.random.Generator) -> np.ndarray:
        n = int(rng.uniform(0.45, 0.7) * SAMPLE_RATE)
        u = np.linspace(0, 1, n)
        lo, hi = rng.uniform(420, 520), rng.uniform(750, 950)
        f0 = lo + (hi - lo) * np.sin(np.pi * np.clip(u * 1.3, 0, 1)) ** 2
        voice = _harmonic(f0, (1.0, 0.8, 0.45, 0.3, 0.15)) + 0.1 * _noise(rng, n, 2)
        env = np.sin(np.pi * u) ** 0.6
        return _normalise(voice * env.astype(np.float32))

    @staticmethod
    def engine(rng: np.random.Generator) -> np.ndarray:
        n = int(rng.uniform(0.6, 0.9) * SAMPLE_RATE)
        u = np.linspace(0, 1, n)
        f0 = rng.uniform(55, 90) * (1 + rng.uniform(0.0, 0.5) * u)  # revving up
        phase = np.cumsum(f0) / SAMPLE_RATE
        saw = (2 * (phase % 1.0) - 1).astype(np.float32)
        pulse = 0.6 + 0.4 * np.sin(2 * np.pi * np.cumsum(f0 / 4) / SAMPLE_RATE) ** 2  # the cylinders' firing
        rumble = _noise(rng, n, 12)
        env = np.minimum(1.0, np.minimum(u, 1 - u) * 12)
        return _normalise((saw * pulse + 0.5 * rumble) * env.astype(np.float32))

    @staticmethod
    def horn(rng: np.random.Generator) -> np.ndarray:
        n = int(rng.uniform(0.4, 0.7) * SAMPLE_RATE)
        u = np.linspace(0, 1, n)
        f = rng.uniform(380, 440)
        tone = sum(np.sign(np.sin(2 * np.pi * fk * np.arange(n) / SAMPLE_RATE)) for fk in (f, f * 1.26))
        env = np.minimum(1.0, np.minimum(u, 1 - u) * 25)
        return _normalise(tone.astype(np.float32) * env.astype(np.float32) * 0.5, 0.4)

    def sound(self, typ: str, rng: np.random.Generator) -> np.ndarray:
        """One sound of an entity of type `typ`, at most MAX_S seconds."""
        if typ == "person":
            w = self.speech(rng)
        elif typ == "animal":
            w = self.bark(rng) if rng.random() < 0.5 else self.meow(rng)
        elif typ == "vehicle":
            w = self.engine(rng) if rng.random() < 0.6 else self.horn(rng)
        else:
            raise ValueError(f"no sound for entity type {typ!r}")
        w = np.asarray(w, np.float32)[: int(MAX_S * SAMPLE_RATE)].copy()
        fade = min(len(w), 400)
        w[len(w) - fade:] *= np.linspace(1, 0, fade, dtype=np.float32)
        return _normalise(w, float(rng.uniform(0.35, 0.5)))


def room_noise(rng: np.random.Generator, n: int, level: float = 0.01) -> np.ndarray:
    """Low background noise, darker than white (a room's hum and hiss)."""
    return (level * _noise(rng, n, 4) / 2).astype(np.float32)
