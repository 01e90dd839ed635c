"""Phase 2-4 builders (reamo.builders) and the shard format (reamo.records.shards): each builder on a real sample of
its source's format where one is public (AudioCaps' CSV, the LibriSpeech alignments' README lines; see
tests/fixtures/builders/README.md) or on files written here in the published schema (img2dataset shards, RefCOCO
refs + COCO instances, Ref-YouTube-VOS), with real photographs and speech; bad entries reported, the rest kept."""
import csv
import io
import json
import shutil
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from reamo.builders import build
from reamo.builders.speech import parse_alignment_line
from reamo.cli import main as cli_main
from reamo.errors import InputError, RecordError
from reamo.records import read_jsonl
from reamo.records.formats import answer_and_groundings
from reamo.records.masks import mask_to_box, rle_decode
from reamo.records.shards import iter_shard_samples, shard_urls

FIX = Path(__file__).parent / "fixtures" / "builders"
MEDIA = Path(__file__).resolve().parents[2] / "shared" / "data" / "media"


def _photo(name: str, size=None) -> np.ndarray:
    from skimage import data

    img = getattr(data, name)()
    return img if size is None else np.asarray(Image.fromarray(img).resize(size))


def _jpeg(img: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def _samples(out: Path):
    errors = []
    got = [s for u in shard_urls(out) for s in iter_shard_samples(u, errors)]
    assert errors == []
    return got


def test_caption_pairs_read_img2dataset_and_video2dataset_shards(tmp_path):
    import webdataset as wds

    src = tmp_path / "src"
    src.mkdir()
    photos = {"000000000": ("astronaut", "an astronaut in a white suit"), "000000001": ("chelsea", "a tabby cat"),
              "000000002": ("coffee", "a cup of coffee on a saucer")}
    with wds.TarWriter(str(src / "00000.tar")) as w:
        for key, (name, cap) in photos.items():
            w.write({"__key__": key, "jpg": _jpeg(_photo(name)), "txt": cap.encode(),
                     "json": json.dumps({"url": f"http://x/{key}.jpg", "caption": cap, "key": key,
                                         "status": "success", "error_message": None}).encode()})
        w.write({"__key__": "000000003", "jpg": b"not a jpeg", "txt": b"broken"})  # corrupt image
        w.write({"__key__": "000000004", "jpg": _jpeg(_photo("coffee")), "txt": b"  "})  # no caption
    with wds.TarWriter(str(src / "00001.tar")) as w:  # video2dataset: mp4 + txt + json
        w.write({"__key__": "000010000", "mp4": (MEDIA / "realshort.mp4").read_bytes(), "txt": b"a short clip",
                 "json": json.dumps({"status": "success"}).encode()})
        w.write({"__key__": "000010001", "txt": b"no medium"})
    m = build("caption-pairs", {"shards": str(src)}, tmp_path / "out", maxcount=2)
    assert m["samples"] == 4 and m["media"] == {"image": 3, "video": 1} and m["bad_entries"] == 3
    assert len(m["shards"]) == 2  # 2 samples a shard
    bad = " ".join(m["first_bad_entries"])
    assert "000000003" in bad and "000000004" in bad and "000010001" in bad
    got = _samples(tmp_path / "out")
    assert [s.record.extra["caption"] for s in got] == [c for _, c in photos.values()] + ["a short clip"]
    # the medium travels byte for byte, and any webdataset reader reads the shards
    ds = list(wds.WebDataset(str(tmp_path / "out" / "shard-{000000..000001}.tar"), shardshuffle=False))
    assert [json.loads(d["record.json"])["caption"] for d in ds] == \
        [s.record.extra["caption"] for s in got]
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(ds[1]["image.jpg"]))),
                          np.asarray(Image.open(io.BytesIO(_jpeg(_photo("chelsea"))))))
    assert ds[3]["video.mp4"] == (MEDIA / "realshort.mp4").read_bytes() and got[3].record.video == "video.mp4"


