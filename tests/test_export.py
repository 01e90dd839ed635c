"""reamo.export: results of the tiny model on real media (answers given, so the grounding heads' real outputs are
written), read back by each ecosystem's own reader (pycocotools, pyannote.database, webvtt-py, motmetrics, Label
Studio's SDK) and checked against the Reamo result; bad results are reported by id and the others written."""
import json

import numpy as np
import pytest

from reamo.api import Reamo
from reamo.cli import main as cli_main
from reamo.errors import ExportError
from reamo.export import FORMATS, export_results
from reamo.records import Argument, Entity, Event, Record, Relation, Span
from reamo.records.formats import format_answer
from reamo.records.masks import rle_decode

TEXT = "President Kennedy spoke in Washington"
ALL = ("image", "audio", "video")


def _g(mods):
    return {m: {"marker": 1} for m in mods}  # format_answer writes an instruction per grounded medium


def _gold(task, mods):
    ents = [Entity("Kennedy", "person", 10, 17, _g(mods)), Entity("Washington", "location", 27, 37, _g(mods))]
    if task == "ner":
        return Record("ner", "ner", TEXT, entities=ents)
    if task == "re":
        return Record("re", "re", TEXT, entities=ents, relations=[Relation(0, 1, "located_in")])
    return Record("ee", "ee", TEXT, events=[Event("Speak", Span("spoke", 18, 23), [
        Argument("speaker", "Kennedy", 10, 17, _g(mods)), Argument("place", "Washington", 27, 37)], _g(mods))])


@pytest.fixture(scope="module")
def results(media, astronaut_png):
    reamo = Reamo.from_config("tiny").eval()
    full = {"text": TEXT, "image": str(astronaut_png), "audio": str(media["flac"]), "video": str(media["mp4"])}
    specs = [("ner", ALL), ("re", ("image", "audio")), ("ee", ("audio", "video"))]
    out = []
    for task, mods in specs:
        gold = _gold(task, mods)
        item = {k: v for k, v in full.items() if k == "text" or k in mods}
        schema = {"ner": ["person", "location"], "re": ["located_in"],
                  "ee": {"Speak": ["speaker", "place"]}}[task]
        r = reamo.extract(item, task, schema, answers=[format_answer(gold)])
        assert r.ok, r.error
        r.id = f"item {task}"  # a space: ids are made safe where a format needs it
        out.append(r)
    return out


def _entities(r):
    """The result's entities: its list, then those its relations hold (RE answers carry them there)."""
    out = list(r.entities)
    for rel in r.relations:
        out += [x for x in (rel.head, rel.tail) if isinstance(x, Entity) and all(x is not y for y in out)]
    return out


def _image_items(results):
    for r in results:
        for e in _entities(r):
            if "image" in e.grounding:
                yield r, e


def test_formats_listed():
    assert set(FORMATS) == {"coco", "rttm", "webvtt", "mot", "labelstudio"}
    with pytest.raises(ExportError, match="unknown export format"):
        export_results([], "yolo", "x")


def test_coco_results_load_in_pycocotools(results, tmp_path):
    from pycocotools.coco import COCO

    rep = export_results(results, "coco", tmp_path)
    assert not rep.skipped
    gt = COCO(str(tmp_path / "coco_images.json"))
    dt = gt.loadRes(str(tmp_path / "coco_results.json"))
    expected = list(_image_items(results))
    assert len(expected) == 4 and len(dt.getAnnIds()) == len(expected)
    cat_name = {c["id"]: c["name"] for c in gt.loadCats(gt.getCatIds())}
    img_of = {i["id"]: i["reamo_id"] for i in gt.loadImgs(gt.getImgIds())}
    anns = dt.loadAnns(dt.getAnnIds())
    for (r, e), ann in zip(expected, anns):
        assert img_of[ann["image_id"]] == r.id and cat_name[ann["category_id"]] == (e.type or "entity")
        assert ann["reamo"]["text"] == e.text
        mine = rle_decode(e.grounding["image"]["mask_rle"])
        assert np.array_equal(dt.annToMask(ann).astype(bool), mine)
        x1, y1, x2, y2 = e.grounding["image"]["box"]
        assert ann["bbox"] == [x1, y1, x2 - x1, y2 - y1]
        assert ann["score"] == pytest.approx(e.grounding["image"]["score"])


def _audio_spans(results):
    """(record id, label, words) -> spans, for every audio grounding of the results."""
    out = {}
    for r in results:
        items = [(e.type or "entity", e.text, e.grounding) for e in _entities(r)]
        for ev in r.events:
            items += [(ev.type, ev.trigger.text, ev.grounding)] + [(a.role, a.text, a.grounding) for a in ev.arguments]
        for label, text, g in items:
            if "audio" in g:
                out[(r.id, label, text)] = [tuple(s) for s in g["audio"]["spans"]]
    return out


