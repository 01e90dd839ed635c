"""Audio spans as RTTM (one file for all results, what pyannote and the diarization scorers read) and as
WebVTT (a file per result, what players and subtitle editors read).

RTTM: `SPEAKER <record id> 1 <onset> <duration> <NA> <NA> <label>:<words> <NA> <NA>`, whitespace in the record
id and the words written as '_'. WebVTT: one cue per span, its text "<words> (<label>)"."""
from __future__ import annotations

from pathlib import Path

from reamo.errors import ExportError
from reamo.export.items import ExportItem, grounded, token, unique_path

RTTM_FILE = "audio.rttm"


def _spans(rec, g) -> list[tuple[float, float]]:
    spans = g.grounding.get("spans")
    try:
        out = [(float(a), float(b)) for a, b in spans]
    except (TypeError, ValueError):
        raise ExportError(rec.id, f"audio grounding of {g.text!r} has no [[start, end], ...] spans: {spans!r}") from None
    for a, b in out:
        if not 0 <= a <= b:
            raise ExportError(rec.id, f"audio span [{a}, {b}] of {g.text!r} is not 0 <= start <= end")
    return out


def write_rttm(items: list[ExportItem], out_dir: Path, skipped: list[ExportError], fps: float | None = None) -> list[Path]:
    lines = []
    for it in items:
        rec = it.record
        try:
            rows = [(a, b, g) for g in grounded(rec, "audio") for a, b in _spans(rec, g)]
        except ExportError as e:
            skipped.append(e)
            continue
        for a, b, g in rows:
            lines.append(f"SPEAKER {token(rec.id)} 1 {a:.3f} {b - a:.3f} <NA> <NA> {token(g.label)}:{token(g.text)} <NA> <NA>")
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / RTTM_FILE).write_text("".join(x + "\n" for x in lines))
    return [out_dir / RTTM_FILE]


def vtt_time(s: float) -> str:
    ms = int(round(s * 1000))
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}"


def write_webvtt(items: list[ExportItem], out_dir: Path, skipped: list[ExportError], fps: float | None = None) -> list[Path]:
    files = []
    out_dir.mkdir(parents=True, exist_ok=True)
    for it in items:
        rec = it.record
        try:
            cues = sorted((a, b, g.text, g.label) for g in grounded(rec, "audio") for a, b in _spans(rec, g))
        except ExportError as e:
            skipped.append(e)
            continue
        if not cues:
            continue
        body = ["WEBVTT", ""]
        for n, (a, b, text, label) in enumerate(cues, 1):
            body += [str(n), f"{vtt_time(a)} --> {vtt_time(b)}", f"{text} ({label})".replace("-->", "->"), ""]
        path = unique_path(out_dir, rec.id, ".vtt", files)
        path.write_text("\n".join(body))
        files.append(path)
    return files