def test_audiocaps_rows_find_their_clips_and_report_the_rest(tmp_path):
    csv_path = tmp_path / "train.csv"
    csv_path.write_text((FIX / "audiocaps_train.csv").read_text() + "1,abc,notanumber,A bad row\n")
    clips = tmp_path / "clips"
    clips.mkdir()
    shutil.copy(MEDIA / "sample.wav", clips / "r1nicOVtvkQ_130.wav")  # audiocaps-download's naming
    shutil.copy(MEDIA / "jfk.flac", clips / "Y3eGXNIadwGk.flac")  # AudioSet's "Y<id>" naming
    m = build("audiocaps", {"csv": csv_path, "clips": clips}, tmp_path / "out", shards=False)
    with (FIX / "audiocaps_train.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert m["samples"] == 2 and m["bad_entries"] == len(rows) - 2 + 1
    assert any(":14: bad row" in e for e in m["first_bad_entries"])  # the malformed line, by number
    recs = list(read_jsonl(tmp_path / "out" / "records.jsonl"))
    want = {r["youtube_id"]: r["caption"] for r in rows}
    assert [(r.extra["youtube_id"], r.extra["caption"]) for r in recs] == \
        [("r1nicOVtvkQ", want["r1nicOVtvkQ"]), ("3eGXNIadwGk", want["3eGXNIadwGk"])]
    assert (tmp_path / "out" / recs[1].audio).read_bytes() == (MEDIA / "jfk.flac").read_bytes()


def _coco(tmp_path):
    img = _photo("astronaut")  # 512 x 512
    images = tmp_path / "images"
    images.mkdir()
    (images / "COCO_train2014_000000581857.jpg").write_bytes(_jpeg(img))
    inst = {"images": [{"id": 581857, "file_name": "COCO_train2014_000000581857.jpg", "height": 512, "width": 512},
                       {"id": 9, "file_name": "absent.jpg", "height": 10, "width": 10}],
            "annotations": [
                {"id": 1719310, "image_id": 581857, "category_id": 1, "iscrowd": 0, "bbox": [150, 40, 200, 400],
                 "segmentation": [[150, 40, 350, 40, 350, 440, 150, 440], [400, 400, 450, 400, 450, 450]]},
                {"id": 2, "image_id": 581857, "category_id": 2, "iscrowd": 1, "bbox": [0, 0, 2, 512],
                 "segmentation": {"size": [512, 512], "counts": [0, 1024, 512 * 512 - 1024]}},
                {"id": 3, "image_id": 9, "category_id": 1, "iscrowd": 0, "segmentation": [[0, 0, 5, 0, 5, 5]]}],
            "categories": [{"id": 1, "name": "person"}, {"id": 2, "name": "flag"}]}
    (tmp_path / "instances.json").write_text(json.dumps(inst))
    sents = lambda *xs: [{"tokens": x.split(), "raw": x.upper(), "sent_id": i, "sent": x} for i, x in enumerate(xs)]
    refs = [{"ref_id": 0, "ann_id": 1719310, "image_id": 581857, "split": "train", "category_id": 1,
             "file_name": "COCO_train2014_000000581857_16.jpg", "sent_ids": [0, 1, 2],
             "sentences": sents("the lady with the blue shirt", "lady with back to us", "blue shirt")},
            {"ref_id": 1, "ann_id": 2, "image_id": 581857, "split": "train", "sentences": sents("the strip on the left")},
            {"ref_id": 2, "ann_id": 2, "image_id": 581857, "split": "testA", "sentences": sents("held out")},
            {"ref_id": 3, "ann_id": 77, "image_id": 581857, "split": "train", "sentences": sents("no annotation")},
            {"ref_id": 4, "ann_id": 3, "image_id": 9, "split": "train", "sentences": sents("image absent")},
            {"ref_id": 5, "image_id": 581857, "split": "train"}]
    (tmp_path / "refs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in refs))
    return inst


def test_refcoco_regions_are_cocos_masks(tmp_path):
    from pycocotools.coco import COCO

    _coco(tmp_path)
    m = build("refcoco", {"refs": tmp_path / "refs.jsonl", "instances": tmp_path / "instances.json",
                          "images": tmp_path / "images"}, tmp_path / "out")
    assert m["samples"] == 1 and m["bad_entries"] == 3
    bad = " ".join(m["first_bad_entries"])
    assert "ref 3: annotation 77" in bad and "ref 4: image 9 not found" in bad and "refs.jsonl:6" in bad
    (s,) = _samples(tmp_path / "out")
    ents = s.record.entities
    assert [(e.text, e.type) for e in ents] == [("the lady with the blue shirt", "person"),
                                                ("lady with back to us", "person"), ("blue shirt", "person"),
                                                ("the strip on the left", "flag")]  # testA's ref is not built
    coco = COCO(str(tmp_path / "instances.json"))
    for e, ann in ((ents[0], 1719310), (ents[3], 2)):  # polygons (two parts) and uncompressed RLE
        want = coco.annToMask(coco.anns[ann]).astype(bool)
        got = rle_decode(e.grounding["image"]["mask_rle"])
        assert np.array_equal(got, want) and e.grounding["image"]["box"] == mask_to_box(want)
    assert s.record.schema == {"entity_types": ["flag", "person"]} and s.media["image"][0] == "jpg"
    # the pickle is refused by name; the other refs are not lost
    (tmp_path / "refs(unc).p").write_bytes(b"\x80\x04")
    m = build("refcoco", {"refs": tmp_path / "refs(unc).p", "instances": tmp_path / "instances.json",
                          "images": tmp_path / "images"}, tmp_path / "out2")
    assert m["samples"] == 0 and "pickled refs are refused" in m["first_bad_entries"][0]


def _vos(tmp_path) -> Path:
    root = tmp_path / "train"
    frames = [f"{5 * k:05d}" for k in range(6)]
    base = _photo("astronaut", (96, 64))
    for k, n in enumerate(frames):
        (root / "JPEGImages" / "a1b2").mkdir(parents=True, exist_ok=True)
        (root / "Annotations" / "a1b2").mkdir(parents=True, exist_ok=True)
        Image.fromarray(base).save(root / "JPEGImages" / "a1b2" / f"{n}.jpg", quality=95)
        lab = np.zeros((64, 96), np.uint8)
        lab[10:30, 5 + 10 * k: 25 + 10 * k] = 1  # object 1 moves right in every frame
        if k >= 3:
            lab[40:60, 60:90] = 2  # object 2 enters at the fourth frame
        png = Image.fromarray(lab, mode="P")
        png.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0] + [0] * 759)
        png.save(root / "Annotations" / "a1b2" / f"{n}.png")
    meta = {"videos": {"a1b2": {"expressions": {"0": {"exp": "a person walking right", "obj_id": "1"},
                                                "1": {"exp": "a dog coming in", "obj_id": "2"},
                                                "2": {"exp": "something never seen", "obj_id": "3"}},
                                "frames": frames},
                       "zz99": {"expressions": {"0": {"exp": "gone", "obj_id": "1"}}, "frames": ["00000"]}}}
    (root / "meta_expressions.json").write_text(json.dumps(meta))
    (root / "meta.json").write_text(json.dumps({"videos": {"a1b2": {"objects": {
        "1": {"category": "person", "frames": frames}, "2": {"category": "dog", "frames": frames[3:]}}}}}))
    return root


