"""One function per public format: `convert_NAME(in_path) -> list[Record]`; `convert(name, in, out)`."""
from __future__ import annotations

import ast
import json
from collections import defaultdict
from pathlib import Path

from reamo.errors import InputError
from reamo.records import Argument, Entity, Event, Record, Relation, Span, write_jsonl

CONLL03_TYPES = {"PER": "person", "LOC": "location", "ORG": "organization", "MISC": "miscellaneous",
                 "OTHER": "miscellaneous"}
CONLL04_TYPES = {"Peop": "person", "Loc": "location", "Org": "organization", "Other": "other"}


def _offsets(tokens: list[str]) -> tuple[str, list[int]]:
    starts, pos = [], 0
    for t in tokens:
        starts.append(pos)
        pos += len(t) + 1
    return " ".join(tokens), starts


def _entity(tokens, starts, a: int, b: int, typ: str) -> Entity:
    s, e = starts[a], starts[b - 1] + len(tokens[b - 1])
    return Entity(" ".join(tokens[a:b]), typ, s, e)


def bio_spans(tags: list[str]) -> list[tuple[int, int, str]]:
    """(start, end, type) token spans from BIO / BILOU tags."""
    spans, start, typ = [], None, None
    for i, tag in enumerate(tags + ["O"]):
        head, _, t = tag.partition("-")
        if start is not None and (head in ("O", "B", "U", "S") or t != typ):
            spans.append((start, i, typ))
            start = None
        if head in ("B", "U", "S") or (head in ("I", "L", "E") and start is None):
            start, typ = i, t
        if head in ("L", "E", "U", "S") and start is not None:
            spans.append((start, i + 1, typ))
            start = None
    return spans


def _bio_sentences(path: Path, id_prefix: str):
    """(id, tokens, tags, image_id) from CoNLL-style token<TAB>tag files (IMGID: lines for tweets)."""
    toks, tags, img, n = [], [], None, 0
    for line in path.read_text(encoding="utf-8").splitlines() + [""]:
        if line.startswith("IMGID:"):
            img = line.split(":", 1)[1].strip()
            continue
        if not line.strip() or line.startswith("-DOCSTART-"):
            if toks:
                yield f"{id_prefix}-{n:06d}", toks, tags, img
                n += 1
            toks, tags, img = [], [], None if not line.startswith("-DOCSTART-") else img
            continue
        parts = line.split()
        toks.append(parts[0])
        tags.append(parts[-1])


def convert_conll2003(path: Path) -> list[Record]:
    out = []
    for rid, toks, tags, _ in _bio_sentences(path, f"conll03-{path.stem}"):
        text, starts = _offsets(toks)
        ents = [_entity(toks, starts, a, b, CONLL03_TYPES.get(t, t.lower())) for a, b, t in bio_spans(tags)]
        out.append(Record(rid, "ner", text, schema={"entity_types": ["person", "location", "organization", "miscellaneous"]},
                          entities=ents))
    return out


def convert_twitter2017(path: Path) -> list[Record]:
    out = []
    for rid, toks, tags, img in _bio_sentences(path, f"twt17-{path.stem}"):
        text, starts = _offsets(toks)
        ents = [_entity(toks, starts, a, b, CONLL03_TYPES.get(t, t.lower())) for a, b, t in bio_spans(tags)]
        rec = Record(rid, "ner", text, image=f"images/{img}.jpg" if img else None,
                     schema={"entity_types": ["person", "location", "organization", "miscellaneous"]}, entities=ents)
        rec.extra["media_absent"] = True  # Twitter-2017 images are not distributed with the annotations
        out.append(rec)
    return out


def convert_conll04(path: Path) -> list[Record]:
    data = json.loads(path.read_text())
    rels = sorted({r["type"] for d in data for r in d.get("relations", [])})
    out = []
    for i, d in enumerate(data):
        toks = d["tokens"]
        text, starts = _offsets(toks)
        ents = [_entity(toks, starts, a, b, CONLL04_TYPES.get(t, t.lower())) for a, b, t in bio_spans(d["tags"])]
        relations = [Relation(r["head"], r["tail"], r["type"].replace("_", " ").lower()) for r in d.get("relations", [])
                     if r["head"] < len(ents) and r["tail"] < len(ents)]
        out.append(Record(f"conll04-{path.stem}-{d.get('orig_id', i)}", "re", text,
                          schema={"relation_types": [r.replace("_", " ").lower() for r in rels],
                                  "entity_types": list(CONLL04_TYPES.values())}, entities=ents, relations=relations))
    return out


