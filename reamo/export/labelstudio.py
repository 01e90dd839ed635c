"""The whole extraction as Label Studio predictions, for pre-annotation: a labelling project per combination
of media (Label Studio gives a project one labelling config), each a folder with
  config.xml  the labelling config (text spans and relations; image brush masks and boxes; audio regions;
              video tracks) with the labels the results use
  tasks.json  one task per result: `data` (text, and the media paths as the results name them: serve them
              to Label Studio, e.g. by local-files storage) and one prediction whose `result` holds the regions
Entities, triggers (labelled with the event type) and arguments (with their role) become text spans;
relations, and trigger -> argument links labelled with the role, become Label Studio relations. Masks are
written in Label Studio's brush RLE (the SDK's encoder)."""
from __future__ import annotations

import json
from pathlib import Path
from xml.sax.saxutils import quoteattr

from reamo.errors import ExportError
from reamo.export.items import ExportItem, entity_label, frame_number, frame_rate, grounded, percent_box
from reamo.records.masks import rle_decode

MODEL_VERSION = "reamo"


class _Regions:
    """Builds one prediction's result list; region ids are r1, r2, ... in order of creation."""

    def __init__(self, rec):
        self.rec, self.out, self.labels = rec, [], {"text": set(), "relation": set(), "image": set(),
                                                    "audio": set(), "video": set()}
        self._span_ids: dict[tuple, str] = {}
        self._cursor = 0

    def _id(self) -> str:
        return f"r{len(self.out) + 1}"

    def span(self, text: str, label: str, start: int | None, end: int | None) -> str | None:
        """A text span region (one per (start, end, label)); None when the words are not in the text."""
        body = self.rec.text or ""
        if start is None or end is None or body[start:end] != text:
            at = body.find(text) if text else -1
            if at < 0:
                return None
            start, end = at, at + len(text)
        key = (start, end, label)
        if key not in self._span_ids:
            self._span_ids[key] = self._id()
            self.labels["text"].add(label)
            self.out.append({"id": self._span_ids[key], "from_name": "label", "to_name": "text", "type": "labels",
                             "value": {"start": start, "end": end, "text": body[start:end], "labels": [label]}})
        return self._span_ids[key]

    def relation(self, a: str | None, b: str | None, label: str) -> None:
        if a and b:
            self.labels["relation"].add(label)
            self.out.append({"type": "relation", "from_id": a, "to_id": b, "direction": "right", "labels": [label]})

    def image(self, g, mask2rle) -> None:
        m = rle_decode(g.grounding["mask_rle"])
        h, w = m.shape
        self.labels["image"].add(g.label)
        common = {"to_name": "image", "original_width": w, "original_height": h, "image_rotation": 0}
        score = float(g.grounding.get("score", 1.0))
        self.out.append({"id": self._id(), "from_name": "mask", "type": "brushlabels", **common, "score": score,
                         "value": {"format": "rle", "rle": [int(v) for v in mask2rle(m.astype("uint8") * 255)],
                                   "brushlabels": [g.label]}})
        if g.grounding.get("box"):
            self.out.append({"id": self._id(), "from_name": "box", "type": "rectanglelabels", **common, "score": score,
                             "value": {**percent_box(g.grounding["box"], w, h), "rotation": 0,
                                       "rectanglelabels": [g.label]}})

    def audio(self, g) -> None:
        self.labels["audio"].add(g.label)
        for a, b in g.grounding.get("spans") or []:
            self.out.append({"id": self._id(), "from_name": "audio_label", "to_name": "audio", "type": "labels",
                             "value": {"start": float(a), "end": float(b), "channel": 0, "labels": [g.label]}})

    def video(self, g, fps: float | None) -> None:
        seq = []
        for f in g.grounding.get("frames") or []:
            if not f.get("box"):
                continue
            h, w = (int(v) for v in f["mask_rle"]["size"])
            t = float(f["t"])
            seq.append({"frame": frame_number(t, fps) if fps else None, "time": t, "enabled": True, "rotation": 0,
                        **percent_box(f["box"], w, h)})
        if not seq:
            return
        if fps is None:
            raise ExportError(self.rec.id, "Label Studio video frames need the video's frame rate: the "
                              "result has none (its video grounding's `fps`); give fps (`--fps`)")
        self.labels["video"].add(g.label)
        duration = float(g.grounding.get("duration") or seq[-1]["time"])
        self.out.append({"id": self._id(), "from_name": "track", "to_name": "video", "type": "videorectangle",
                         "value": {"sequence": seq, "labels": [g.label], "duration": duration,
                                   "framesCount": max(int(round(duration * fps)), seq[-1]["frame"])}})