def test_rttm_reads_back_in_pyannote(results, tmp_path):
    from pyannote.database.util import load_rttm

    export_results(results, "rttm", tmp_path)
    ann = load_rttm(str(tmp_path / "audio.rttm"))
    expected = _audio_spans(results)
    assert len(expected) == 2 + 2 + 2  # ner: 2 entities; re: 2 entities; ee: the trigger and one argument
    got = {}
    for uri, a in ann.items():
        for seg, _, label in a.itertracks(yield_label=True):
            got.setdefault((uri, label), []).append((round(seg.start, 3), round(seg.end, 3)))
    want = {}
    for (rid, label, text), spans in expected.items():
        want.setdefault((rid.replace(" ", "_"), f"{label}:{text}"), []).extend(spans)
    assert {k: sorted(v) for k, v in got.items()} == {k: sorted(tuple(round(x, 3) for x in s) for s in v)
                                                      for k, v in want.items()}


def test_webvtt_reads_back(results, tmp_path):
    import webvtt

    rep = export_results(results, "webvtt", tmp_path)
    assert sorted(p.name for p in rep.files) == ["item_ee.vtt", "item_ner.vtt", "item_re.vtt"]
    expected = _audio_spans(results)
    for r in results:
        cues = webvtt.read(str(tmp_path / f"{r.id.replace(' ', '_')}.vtt"))
        got = sorted((_seconds(c.start), _seconds(c.end), c.text) for c in cues)
        want = sorted((round(a, 3), round(b, 3), f"{text} ({label})")
                      for (rid, label, text), spans in expected.items() if rid == r.id for a, b in spans)
        assert got and got == want


def _seconds(ts: str) -> float:
    h, m, s = ts.split(":")
    return round(int(h) * 3600 + int(m) * 60 + float(s), 3)


def test_mot_and_mots_read_back(results, tmp_path):
    import motmetrics as mm
    from pycocotools import mask as cmask

    rep = export_results(results, "mot", tmp_path)
    assert not rep.skipped
    ner = results[0]
    fps = ner.loaded["video"].grounding.fps
    df = mm.io.loadtxt(str(tmp_path / "item_ner.mot.txt"), fmt="mot15-2D")
    tracks = json.loads((tmp_path / "item_ner.tracks.json").read_text())["tracks"]
    assert [tracks[str(n)]["text"] for n in (1, 2)] == ["Kennedy", "Washington"]
    mots = [line.split(" ") for line in (tmp_path / "item_ner.mots.txt").read_text().splitlines()]
    n_frames = 0
    for n, e in enumerate(ner.entities, 1):
        for f in e.grounding["video"]["frames"]:
            n_frames += 1
            frame = int(round(f["t"] * fps)) + 1
            row = df.loc[(frame, n)]
            x1, y1, x2, y2 = f["box"]
            assert (row["X"], row["Y"], row["Width"], row["Height"]) == (x1, y1, x2 - x1, y2 - y1)
            line = next(x for x in mots if int(x[0]) == frame and int(x[1]) % 1000 == n)
            h, w = int(line[3]), int(line[4])
            m = cmask.decode({"size": [h, w], "counts": line[5].encode()}).astype(bool)
            assert np.array_equal(m, rle_decode(f["mask_rle"]))
    assert n_frames > 0 and len(df) == n_frames and len(mots) == n_frames


def test_results_read_from_json_carry_their_frame_rate(results, tmp_path):
    dicts = [json.loads(r.to_json()) for r in results]
    assert dicts[0]["entities"][0]["grounding"]["video"]["fps"] == results[0].loaded["video"].grounding.fps
    assert not export_results(dicts, "mot", tmp_path / "json").skipped
    assert (tmp_path / "json" / "item_ner.mot.txt").read_text() == _mot_of(results, tmp_path / "c")
    for d in dicts:  # results of another system, or of an older Reamo: no frame rate recorded
        for e in d["entities"] + [a for ev in d["events"] for a in [ev] + ev["arguments"]]:
            (e.get("grounding") or {}).get("video", {}).pop("fps", None)
    rep = export_results(dicts, "mot", tmp_path / "a")
    assert {e.item for e in rep.skipped} == {"item ner", "item ee"} and "frame rate" in str(rep.skipped[0])
    rep = export_results(dicts, "mot", tmp_path / "b", fps=results[0].loaded["video"].grounding.fps)
    assert not rep.skipped
    assert (tmp_path / "b" / "item_ner.mot.txt").read_text() == (tmp_path / "c" / "item_ner.mot.txt").read_text()


def _mot_of(results, out):
    export_results(results, "mot", out)
    return (out / "item_ner.mot.txt").read_text()