def convert_mnre(path: Path) -> list[Record]:
    lines = [ast.literal_eval(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]
    rels = sorted({d["relation"] for d in lines})
    out = []
    for i, d in enumerate(lines):
        toks = d["token"]
        text, starts = _offsets(toks)
        h = _entity(toks, starts, d["h"]["pos"][0], d["h"]["pos"][1], "")
        t = _entity(toks, starts, d["t"]["pos"][0], d["t"]["pos"][1], "")
        rec = Record(f"mnre-{path.stem}-{i:06d}", "re", text, image=f"images/{d['img_id']}",
                     schema={"relation_types": rels}, entities=[h, t], relations=[Relation(0, 1, d["relation"])])
        rec.extra["media_absent"] = True
        out.append(rec)
    return out


def convert_m2e2(path: Path) -> list[Record]:
    """`path`: the M2E2 folder. Text events (ACE schema) become EE records over the sentence; image events
    (role boxes) are attached to the sentences they are linked to in crossmedia_coref.txt, else become
    image-only EE records."""
    folder = path if path.is_dir() else path.parent
    sents = json.loads((folder / "text_multimedia_event.json").read_text())
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
        text, starts = _offsets(toks)
        events = []
        for ev in s.get("golden-event-mentions", []):
            tr = ev["trigger"]
            trig = _entity(toks, starts, tr["start"], tr["end"], "")
            args = []
            for a in ev.get("arguments", []):
                ent = _entity(toks, starts, a["start"], a["end"], "")
                args.append(Argument(a["role"], ent.text, ent.start, ent.end))
                types[ev["event_type"]].add(a["role"])
            events.append(Event(ev["event_type"], Span(trig.text, trig.start, trig.end), args))
        rec = Record(f"m2e2-{s['sentence_id']}", "ee", text, events=events)
        linked = links.get(s["sentence_id"], [])
        if linked:
            img, _ = linked[0]
            rec.image = f"images/{img}"
            rec.extra["media_absent"] = True
            rec.extra["crossmedia_links"] = [{"image": i, "event_type": t} for i, t in linked]
            ie = image_event(img, img.rsplit(".", 1)[0])
            if ie is not None:
                used_images.add(img.rsplit(".", 1)[0])
                rec.extra["image_event"] = ie.to_dict()  # the linked image's event with its role boxes
        out.append(rec)
    for key in sorted(k for k in images if k not in used_images):
        ie = image_event(key, key)
        rec = Record(f"m2e2-img-{key}", "ee", None, image=f"images/{key}.jpg", events=[ie])
        rec.extra["media_absent"] = True
        out.append(rec)
    schema = {"event_types": {t: sorted(r) for t, r in sorted(types.items())}}
    for r in out:
        r.schema = schema
    return out


def convert_charades_sta(path: Path) -> list[Record]:
    out = []
    for i, line in enumerate(path.read_text().splitlines()):
        if "##" not in line:
            continue
        head, sentence = line.split("##", 1)
        vid, a, b = head.split()
        rec = Record(f"charades-{vid}-{i:05d}", "ner", sentence.strip(), video=f"videos/{vid}.mp4",
                     schema={"entity_types": ["action"]},
                     entities=[Entity(sentence.strip(), "action", 0, len(sentence.strip()),
                                      {"video": {"span": [float(a), float(b)], "frames": []}})])
        rec.extra["media_absent"] = True
        out.append(rec)
    return out


FORMATS = {"conll2003": convert_conll2003, "conll04": convert_conll04, "twitter2017": convert_twitter2017,
           "mnre": convert_mnre, "m2e2": convert_m2e2, "charades-sta": convert_charades_sta}


def convert(name: str, in_path: str | Path, out_path: str | Path) -> dict:
    if name not in FORMATS:
        raise InputError("--format", f"unknown format {name!r}; choose from {', '.join(FORMATS)}")
    p = Path(in_path)
    if not p.exists():
        raise InputError(str(p), "input not found")
    recs = FORMATS[name](p)
    write_jsonl(out_path, recs)
    return {"records": len(recs), "entities": sum(len(r.entities) for r in recs),
            "relations": sum(len(r.relations) for r in recs), "events": sum(len(r.events) for r in recs)}
