"""Video tracks in the MOTChallenge formats, a set of files per result:
  <id>.mot.txt     per-frame boxes, `frame,track,left,top,width,height,score,-1,-1,-1` (MOT15-2D, pixels
                   counted from 1 as MOTChallenge does: what motmetrics and TrackEval read)
  <id>.mots.txt    per-frame masks, `frame object class height width rle` with COCO compressed RLE (MOTS;
                   object = class * 1000 + track)
  <id>.tracks.json track -> the item: its label, words, kind, class and time span
Frames are numbered from 1 at the video's frame rate (frame = round(t * fps) + 1): the rate the video grounding
records (`fps`), else that of the video the result loaded, else the `fps` option."""
from __future__ import annotations

import json
from pathlib import Path

from reamo.errors import ExportError
from reamo.export.coco import coco_bbox
from reamo.export.items import ExportItem, frame_number, frame_rate, grounded, unique_path


def write_mot(items: list[ExportItem], out_dir: Path, skipped: list[ExportError], fps: float | None = None) -> list[Path]:
    files: list[Path] = []
    out_dir.mkdir(parents=True, exist_ok=True)
    for it in items:
        rec = it.record
        tracks = list(grounded(rec, "video"))
        if not tracks:
            continue
        rate = frame_rate(tracks[0], it, fps)
        if rate is None:
            skipped.append(ExportError(rec.id, "MOT frame numbers need the video's frame rate: the result "
                                       "has none (its video grounding's `fps`); give fps (`--fps`)"))
            continue
        classes: dict[str, int] = {}
        mot, mots, info = [], [], {}
        try:
            for n, g in enumerate(tracks, 1):
                cls = classes.setdefault(g.label, len(classes) + 1)
                info[n] = {"label": g.label, "text": g.text, "kind": g.kind, "class": cls, "object": cls * 1000 + n,
                           "span": g.grounding.get("span")}
                for f in g.grounding.get("frames") or []:
                    frame = frame_number(f["t"], rate)
                    score = float(f.get("score", 1.0))
                    if f.get("box"):
                        x, y, w, h = coco_bbox(f["box"])
                        mot.append((frame, n, f"{frame},{n},{x + 1},{y + 1},{w},{h},{score:.4f},-1,-1,-1"))
                    rle = f["mask_rle"]
                    hh, ww = (int(v) for v in rle["size"])
                    mots.append((frame, n, f"{frame} {cls * 1000 + n} {cls} {hh} {ww} {rle['counts']}"))
        except (KeyError, TypeError, ValueError) as e:
            skipped.append(ExportError(rec.id, f"malformed video grounding ({type(e).__name__}: {e})"))
            continue
        for suffix, rows in ((".mot.txt", mot), (".mots.txt", mots)):
            path = unique_path(out_dir, rec.id, suffix, files)
            path.write_text("".join(line + "\n" for *_, line in sorted(rows)))
            files.append(path)
        path = unique_path(out_dir, rec.id, ".tracks.json", files)
        path.write_text(json.dumps({"id": rec.id, "video": rec.video, "fps": rate, "tracks": info}, ensure_ascii=False, indent=1))
        files.append(path)
    return files