def prediction(item: ExportItem, fps: float | None = None, mask2rle=None) -> tuple[dict, dict[str, set]]:
    """One result -> (its Label Studio task with one prediction, the labels it uses per control)."""
    rec = item.record
    r = _Regions(rec)
    if rec.text:
        ids = [r.span(e.text, entity_label(e), e.start, e.end) for e in rec.entities]

        def end(v):  # a relation's argument: an entity index, or an Entity of its own
            if isinstance(v, int):
                return ids[v] if 0 <= v < len(ids) else None
            return r.span(v.text, entity_label(v), v.start, v.end)

        for rel in rec.relations:
            r.relation(end(rel.head), end(rel.tail), rel.type)
        for ev in rec.events:
            trig = r.span(ev.trigger.text, ev.type, ev.trigger.start, ev.trigger.end)
            for a in ev.arguments:
                r.relation(trig, r.span(a.text, a.role, a.start, a.end), a.role)
    for g in grounded(rec):
        try:
            if g.modality == "image":
                r.image(g, mask2rle)
            elif g.modality == "audio":
                r.audio(g)
            elif g.modality == "video":
                r.video(g, frame_rate(g, item, fps))
        except (KeyError, TypeError, ValueError) as e:
            if isinstance(e, ExportError):
                raise
            raise ExportError(rec.id, f"malformed {g.modality} grounding of {g.text!r} ({type(e).__name__}: {e})") from None
    data = {"reamo_id": rec.id}
    for m in ("text", "image", "audio", "video"):
        if getattr(rec, m):
            data[m] = getattr(rec, m)
    scores = [x["score"] for x in r.out if "score" in x]
    pred = {"model_version": MODEL_VERSION, "result": r.out}
    if scores:
        pred["score"] = sum(scores) / len(scores)
    return {"data": data, "predictions": [pred]}, r.labels


def _labels(tag: str, name: str, to: str, values: set) -> str:
    inner = "".join(f"<Label value={quoteattr(v)}/>" for v in sorted(values))
    return f'  <{tag} name="{name}" toName="{to}">{inner}</{tag}>'


def labelling_config(modalities: tuple[str, ...], labels: dict[str, set]) -> str:
    """The labelling config (XML) for tasks holding `modalities` and regions using `labels`."""
    rows = ["<View>"]
    if "text" in modalities:
        rows += ['  <Text name="text" value="$text"/>', _labels("Labels", "label", "text", labels["text"] or {"item"}),
                 "  <Relations>" + "".join(f"<Relation value={quoteattr(v)}/>" for v in sorted(labels["relation"]))
                 + "</Relations>"]
    if "image" in modalities:
        rows += ['  <Image name="image" value="$image"/>', _labels("BrushLabels", "mask", "image", labels["image"] or {"item"}),
                 _labels("RectangleLabels", "box", "image", labels["image"] or {"item"})]
    if "audio" in modalities:
        rows += ['  <Audio name="audio" value="$audio"/>', _labels("Labels", "audio_label", "audio", labels["audio"] or {"item"})]
    if "video" in modalities:
        rows += ['  <Video name="video" value="$video"/>', _labels("Labels", "video_label", "video", labels["video"] or {"item"}),
                 '  <VideoRectangle name="track" toName="video"/>']
    return "\n".join(rows + ["</View>"]) + "\n"


def _mask2rle():
    try:
        from label_studio_sdk.converter.brush import mask2rle
    except ImportError:
        raise ExportError("labelstudio", "Label Studio's brush masks need its SDK: pip install label-studio-sdk") from None
    return mask2rle


def write_labelstudio(items: list[ExportItem], out_dir: Path, skipped: list[ExportError], fps: float | None = None) -> list[Path]:
    groups: dict[tuple, list] = {}
    mask2rle = None
    for it in items:
        rec = it.record
        if mask2rle is None and any(True for _ in grounded(rec, "image")):
            mask2rle = _mask2rle()
        try:
            task, labels = prediction(it, fps, mask2rle)
        except ExportError as e:
            skipped.append(e)
            continue
        combo = tuple(m for m in ("text", "image", "audio", "video") if getattr(rec, m))
        groups.setdefault(combo, []).append((task, labels))
    files = []
    for combo, tasks in groups.items():
        folder = out_dir / "labelstudio" / ("+".join(combo) or "empty")
        folder.mkdir(parents=True, exist_ok=True)
        merged = {k: set().union(*(lab[k] for _, lab in tasks)) for k in tasks[0][1]}
        (folder / "config.xml").write_text(labelling_config(combo, merged))
        (folder / "tasks.json").write_text(json.dumps([t for t, _ in tasks], ensure_ascii=False, indent=1))
        files += [folder / "config.xml", folder / "tasks.json"]
    return files
