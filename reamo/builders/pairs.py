"""Phase 2 (multimodal alignment): media-caption pairs as img2dataset and video2dataset write them (webdataset tar
shards; per sample KEY.jpg / .png / .webp or KEY.mp4 / .webm, KEY.txt with the caption, KEY.json with url, status
and sizes), and AudioCaps (its CSV of audiocap_id, youtube_id, start_time, caption and a folder of the downloaded
clips). Each pair becomes a record whose medium is the pair's and whose `caption` the alignment phase learns."""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Iterator

from reamo.converters.reading import report
from reamo.records import Record
from reamo.records.shards import Sample, iter_tar, shard_urls

IMAGE_EXT = ("jpg", "jpeg", "png", "webp")
VIDEO_EXT = ("mp4", "webm", "mkv", "avi")
AUDIO_EXT = ("wav", "flac", "mp3", "ogg", "m4a")


def _check_image(data: bytes) -> None:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        im.verify()


def caption_pairs(spec, errors: list | None = None) -> Iterator[Sample]:
    """img2dataset / video2dataset shards (a folder, a brace pattern or fsspec URLs) -> alignment samples. A sample
    without a caption or a medium, or whose image does not decode, or that img2dataset marked failed, is reported
    (shard and key) and skipped."""
    for url in shard_urls(spec):
        for key, group in iter_tar(url):
            meta = {}
            try:
                if "json" in group:
                    meta = json.loads(group["json"])
                if meta.get("status", "success") != "success":
                    raise ValueError(f"status {meta.get('status')!r}: {meta.get('error_message')}")
                caption = group["txt"].decode("utf-8").strip() if "txt" in group else str(meta.get("caption") or "")
                if not caption:
                    raise ValueError("no caption (.txt or json caption)")
                image = next((e for e in IMAGE_EXT if e in group), None)
                video = next((e for e in VIDEO_EXT if e in group), None)
                if image is None and video is None:
                    raise ValueError(f"no image ({', '.join(IMAGE_EXT)}) or video ({', '.join(VIDEO_EXT)}) member")
                if image is not None and video is None:
                    _check_image(group[image])
            except (ValueError, OSError, UnicodeDecodeError) as e:
                report(errors, url, None, f"sample {key}: {e}")
                continue
            mod, ext = ("video", video) if video else ("image", image)
            extra = {"caption": caption, "source_key": key, **({"url": meta["url"]} if meta.get("url") else {})}
            rec = Record(f"{Path(url).stem}/{key}", "ner", schema={}, extra=extra)
            yield Sample(rec, {mod: (ext, group[ext])})


AUDIOCAPS_NAMES = ("{youtube_id}_{start_time}", "Y{youtube_id}", "{youtube_id}", "{audiocap_id}",
                   "Y{youtube_id}_{start_time}")


def audiocaps(csv_path: str | Path, clips: str | Path, errors: list | None = None,
              names: tuple[str, ...] = AUDIOCAPS_NAMES) -> Iterator[Sample]:
    """AudioCaps captions -> alignment samples. Clips are found in `clips` under the names downloaders give them
    (`names`, each tried with wav, flac, mp3, ogg, m4a); a row whose clip is absent (YouTube videos vanish) or whose
    fields are malformed is reported with its line and skipped."""
    csv_path, clips = Path(csv_path), Path(clips)
    present = {p.name: p for p in clips.rglob("*") if p.is_file()} if clips.is_dir() else {}
    with csv_path.open(newline="", encoding="utf-8") as f:
        rows = csv.DictReader(f)
        need = {"youtube_id", "start_time", "caption"}
        if not need <= set(rows.fieldnames or []):
            report(errors, csv_path, 1, f"header must name {', '.join(sorted(need))}; got {rows.fieldnames}")
            return
        for row in rows:
            line = rows.line_num
            try:
                start = int(float(row["start_time"]))
                caption = (row["caption"] or "").strip()
                if not row["youtube_id"] or not caption:
                    raise ValueError("empty youtube_id or caption")
            except (TypeError, ValueError) as e:
                report(errors, csv_path, line, f"bad row: {e}")
                continue
            fields = {"youtube_id": row["youtube_id"], "start_time": start, "audiocap_id": row.get("audiocap_id", "")}
            clip = next((present[n] for pattern in names for ext in AUDIO_EXT
                         if (n := f"{pattern.format(**fields)}.{ext}") in present), None)
            if clip is None:
                report(errors, csv_path, line, f"no clip for {row['youtube_id']} at {start} s in {clips}")
                continue
            rec = Record(f"audiocaps/{row.get('audiocap_id') or row['youtube_id']}", "ner", schema={},
                         extra={"caption": caption, "youtube_id": row["youtube_id"], "start_time": start})
            yield Sample(rec, {"audio": (clip.suffix.lstrip("."), clip)})