def test_ref_youtube_vos_tracks_follow_the_png_masks(tmp_path):
    from encoders.preprocess import load_video_frames

    root = _vos(tmp_path)
    m = build("ref-youtube-vos", {"root": root}, tmp_path / "out", shards=False)
    assert m["samples"] == 1 and m["bad_entries"] == 2
    assert any("zz99" in e for e in m["first_bad_entries"]) and any("object 3 has no mask" in e
                                                                     for e in m["first_bad_entries"])
    (rec,) = read_jsonl(tmp_path / "out" / "records.jsonl")
    person, dog = rec.entities
    assert (person.text, person.type, dog.type) == ("a person walking right", "person", "dog")
    assert [f["t"] for f in person.grounding["video"]["frames"]] == [round(k / 6, 4) for k in range(6)]
    assert dog.grounding["video"]["span"] == [0.5, 1.0]  # frames 3..5 at 6 fps
    for k, f in enumerate(person.grounding["video"]["frames"]):
        want = np.asarray(Image.open(root / "Annotations" / "a1b2" / f"{5 * k:05d}.png")) == 1
        assert np.array_equal(rle_decode(f["mask_rle"]), want)
    video = load_video_frames(tmp_path / "out" / rec.video, num_frames=6)
    assert video.frames.shape[0] == 6 and abs(video.duration - 1.0) < 1e-6  # 6 frames at 6 fps


def test_librispeech_alignments_give_word_time_spans(tmp_path):
    utt, words = parse_alignment_line((FIX / "librispeech/84/121123/84-121123.alignment.txt").read_text()
                                      .splitlines()[0])
    assert utt == "84-121123-0000" and words == [("GO", 0.49, 0.89), ("DO", 1.27, 1.38), ("YOU", 1.38, 1.49),
                                                 ("HEAR", 1.49, 1.89)]
    root = tmp_path / "LibriSpeech"
    shutil.copytree(FIX / "librispeech", root)
    book = root / "84" / "121123"
    for u in ("84-121123-0000", "84-121123-0001"):
        shutil.copy(MEDIA / "jfk.flac", book / f"{u}.flac")  # stand-in speech: the alignment is what is read
    with (book / "84-121123.alignment.txt").open("a") as f:
        f.write('84-121123-0002 ",A," "0.1,0.5,0.6"\n84-121123-0003 ",WORDS,WITHOUT,TIMES," "0.1,0.2"\n')
    m = build("librispeech", {"root": root}, tmp_path / "out")
    assert m["samples"] == 2 and m["bad_entries"] == 2
    assert any(":3: no 84-121123-0002.flac" in e for e in m["first_bad_entries"])
    assert any(":4: 5 words but 2 end times" in e for e in m["first_bad_entries"])
    got = _samples(tmp_path / "out")
    _, words = parse_alignment_line((FIX / "librispeech/84/121123/84-121123.alignment.txt").read_text()
                                    .splitlines()[1])
    times = {w.lower(): (s, e) for w, s, e in words}
    rec = got[1].record
    assert rec.extra["transcript"] == " ".join(w.lower() for w, _, _ in words) and 1 <= len(rec.entities) <= 3
    for e in rec.entities:  # a phrase is a run of the transcript's words, spanning their times
        ws = e.text.split()
        assert e.text in rec.extra["transcript"]
        assert e.grounding["audio"]["spans"] == [[times[ws[0]][0], times[ws[-1]][1]]]
    again = build("librispeech", {"root": root}, tmp_path / "again")
    assert [s.record.to_dict() for s in _samples(tmp_path / "again")] == [s.record.to_dict() for s in got]


