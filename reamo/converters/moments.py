"""Video moment retrieval: a query and the time windows (seconds) where it happens. Charades-STA
(`VID start end##sentence`), QVHighlights (JSONL: query, vid, duration, relevant_windows) and TACoS (JSON
{video: {timestamps [[start, end] frames], sentences, fps, num_frames}}; frames -> seconds by fps).

A moment record is an extraction of the query phrase (type "moment") grounded in the video by its first
window; all gold windows are kept in `extra["moment"]` for moment-retrieval scoring (R@1, mIoU). The videos
are not distributed with these annotations: records name them and mark them absent."""
from __future__ import annotations

from pathlib import Path

from reamo.converters.reading import json_lines, read_json, report
from reamo.records import Entity, Record

SCHEMA = {"entity_types": ["moment"]}


def moment_record(rid: str, query: str, video: str, windows: list, duration: float | None) -> Record:
    windows = [[round(float(a), 3), round(float(b), 3)] for a, b in windows]
    if not windows or any(b < a or a < 0 for a, b in windows):
        raise ValueError(f"bad windows {windows}")
    query = query.strip()
    ent = Entity(query, "moment", 0, len(query), {"video": {"span": windows[0], "frames": []}})
    rec = Record(rid, "ner", query, video=video, schema=dict(SCHEMA), entities=[ent])
    rec.extra["moment"] = {"windows": windows, "duration": duration}
    rec.extra["media_absent"] = ["video"]
    return rec


def convert_charades_sta(path: Path, errors: list | None = None) -> list[Record]:
    out = []
    for lineno, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            head, sentence = line.split("##", 1)
            vid, a, b = head.split()
            out.append(moment_record(f"charades-{vid}-{lineno - 1:05d}", sentence, f"videos/{vid}.mp4",
                                     [[a, b]], None))
        except ValueError as e:
            report(errors, path, lineno, f"expected 'VID start end##sentence': {e}")
    return out


def convert_qvhighlights(path: Path, errors: list | None = None) -> list[Record]:
    out = []
    for lineno, d in json_lines(path, errors):
        try:
            out.append(moment_record(f"qvh-{d['qid']}", d["query"], f"videos/{d['vid']}.mp4",
                                     d["relevant_windows"], float(d["duration"])))
        except (KeyError, TypeError, ValueError) as e:
            report(errors, path, lineno, f"{type(e).__name__}: {e}")
    return out


def convert_tacos(path: Path, errors: list | None = None) -> list[Record]:
    data = read_json(path, errors)
    if data is None:
        return []
    out = []
    for vid, d in data.items():
        try:
            fps, n = float(d["fps"]), d.get("num_frames")
            if fps <= 0 or len(d["timestamps"]) != len(d["sentences"]):
                raise ValueError("fps must be positive and timestamps match sentences one to one")
            for k, ((a, b), sentence) in enumerate(zip(d["timestamps"], d["sentences"])):
                out.append(moment_record(f"tacos-{Path(vid).stem}-{k:04d}", sentence, f"videos/{vid}",
                                         [[a / fps, b / fps]], n / fps if n else None))
        except (KeyError, TypeError, ValueError) as e:
            report(errors, path, None, f"video {vid}: {type(e).__name__}: {e}")
    return out
