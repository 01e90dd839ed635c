"""Phase 3 (grounding-aware tuning) from referring-expression sets: RefCOCO / RefCOCO+ / RefCOCOg (the refs as JSON
or JSON lines — the refer toolkit's `refs(unc).p` dumped to JSON, never the pickle itself — with COCO's instances
JSON for the masks, polygons or RLE) for image regions, and Ref-YouTube-VOS (meta_expressions.json, the
per-frame palette PNGs of Annotations/ and the JPEG frames, meta.json for categories) and TAO (its annotations JSON
and frames; boxes, no masks) for video tracks.

One record per image or video: every referring sentence becomes an entity whose type is its object's category
and whose grounding is the object's mask and box (image) or its per-frame masks and time span (video). The same
records serve phase 3 (the grounding phase asks for each phrase's region) and phase 4's composition."""
from __future__ import annotations

import io
import json
from collections import defaultdict
from pathlib import Path
from typing import Iterator

import numpy as np

from reamo.converters.reading import json_lines, read_json, report
from reamo.records import Entity, Record
from reamo.records.masks import mask_to_box, rle_decode, rle_encode
from reamo.records.shards import Sample


def _refs(path: Path, errors) -> list[tuple[int | None, dict]]:
    if path.suffix in (".p", ".pkl", ".pickle"):
        report(errors, path, None, "pickled refs are refused (they can run code); dump them to JSON first")
        return []
    if path.suffix == ".jsonl":
        return list(json_lines(path, errors))
    if path.suffix == ".parquet":  # one ref a row, as the Hugging Face copies write them (e.g. jxu124/refcoco)
        import pyarrow.parquet as pq

        try:
            rows = pq.read_table(path).to_pylist()
        except (OSError, ValueError) as e:  # pyarrow's ArrowInvalid is a ValueError
            report(errors, path, None, f"not a readable parquet file: {e}")
            return []
        return [(i + 1, r) for i, r in enumerate(rows)]
    data = read_json(path, errors)
    if data is None:
        return []
    if isinstance(data, dict):  # {"refs": [...]} as some dumps write it
        data = data.get("refs", [])
    return [(None, r) for r in data]


def coco_mask(seg, h: int, w: int) -> np.ndarray:
    """A COCO segmentation (polygons, uncompressed or compressed RLE) -> HxW bool mask."""
    from pycocotools import mask as cm

    if isinstance(seg, list):
        if not seg or not all(isinstance(p, list) and len(p) >= 6 for p in seg):
            raise ValueError("polygons need at least 3 points each")
        return cm.decode(cm.merge(cm.frPyObjects(seg, h, w))).astype(bool)
    if isinstance(seg, dict) and isinstance(seg.get("counts"), list):
        return cm.decode(cm.frPyObjects(seg, h, w)).astype(bool)
    if isinstance(seg, dict) and isinstance(seg.get("counts"), str):
        return rle_decode(seg)
    raise ValueError(f"segmentation is neither polygons nor RLE: {str(seg)[:60]}")


def refcoco(refs_path: str | Path, instances_path: str | Path, images: str | Path, split: str = "train",
            errors: list | None = None) -> Iterator[Sample]:
    """RefCOCO-style refs of one split (the split of the refs, e.g. train; val / testA / testB are evaluation
    sets and are left out) -> one grounding sample per image. A ref whose annotation or image is missing, or whose
    mask is malformed, is reported (file and line, or ref id) and skipped; the image's other refs are kept."""
    refs_path, instances_path, images = Path(refs_path), Path(instances_path), Path(images)
    inst = read_json(instances_path, errors)
    if inst is None:
        return
    imgs = {i["id"]: i for i in inst.get("images", [])}
    anns = {a["id"]: a for a in inst.get("annotations", [])}
    cats = {c["id"]: c["name"] for c in inst.get("categories", [])}
    by_image: dict[int, list[tuple[int | None, dict]]] = defaultdict(list)
    for line, ref in _refs(refs_path, errors):
        if not isinstance(ref, dict) or ref.get("ann_id") is None or ref.get("image_id") is None:
            report(errors, refs_path, line, f"a ref needs ann_id and image_id: {str(ref)[:80]}")
            continue
        if ref.get("split", split) == split:
            by_image[ref["image_id"]].append((line, ref))
    for image_id in sorted(by_image):
        info = imgs.get(image_id)
        path = images / info["file_name"] if info else None
        if path is None or not path.is_file():
            for line, ref in by_image[image_id]:
                report(errors, refs_path, line, f"ref {ref.get('ref_id')}: image {image_id} not found "
                                                f"({'not in the instances file' if info is None else path})")
            continue
        h, w = int(info["height"]), int(info["width"])
        entities = []
        for line, ref in by_image[image_id]:
            try:
                ann = anns.get(ref["ann_id"])
                if ann is None:
                    raise ValueError(f"annotation {ref['ann_id']} not in the instances file")
                mask = coco_mask(ann["segmentation"], h, w)
                if not mask.any():
                    raise ValueError("empty mask")
                g = {"image": {"box": mask_to_box(mask), "mask_rle": rle_encode(mask)}}
                typ = cats.get(ann.get("category_id", ref.get("category_id")), "object")
                sents = [s.get("sent") or s.get("raw") for s in ref.get("sentences", [])]
                if not any(sents):
                    raise ValueError("no sentence")
            except (ValueError, KeyError, TypeError) as e:
                report(errors, refs_path, line, f"ref {ref.get('ref_id')}: {e}")
                continue
            entities += [Entity(s.strip(), typ, grounding=g) for s in sents if s and s.strip()]
        if entities:
            rec = Record(f"refcoco/{image_id}", "ner", schema={"entity_types": sorted({e.type for e in entities})},
                         entities=entities, extra={"source": "refcoco", "split": split})
            yield Sample(rec, {"image": (path.suffix.lstrip("."), path)})