def test_meta_composes_extraction_answers_with_meta_responses(tmp_path):
    _coco(tmp_path)
    build("refcoco", {"refs": tmp_path / "refs.jsonl", "instances": tmp_path / "instances.json",
                      "images": tmp_path / "images"}, tmp_path / "p3")
    build("ref-youtube-vos", {"root": _vos(tmp_path)}, tmp_path / "p3v")
    # one brace pattern over both outputs: one label pool for images and videos
    m = build("meta", {"grounded": f"{tmp_path}/{{p3,p3v}}/shard-000000.tar"}, tmp_path / "p4")
    assert m["samples"] == 2
    image, video = (s.record for s in _samples(tmp_path / "p4"))
    # one phrase per object (the lady's three sentences name one mask), types in the label list
    assert sorted(e.type for e in image.entities) == ["flag", "person"]
    assert {e.type for e in video.entities} == {"person", "dog"}
    for rec in (image, video):
        assert {e.type for e in rec.entities} <= set(rec.schema["entity_types"]) <= {"flag", "person", "dog"}
    answer, grounded = answer_and_groundings(image, ground=True)
    assert answer.count("<Module>ImageSegmentation</Module>") == 2 and len(grounded) == 2
    assert all(f"<Instruction>{e.text}</Instruction>" in answer for e in image.entities)
    assert answer_and_groundings(video, ground=True)[0].count("<Module>VideoTracking</Module>") == 2


def test_build_cli_and_bad_arguments(tmp_path, capsys):
    _coco(tmp_path)
    assert cli_main(["data", "build", "refcoco", "--refs", str(tmp_path / "refs.jsonl"), "--instances",
                     str(tmp_path / "instances.json"), "--images", str(tmp_path / "images"),
                     "--out", str(tmp_path / "o"), "--jsonl"]) == 0
    assert json.loads(capsys.readouterr().out)["samples"] == 1
    assert json.loads((tmp_path / "o" / "manifest.json").read_text())["bad_entries"] == 3
    (rec,) = read_jsonl(tmp_path / "o" / "records.jsonl")
    assert (tmp_path / "o" / rec.image).is_file()
    assert cli_main(["data", "build", "refcoco", "--refs", str(tmp_path / "nope.json"), "--instances",
                     str(tmp_path / "instances.json"), "--images", str(tmp_path / "images"),
                     "--out", str(tmp_path / "o2")]) == 2
    assert "nope.json" in capsys.readouterr().err
    with pytest.raises(InputError, match="needs --csv"):
        build("audiocaps", {"clips": tmp_path}, tmp_path / "o3")


def test_a_broken_shard_sample_is_named_and_the_rest_read(tmp_path):
    out = tmp_path / "s"
    build("records", {"records": _records_jsonl(tmp_path)}, out)
    tar = next(out.glob("*.tar"))
    # append a sample whose record.json is not JSON
    with tarfile.open(tar, "a") as t:
        data = b"{not json"
        info = tarfile.TarInfo("999999999.record.json")
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
    errors = []
    got = list(iter_shard_samples(str(tar), errors))
    assert len(got) == 2 and len(errors) == 1 and "sample 999999999" in str(errors[0])
    with pytest.raises(RecordError, match="999999999"):
        list(iter_shard_samples(str(tar)))


def _records_jsonl(tmp_path) -> Path:
    d = tmp_path / "recs"
    d.mkdir()
    shutil.copy(MEDIA / "sample.wav", d / "a.wav")
    lines = [{"id": "x", "task": "ner", "text": "Paris", "schema": {"entity_types": ["location"]},
              "entities": [{"text": "Paris", "type": "location", "start": 0, "end": 5}]},
             {"id": "y", "task": "ner", "audio": "a.wav", "schema": {"entity_types": ["person"]}}]
    (d / "r.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    return d / "r.jsonl"