def test_labelstudio_predictions_validate_in_the_sdk(results, tmp_path):
    from label_studio_sdk.converter.brush import decode_rle
    from label_studio_sdk.label_interface import LabelInterface

    rep = export_results(results, "labelstudio", tmp_path)
    assert not rep.skipped
    folders = sorted(p.parent.name for p in rep.files if p.name == "tasks.json")
    assert folders == ["text+audio+video", "text+image+audio", "text+image+audio+video"]
    by_id = {r.id: r for r in results}
    seen = set()
    for f in folders:
        li = LabelInterface((tmp_path / "labelstudio" / f / "config.xml").read_text())
        for task in json.loads((tmp_path / "labelstudio" / f / "tasks.json").read_text()):
            assert li.validate_task({"data": task["data"]})  # (the SDK's own check of predictions fails to call itself)
            pred = task["predictions"][0]
            assert li.validate_prediction(pred, return_errors=True) == []
            r = by_id[task["data"]["reamo_id"]]
            seen.add(r.id)
            res = pred["result"]
            spans = {x["id"]: x["value"] for x in res if x["type"] == "labels" and x["to_name"] == "text"}
            for v in spans.values():
                assert TEXT[v["start"]:v["end"]] == v["text"]
            rels = [x for x in res if x["type"] == "relation"]
            if r.task == "re":
                assert [(spans[x["from_id"]]["text"], x["labels"][0], spans[x["to_id"]]["text"]) for x in rels] == \
                    [(rel.head.text, rel.type, rel.tail.text) for rel in r.relations]
            if r.task == "ee":
                ev = r.events[0]
                assert [(spans[x["from_id"]]["labels"][0], x["labels"][0], spans[x["to_id"]]["text"]) for x in rels] == \
                    [(ev.type, a.role, a.text) for a in ev.arguments]
            brushes = [x for x in res if x["type"] == "brushlabels"]
            img = [e for e in _entities(r) if "image" in e.grounding]
            assert len(brushes) == len(img)
            for b, e in zip(brushes, img):
                mine = rle_decode(e.grounding["image"]["mask_rle"])
                h, w = mine.shape
                theirs = decode_rle(b["value"]["rle"]).reshape(h, w, 4)[:, :, 3] > 0
                assert np.array_equal(theirs, mine) and b["value"]["brushlabels"] == [e.type or "entity"]
            audio = sorted((x["value"]["start"], x["value"]["end"]) for x in res if x.get("to_name") == "audio")
            assert audio == sorted(s for (rid, _, _), v in _audio_spans(results).items() if rid == r.id for s in v)
            tracks = [x for x in res if x["type"] == "videorectangle"]
            n_tracked = sum(1 for e in _entities(r) if e.grounding.get("video", {}).get("frames")) + \
                sum(1 for ev in r.events for g in [ev.grounding] + [a.grounding for a in ev.arguments]
                    if g.get("video", {}).get("frames"))
            assert len(tracks) == n_tracked
    assert seen == set(by_id)


def test_a_malformed_result_is_reported_and_the_rest_written(results, tmp_path):
    good = json.loads(results[0].to_json())
    bad = json.loads(results[0].to_json())
    bad["id"] = "broken"
    bad["entities"][0]["grounding"]["audio"] = {"spans": [[3.0, 1.0]]}
    bad["entities"][1]["grounding"]["image"] = {"box": [0, 0, 1, 1]}
    for fmt in ("rttm", "coco", "labelstudio"):
        rep = export_results([bad, good, {"not": "a record"}], fmt, tmp_path / fmt)
        assert {e.item for e in rep.skipped} == {"result[2]", "broken"}, fmt
    assert "SPEAKER item_ner" in (tmp_path / "rttm" / "audio.rttm").read_text()
    assert "broken" not in (tmp_path / "rttm" / "audio.rttm").read_text()


def test_cli_extract_export_and_reamo_export(media, astronaut_png, tmp_path, capsys):
    model = tmp_path / "model"
    Reamo.from_config("tiny").save_pretrained(model)
    out = tmp_path / "r.json"
    rc = cli_main(["extract", "--model", str(model), "--text", TEXT, "--image", str(astronaut_png), "--audio",
                   str(media["flac"]), "--task", "ner", "--labels", "person,location", "--max-new-tokens", "8",
                   "--out", str(out), "--export", "coco", "rttm", "--export-dir", str(tmp_path / "ex")])
    assert rc == 0
    assert (tmp_path / "ex" / "coco_results.json").is_file() and (tmp_path / "ex" / "audio.rttm").is_file()
    lines = tmp_path / "r.jsonl"
    lines.write_text(json.dumps(json.loads(out.read_text())) + "\n" + "{bad json\n")
    rc = cli_main(["export", "--results", str(lines), "--format", "webvtt", "rttm", "--out", str(tmp_path / "ex2")])
    err = capsys.readouterr().err
    assert rc == 0 and "r.jsonl:2" in err  # the malformed line is named, the good one exported
    assert (tmp_path / "ex2" / "audio.rttm").is_file()
