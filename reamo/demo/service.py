"""What the web demo does with a batch of requests, independent of Gradio.

A request is what one person sent: text, uploaded image/audio/video paths, the task and its labels. The
service checks each request (labels, formats, lengths) before any model work, groups the good ones by
(task, schema) and runs one batched `Reamo.extract` per group, then turns every result into what the page
shows: a status line, a table of the extracted items with their groundings, pictures, the raw answer and a
JSON file. A bad request gets a readable message; it never stops the other requests of its batch, and nothing
raises out of `run` (an unexpected error becomes that batch's message, without a traceback).
"""
from __future__ import annotations

import json
import logging
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from reamo.errors import InputError, MediaError, ReamoError
from reamo.export.visualize import audio_picture, image_overlay, video_strip

log = logging.getLogger("reamo.demo")

FORMATS = {
    "image": {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"},
    "audio": {".wav", ".flac", ".ogg", ".oga", ".mp3"},
    "video": {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v"},
}
TABLE_HEADERS = ["kind", "label", "text", "grounded in"]


@dataclass(frozen=True)
class DemoLimits:
    """What one request may ask for; longer media are refused before any decoding."""

    max_audio_seconds: float = 600.0
    max_video_seconds: float = 300.0
    max_text_chars: int = 5000
    max_new_tokens: int = 256

    def __post_init__(self):
        for k in ("max_audio_seconds", "max_video_seconds", "max_text_chars", "max_new_tokens"):
            v = getattr(self, k)
            if not isinstance(v, (int, float)) or v <= 0:
                raise ValueError(f"DemoLimits.{k} must be a positive number, got {v!r}")


@dataclass
class DemoRequest:
    text: str | None = None
    image: str | None = None
    audio: str | None = None
    video: str | None = None
    task: str = "ner"
    labels: str = ""


@dataclass
class DemoResponse:
    ok: bool
    status: str  # Markdown: what was found, or what was wrong with the input
    table: list[list[str]] = field(default_factory=list)
    image: np.ndarray | None = None
    audio: np.ndarray | None = None
    video: np.ndarray | None = None
    raw_answer: str = ""
    json_path: str | None = None


def parse_labels(task: str, labels: str):
    """The labels box -> a schema `Reamo.extract` takes. NER/RE: labels separated by commas or new lines.
    EE: one event type per line or `;`, roles after a colon: `Movement:Transport: Agent, Vehicle`
    (the last colon separates the roles). A JSON object is taken as a schema dict."""
    text = (labels or "").strip()
    if not text:
        raise InputError("labels", f"give the {'event types' if task == 'ee' else 'labels'} to extract "
                                   "(e.g. person, location)")
    if text.startswith("{"):
        try:
            return json.loads(text)
        except json.JSONDecodeError as e:
            raise InputError("labels", f"the schema looks like JSON but does not parse: {e.msg}") from None
    if task != "ee":
        out = [x.strip() for x in text.replace("\n", ",").split(",") if x.strip()]
        if not out:
            raise InputError("labels", "no label found; separate labels with commas")
        return out
    events = {}
    for part in text.replace("\n", ";").split(";"):
        part = part.strip()
        if not part:
            continue
        head, _, roles = part.rpartition(":") if part.count(":") >= 2 else (part, "", "")
        events[head.strip()] = [r.strip() for r in roles.split(",") if r.strip()]
    return {"event_types": events}


def _duration(modality: str, path: Path) -> float | None:
    """The length in seconds from the file's header, or None when it cannot be read cheaply (decoding
    then reports the real problem)."""
    try:
        if modality == "audio":
            import soundfile

            return float(soundfile.info(str(path)).duration)
        import decord

        reader = decord.VideoReader(str(path))
        fps = float(reader.get_avg_fps())
        return len(reader) / fps if fps > 0 else None
    except Exception:  # noqa: BLE001 - a file the header reader rejects is judged by the real decoder
        return None


def check_request(req: DemoRequest, limits: DemoLimits) -> tuple[dict, object]:
    """The input dict and schema for `extract`, or InputError/MediaError with a message for a person."""
    from reamo.records.schemas import normalize_schema

    if req.task not in ("ner", "re", "ee"):
        raise InputError("task", f"unknown task {req.task!r}; choose NER, RE or EE")
    schema = normalize_schema(req.task, parse_labels(req.task, req.labels))
    item = {}
    text = (req.text or "").strip()
    if text:
        if len(text) > limits.max_text_chars:
            raise InputError("text", f"the text has {len(text)} characters; at most {limits.max_text_chars}")
        item["text"] = text
    for modality in ("image", "audio", "video"):
        src = getattr(req, modality)
        if not src:
            continue
        p = Path(src)
        name = f"{modality} {p.name!r}"
        if not p.is_file():
            raise MediaError(name, "the upload did not arrive; upload it again")
        if p.suffix.lower() not in FORMATS[modality]:
            allowed = ", ".join(sorted(x.lstrip(".").upper() for x in FORMATS[modality]))
            raise MediaError(name, f"unsupported {modality} format {p.suffix or '(no extension)'!r}; use {allowed}")
        if p.stat().st_size == 0:
            raise MediaError(name, f"the {modality} file is empty")
        if modality in ("audio", "video"):
            limit = limits.max_audio_seconds if modality == "audio" else limits.max_video_seconds
            d = _duration(modality, p)
            if d is not None and d > limit:
                raise MediaError(name, f"the {modality} is {d:.0f} s long; this demo takes at most {limit:.0f} s")
        item[modality] = str(p)
    if not item:
        raise InputError("input", "give some text or upload an image, audio or video")
    return item, schema


def _grounding_text(grounding: dict) -> str:
    parts = []
    for modality, g in grounding.items():
        if modality == "image" and g.get("box"):
            parts.append("image box [" + ", ".join(f"{v:.0f}" for v in g["box"]) + "]")
        elif modality == "audio":
            parts.append("audio " + (", ".join(f"{a:.2f}-{b:.2f} s" for a, b in g.get("spans", [])) or "(no span found)"))
        elif modality == "video":
            span = g.get("span")
            parts.append(f"video {span[0]:.2f}-{span[1]:.2f} s, {len(g.get('frames', []))} frames" if span
                         else "video")
        else:
            parts.append(modality)
    return "; ".join(parts)


def result_table(result) -> list[list[str]]:
    """One row per extracted item: kind, label, text, and where it is grounded."""
    rows = [["entity", e.type, e.text, _grounding_text(e.grounding)] for e in result.entities]
    for r in result.relations:
        ends = [(getattr(x, "text", str(x)), _grounding_text(getattr(x, "grounding", {}))) for x in (r.head, r.tail)]
        rows.append(["relation", r.type, f"{ends[0][0]} -> {ends[1][0]}",
                     "; ".join(f"{name}: {g}" for name, g in ends if g)])
    for ev in result.events:
        rows.append(["event", ev.type, ev.trigger.text, _grounding_text(ev.grounding)])
        rows += [["argument", f"{ev.type} / {a.role}", a.text, _grounding_text(a.grounding)] for a in ev.arguments]
    return rows


def _status(result) -> str:
    n = len(result.entities) + len(result.relations) + len(result.events)
    grounded = sum(1 for i in result.instructions if i.grounding)
    one, many = {"ner": ("entity", "entities"), "re": ("relation", "relations"), "ee": ("event", "events")}[result.task]
    lines = [f"**{n} {one if n == 1 else many}** extracted, {grounded} grounding"
             f"{'s' if grounded != 1 else ''} in the media."]
    if n == 0:
        lines.append("The model found nothing for these labels (see its raw answer).")
    lines += [f"- note: {w}" for w in result.warnings[:5]]
    return "\n".join(lines)


def enlarge(rgb: np.ndarray | None, min_side: int = 320) -> np.ndarray | None:
    """Small pictures (the quickstart's 96-pixel images) repeated by a whole factor so the page shows them at
    a readable size; pixel-exact (nearest neighbour), so masks keep their edges."""
    if rgb is None or min(rgb.shape[:2]) >= min_side:
        return rgb
    k = -(-min_side // min(rgb.shape[:2]))
    return np.repeat(np.repeat(rgb, k, axis=0), k, axis=1)


def _message(e: Exception, uploads: dict | None = None) -> str:
    """The page's message for a bad input. `uploads` (modality -> the server's path of the upload): each such
    path is written as the file's own name, the name the user gave it (Gradio keeps it as the last part), so that
    no server folder shows."""
    text = f"{e.input}: {e.problem}" if isinstance(e, (MediaError, InputError)) else str(e)
    for modality, path in sorted((uploads or {}).items(), key=lambda kv: -len(str(kv[1]))):
        name = Path(path).name
        text = text.replace(f"{path}: ", f"{modality} {name!r}: ", 1).replace(str(path), name)
    return f"**Cannot use this input.** {text}"


class DemoService:
    """Runs batches of requests on one model; one batch at a time (the model is not shared across threads)."""

    def __init__(self, reamo, limits: DemoLimits | None = None, workdir: str | Path | None = None,
                 model_name: str = "model", default_labels: str = "person, location, organization"):
        import tempfile

        self.reamo = reamo
        self.model_name, self.default_labels = model_name, default_labels
        self.limits = limits or DemoLimits()
        self.workdir = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="reamo-demo-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.batch_sizes: list[int] = []  # requests per call of run(), for the queue's batching
        self._lock = threading.Lock()

    def run(self, requests: list[DemoRequest]) -> list[DemoResponse]:
        with self._lock:
            self.batch_sizes.append(len(requests))
            try:
                return self._run(requests)
            except Exception as e:  # noqa: BLE001 - the page gets a message, the server keeps serving
                log.exception("demo batch failed")
                return [DemoResponse(False, f"**Something went wrong on the server** ({type(e).__name__}); "
                                            "the request was not answered. Try again.") for _ in requests]

    def _run(self, requests: list[DemoRequest]) -> list[DemoResponse]:
        out: list[DemoResponse | None] = [None] * len(requests)
        groups: dict[tuple, list[tuple[int, dict]]] = {}
        for i, req in enumerate(requests):
            try:
                item, schema = check_request(req, self.limits)
            except ReamoError as e:
                out[i] = DemoResponse(False, _message(e))
                continue
            groups.setdefault((req.task, json.dumps(schema, sort_keys=True)), []).append((i, item))
        for (task, schema_json), members in groups.items():
            results = self.reamo.extract([item for _, item in members], task=task, schema=json.loads(schema_json),
                                         max_new_tokens=self.limits.max_new_tokens, batch_size=len(members))
            for (i, item), result in zip(members, results):
                out[i] = self._response(result, {m: v for m, v in item.items() if m != "text"})
        return out

    def _response(self, result, uploads: dict) -> DemoResponse:
        if result.error is not None:
            return DemoResponse(False, _message(result.error, uploads), raw_answer=result.raw_output)
        path = self.workdir / f"reamo-{uuid.uuid4().hex[:12]}.json"
        path.write_text(result.to_json(indent=1))
        return DemoResponse(True, _status(result), result_table(result), enlarge(image_overlay(result)),
                            audio_picture(result), video_strip(result), result.raw_output, str(path))