def encode_mp4(frames: list[np.ndarray], fps: float) -> bytes:
    """RGB frames (HxWx3 uint8, even sizes) -> an MPEG-4 video in memory."""
    import av

    buf = io.BytesIO()
    h, w = frames[0].shape[:2]
    with av.open(buf, "w", format="mp4") as out:
        st = out.add_stream("mpeg4", rate=int(round(fps)))
        st.width, st.height, st.pix_fmt, st.bit_rate = w - w % 2, h - h % 2, "yuv420p", 4_000_000
        for f in frames:
            for pkt in st.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(f[: h - h % 2, : w - w % 2]),
                                                            format="rgb24")):
                out.mux(pkt)
        for pkt in st.encode():
            out.mux(pkt)
    return buf.getvalue()


def _video_frames(files: list[Path], what: str, source: Path, errors) -> list[np.ndarray] | None:
    """A video's frames (RGB arrays) from its frame files, or None when there are none or some are absent
    (reported against `source`)."""
    from PIL import Image

    missing = [p for p in files if not p.is_file()]
    if not files or missing:
        report(errors, source, None, f"{what}: {len(missing)} of {len(files)} frames missing "
                                     f"({missing[0] if missing else 'no frames listed'})")
        return None
    return [np.asarray(Image.open(p).convert("RGB")) for p in files]


def ref_youtube_vos(root: str | Path, meta_expressions: str | Path | None = None, fps: float = 6.0,
                    errors: list | None = None) -> Iterator[Sample]:
    """Ref-YouTube-VOS train (root/JPEGImages/VID/*.jpg, root/Annotations/VID/*.png, root/meta.json) with its
    meta_expressions.json -> one video sample per video (frames encoded as MPEG-4 at `fps`: the dataset keeps every
    fifth frame of 30 fps video), one entity per expression with the object's per-frame masks. A video whose frames
    are missing, or an expression whose object never shows, is reported and skipped."""
    from PIL import Image

    root = Path(root)
    meta_path = Path(meta_expressions) if meta_expressions else root / "meta_expressions.json"
    meta = read_json(meta_path, errors)
    if meta is None:
        return
    cats = {}
    if (root / "meta.json").is_file():
        for vid, v in (read_json(root / "meta.json", errors) or {}).get("videos", {}).items():
            cats[vid] = {k: o.get("category", "object") for k, o in v.get("objects", {}).items()}
    for vid, v in sorted(meta.get("videos", {}).items()):
        names = sorted(v.get("frames", []))
        frames = _video_frames([root / "JPEGImages" / vid / f"{n}.jpg" for n in names], f"video {vid}", meta_path,
                               errors)
        if frames is None:
            continue
        labels = []
        for n in names:
            png = root / "Annotations" / vid / f"{n}.png"
            labels.append(np.asarray(Image.open(png)) if png.is_file() else None)
        entities = []
        for eid, exp in sorted(v.get("expressions", {}).items(), key=lambda kv: int(kv[0]) if kv[0].isdigit() else 0):
            obj = str(exp.get("obj_id"))
            track = []
            for k, lab in enumerate(labels):
                if lab is None:
                    continue
                m = lab == int(obj)
                if m.any():
                    track.append({"t": round(k / fps, 4), "box": mask_to_box(m), "mask_rle": rle_encode(m)})
            text = (exp.get("exp") or "").strip()
            if not track or not text:
                report(errors, meta_path, None, f"video {vid} expression {eid}: "
                                                f"{'object ' + obj + ' has no mask' if not track else 'empty expression'}")
                continue
            span = [track[0]["t"], round(track[-1]["t"] + 1 / fps, 4)]
            entities.append(Entity(text, cats.get(vid, {}).get(obj, "object"),
                                   grounding={"video": {"span": span, "frames": track}}))
        if entities:
            rec = Record(f"ref-youtube-vos/{vid}", "ner", schema={"entity_types": sorted({e.type for e in entities})},
                         entities=entities, extra={"source": "ref-youtube-vos", "fps": fps})
            yield Sample(rec, {"video": ("mp4", encode_mp4(frames, fps))})


ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth")


