"""M2E2 multimedia event extraction: text events (ACE schema) over sentences, image events with role boxes,
cross-media links. Images are not distributed with the annotations: records name them and mark them absent."""
from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

from reamo.converters.reading import report
from reamo.converters.tokens import offsets, span_entity
from reamo.records import Argument, Event, Record, Span


def convert_m2e2(path: Path, errors: list | None = None) -> list[Record]:
    """`path`: the M2E2 folder. Text events (ACE schema) become EE records over the sentence; image events
    (role boxes) are attached to the sentences they are linked to in crossmedia_coref.txt, else become
    image-only EE records."""
    folder = path if path.is_dir() else path.parent
    try:
        sents = json.loads((folder / "text_multimedia_event.json").read_text())
    except (OSError, json.JSONDecodeError) as e:
        report(errors, folder / "text_multimedia_event.json", getattr(e, "lineno", None), str(e))
        return []
    images = {}
    for name in ("image_multimedia_event.json", "image_only_event.json"):
        f = folder / name
        if f.is_file():
            images.update(json.loads(f.read_text()))
    links = defaultdict(list)
    coref = folder / "crossmedia_coref.txt"
    if coref.is_file():
        for line in coref.read_text().splitlines():
            parts = line.split("\t")
            if len(parts) == 3:
                links[parts[0]].append((parts[1], parts[2]))
    types: dict[str, set] = defaultdict(set)
    out, used_images = [], set()

    def image_event(img_id: str, key: str) -> Event | None:
        ev = images.get(key)
        if not ev:
            return None
        args = []
        for role, boxes in ev.get("role", {}).items():
            for b in boxes:
                x1, y1, x2, y2 = (float(v) for v in b[1:5])
                args.append(Argument(role, role.lower(), grounding={"image": {"box": [x1, y1, x2, y2]}}))
                types[ev["event_type"]].add(role)
        return Event(ev["event_type"], Span(ev["event_type"].split(":")[-1].lower()), args)

    for s in sents:
        toks = s["words"]
        text, starts = offsets(toks)
        events = []
        for ev in s.get("golden-event-mentions", []):
            tr = ev["trigger"]
            trig = span_entity(toks, starts, tr["start"], tr["end"], "")
            args = []
            for a in ev.get("arguments", []):
                ent = span_entity(toks, starts, a["start"], a["end"], "")
                args.append(Argument(a["role"], ent.text, ent.start, ent.end))
                types[ev["event_type"]].add(a["role"])
            events.append(Event(ev["event_type"], Span(trig.text, trig.start, trig.end), args))
        rec = Record(f"m2e2-{s['sentence_id']}", "ee", text, events=events)
        linked = links.get(s["sentence_id"], [])
        if linked:
            img, _ = linked[0]
            rec.image = f"images/{img}"
            rec.extra["media_absent"] = ["image"]
            rec.extra["crossmedia_links"] = [{"image": i, "event_type": t} for i, t in linked]
            ie = image_event(img, img.rsplit(".", 1)[0])
            if ie is not None:
                used_images.add(img.rsplit(".", 1)[0])
                rec.extra["image_event"] = ie.to_dict()  # the linked image's event with its role boxes
        out.append(rec)
    for key in sorted(k for k in images if k not in used_images):
        ie = image_event(key, key)
        rec = Record(f"m2e2-img-{key}", "ee", None, image=f"images/{key}.jpg", events=[ie])
        rec.extra["media_absent"] = ["image"]
        out.append(rec)
    schema = {"event_types": {t: sorted(r) for t, r in sorted(types.items())}}
    for r in out:
        r.schema = schema
    return out
