"""Phase 3 audio spans from speech with word times: the LibriSpeech alignments of the Montreal Forced Aligner in
their condensed form (one BOOK.alignment.txt per book beside the .flac files: `UTT ",W1,W2,," "e1,e2,..."`, each
time the end of a word, empty words silences; every line starts and ends with one). Phrases of one to three
content words are chosen per utterance (seeded by its id, so a rebuild gives the same) and grounded by the span
from their first word's start to their last word's end."""
from __future__ import annotations

import zlib
from pathlib import Path
from typing import Iterator

import numpy as np

from reamo.converters.reading import report
from reamo.records import Entity, Record
from reamo.records.shards import Sample

STOP = frozenset("""a an and are as at be but by for from had has have he her his i in is it its of on or she so that
the their them then there they this to was we were which who will with you your not no all one been would could
said into out up down over than what when where him me my our us do did does if""".split())


def parse_alignment_line(line: str) -> tuple[str, list[tuple[str, float, float]]]:
    """`UTT ",W1,W2," "e0,e1,..."` -> (UTT, [(word, start, end)] without the silences)."""
    parts = line.strip().split(" ")
    if len(parts) != 3 or not parts[1].startswith('"') or not parts[2].startswith('"'):
        raise ValueError("expected: UTT \"WORDS\" \"END TIMES\"")
    words = parts[1].strip('"').split(",")
    ends = [float(x) for x in parts[2].strip('"').split(",")]
    if len(words) != len(ends):
        raise ValueError(f"{len(words)} words but {len(ends)} end times")
    if any(b < a for a, b in zip(ends, ends[1:])):
        raise ValueError("end times go backwards")
    out, start = [], 0.0
    for w, e in zip(words, ends):
        if w:
            out.append((w, start, e))
        start = e
    return parts[0], out


def choose_phrases(words: list[tuple[str, float, float]], key: str, max_phrases: int = 3,
                   max_words: int = 3) -> list[tuple[str, float, float]]:
    """Up to `max_phrases` non-overlapping runs of 1..max_words content words, drawn with a generator seeded by
    `key`: (phrase in lower case, start, end)."""
    rng = np.random.default_rng(zlib.crc32(key.encode()))
    content = [i for i, (w, _, _) in enumerate(words) if w.lower() not in STOP and len(w) > 2]
    used: set[int] = set()
    out = []
    for i in rng.permutation(content).tolist():
        if len(out) >= max_phrases or i in used:
            continue
        n = int(rng.integers(1, max_words + 1))
        run = [i]
        while len(run) < n and run[-1] + 1 < len(words) and run[-1] + 1 not in used \
                and words[run[-1] + 1][0].lower() not in STOP:
            run.append(run[-1] + 1)
        used.update(run)
        out.append((" ".join(words[j][0].lower() for j in run), words[run[0]][1], words[run[-1]][2]))
    return sorted(out, key=lambda p: p[1])


def librispeech_alignments(root: str | Path, errors: list | None = None, max_phrases: int = 3) -> Iterator[Sample]:
    """Every aligned utterance under `root` (LibriSpeech merged with the alignments) -> an audio sample with its
    transcript and grounded phrases. A malformed line, an utterance without its audio, or an alignment longer than
    its audio is reported (file and line) and skipped."""
    import soundfile as sf

    for ali in sorted(Path(root).rglob("*.alignment.txt")):
        for lineno, line in enumerate(ali.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                utt, words = parse_alignment_line(line)
                audio = next((p for p in (ali.parent / f"{utt}.flac", ali.parent / f"{utt}.wav") if p.is_file()), None)
                if audio is None:
                    raise ValueError(f"no {utt}.flac or .wav beside it")
                if not words:
                    raise ValueError("no word")
                dur = sf.info(str(audio)).duration
                if words[-1][2] > dur + 0.05:
                    raise ValueError(f"alignment ends at {words[-1][2]:.2f} s, the audio at {dur:.2f} s")
            except (ValueError, RuntimeError) as e:
                report(errors, ali, lineno, str(e))
                continue
            phrases = choose_phrases(words, utt, max_phrases)
            ents = [Entity(t, "phrase", grounding={"audio": {"spans": [[round(s, 3), round(e, 3)]]}})
                    for t, s, e in phrases]
            rec = Record(f"librispeech/{utt}", "ner", schema={"entity_types": ["phrase"]}, entities=ents,
                         extra={"transcript": " ".join(w.lower() for w, _, _ in words), "source": "librispeech",
                                "caption": " ".join(w.lower() for w, _, _ in words)})
            yield Sample(rec, {"audio": (audio.suffix.lstrip("."), audio)})