def _track_phrases(tracks: list[tuple[str, float]]) -> list[str]:
    """A phrase per track from its category and where it first shows (x of its box centre): "the dog" when the
    category is alone in the video, else "the dog on the left" / "on the right", or "the third dog from the left"."""
    out = []
    for cat, x in tracks:
        same = sorted(xx for c, xx in tracks if c == cat)
        if len(same) == 1:
            out.append(f"the {cat}")
        elif len(same) == 2:
            out.append(f"the {cat} on the {'left' if x == same[0] else 'right'}")
        else:
            k = same.index(x)
            out.append(f"the {ORDINALS[k] if k < len(ORDINALS) else f'{k + 1}th'} {cat} from the left")
    return out


def tao_tracks(annotations: str | Path, frames: str | Path, fps: float = 1.0,
               errors: list | None = None) -> Iterator[Sample]:
    """TAO (annotations JSON in its published schema: videos, images with video_id and frame_index, tracks,
    annotations with track_id and an [x, y, w, h] box, categories) with its frames folder -> one video sample per
    video: its annotated frames (TAO annotates one frame a second) encoded as MPEG-4 at `fps`, one entity per track,
    typed by its category and named by a phrase from the category and where it first shows (_track_phrases). TAO
    gives boxes, not masks: each frame's mask is the box's rectangle (record.extra["masks"] = "box"). Categories
    merged by the annotations ("merged") take the merging category, as TAO's toolkit does. A video with missing
    frames, or a box that is empty or outside the frame, is reported; the video's other tracks are kept."""
    path, frames = Path(annotations), Path(frames)
    data = read_json(path, errors)
    if data is None:
        return
    merged = {m["id"]: c["id"] for c in data.get("categories", []) for m in c.get("merged", [])}
    cats = {c["id"]: c["name"] for c in data.get("categories", [])}
    tracks = {t["id"]: t for t in data.get("tracks", [])}
    video_tracks: dict[int, list[int]] = defaultdict(list)
    for tid in sorted(tracks):
        video_tracks[tracks[tid]["video_id"]].append(tid)
    images: dict[int, list[dict]] = defaultdict(list)
    for im in data.get("images", []):
        images[im["video_id"]].append(im)
    by_track: dict[int, list[dict]] = defaultdict(list)
    for a in data.get("annotations", []):
        if a.get("track_id") not in tracks:
            report(errors, path, None, f"annotation {a.get('id')}: track {a.get('track_id')} not in the tracks")
            continue
        by_track[a["track_id"]].append(a)
    for video in sorted(data.get("videos", []), key=lambda v: v["id"]):
        ims = sorted(images.get(video["id"], []), key=lambda im: im["frame_index"])
        pixels = _video_frames([frames / im["file_name"] for im in ims], f"video {video.get('name', video['id'])}",
                               path, errors)
        if pixels is None:
            continue
        h, w = pixels[0].shape[:2]
        h, w = h - h % 2, w - w % 2  # as encoded
        index = {im["id"]: k for k, im in enumerate(ims)}
        found = []
        for tid in video_tracks[video["id"]]:
            cat = cats.get(merged.get(tracks[tid]["category_id"], tracks[tid]["category_id"]), "object")
            track = []
            for a in sorted(by_track.get(tid, []), key=lambda a: index.get(a["image_id"], -1)):
                if a["image_id"] not in index:
                    continue
                x, y, bw, bh = (float(v) for v in a["bbox"])
                x0, y0 = max(0, int(x)), max(0, int(y))
                x1, y1 = min(w, int(np.ceil(x + bw))), min(h, int(np.ceil(y + bh)))
                if x1 <= x0 or y1 <= y0:
                    report(errors, path, None, f"annotation {a.get('id')} of track {tid}: box {a['bbox']} is empty "
                                               f"or outside the {w}x{h} frame")
                    continue
                m = np.zeros((h, w), bool)
                m[y0:y1, x0:x1] = True
                track.append({"t": round(index[a["image_id"]] / fps, 4), "box": mask_to_box(m),
                              "mask_rle": rle_encode(m)})
            if track:
                found.append((cat, track))
        if not found:
            continue
        phrases = _track_phrases([(c, (tr[0]["box"][0] + tr[0]["box"][2]) / 2) for c, tr in found])
        entities = [Entity(p, c, grounding={"video": {"span": [tr[0]["t"], round(tr[-1]["t"] + 1 / fps, 4)],
                                                      "frames": tr}})
                    for p, (c, tr) in zip(phrases, found)]
        rec = Record(f"tao/{video.get('name', video['id'])}", "ner",
                     schema={"entity_types": sorted({c for c, _ in found})}, entities=entities,
                     extra={"source": "tao", "fps": fps, "masks": "box"})
        yield Sample(rec, {"video": ("mp4", encode_mp4(pixels, fps))})
