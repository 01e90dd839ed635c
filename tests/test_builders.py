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

from fixtures.builders.sources import (PHOTOS, audiocaps, caption_pairs, jpeg, librispeech, photo, ref_youtube_vos,
                                      refcoco, tao)
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


def _samples(out: Path):
    errors = []
    got = [s for u in shard_urls(out) for s in iter_shard_samples(u, errors)]
    assert errors == []
    return got


def test_caption_pairs_read_img2dataset_and_video2dataset_shards(tmp_path):
    import webdataset as wds

    src = caption_pairs(tmp_path / "src")
    m = build("caption-pairs", {"shards": str(src)}, tmp_path / "out", maxcount=2)
    assert m["samples"] == 4 and m["media"] == {"image": 3, "video": 1} and m["bad_entries"] == 3
    assert len(m["shards"]) == 2  # 2 samples a shard
    bad = " ".join(m["first_bad_entries"])
    assert "000000003" in bad and "000000004" in bad and "000010001" in bad
    got = _samples(tmp_path / "out")
    assert [s.record.extra["caption"] for s in got] == [c for _, c in PHOTOS.values()] + ["a short clip"]
    # the medium travels byte for byte, and any webdataset reader reads the shards
    ds = list(wds.WebDataset(str(tmp_path / "out" / "shard-{000000..000001}.tar"), shardshuffle=False))
    assert [json.loads(d["record.json"])["caption"] for d in ds] == \
        [s.record.extra["caption"] for s in got]
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(ds[1]["image.jpg"]))),
                          np.asarray(Image.open(io.BytesIO(jpeg(photo("chelsea"))))))
    assert ds[3]["video.mp4"] == (MEDIA / "realshort.mp4").read_bytes() and got[3].record.video == "video.mp4"


def test_audiocaps_rows_find_their_clips_and_report_the_rest(tmp_path):
    csv_path, clips = audiocaps(tmp_path)
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


def test_refcoco_regions_are_cocos_masks(tmp_path):
    from pycocotools.coco import COCO

    refcoco(tmp_path)
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


def test_refcoco_refs_as_parquet_rows_build_the_same_regions(tmp_path):
    """The refs as the Hugging Face copies hold them (jxu124/refcoco's dataset card: one ref a row, `sentences` a
    list of {raw, sent, sent_id, tokens}, a missing value null); the same samples as from the JSON lines."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    refcoco(tmp_path)
    refs = [json.loads(x) for x in (tmp_path / "refs.jsonl").read_text().splitlines()]
    pq.write_table(pa.Table.from_pylist(refs), tmp_path / "train-00000-of-00001.parquet")
    args = {"instances": tmp_path / "instances.json", "images": tmp_path / "images"}
    m_json = build("refcoco", {"refs": tmp_path / "refs.jsonl", **args}, tmp_path / "a")
    m_pq = build("refcoco", {"refs": tmp_path / "train-00000-of-00001.parquet", **args}, tmp_path / "b")
    assert m_pq["samples"] == m_json["samples"] == 1 and m_pq["bad_entries"] == m_json["bad_entries"] == 3
    assert "train-00000-of-00001.parquet:6" in " ".join(m_pq["first_bad_entries"])  # row 6: the ref without ann_id
    (a,), (b,) = _samples(tmp_path / "a"), _samples(tmp_path / "b")
    assert [e.to_dict() for e in a.record.entities] == [e.to_dict() for e in b.record.entities]
    (tmp_path / "broken.parquet").write_bytes(b"PAR1 not really")
    m = build("refcoco", {"refs": tmp_path / "broken.parquet", **args}, tmp_path / "c")
    assert m["samples"] == 0 and "not a readable parquet file" in m["first_bad_entries"][0]


def test_ref_youtube_vos_tracks_follow_the_png_masks(tmp_path):
    from encoders.preprocess import load_video_frames

    root = ref_youtube_vos(tmp_path)
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


def test_tao_tracks_are_box_tracks_named_by_category_and_place(tmp_path):
    from encoders.preprocess import load_video_frames

    ann, frames = tao(tmp_path)
    m = build("tao", {"annotations": ann, "frames": frames}, tmp_path / "out")
    assert m["samples"] == 1 and m["bad_entries"] == 2
    bad = " ".join(m["first_bad_entries"])
    assert "box [200, 40, 20, 20] is empty or outside" in bad and "train/LaSOT/absent: 1 of 1 frames missing" in bad
    (s,) = _samples(tmp_path / "out")
    ents = s.record.entities
    assert [(e.text, e.type) for e in ents] == [("the person on the right", "person"),
                                                ("the person on the left", "person"), ("the dog", "dog")]
    left = ents[1].grounding["video"]
    assert [f["t"] for f in left["frames"]] == [0.0, 1.0, 2.0] and left["span"] == [0.0, 3.0]  # 1 frame a second
    mask = rle_decode(left["frames"][0]["mask_rle"])
    assert mask.shape == (64, 96) and mask.sum() == 15 * 41 and mask[8:49, 5:20].all()  # the box's rectangle
    assert left["frames"][0]["box"] == mask_to_box(mask)
    assert [f["t"] for f in ents[2].grounding["video"]["frames"]] == [1.0]  # its second box was refused
    assert s.record.extra["masks"] == "box" and s.record.schema == {"entity_types": ["dog", "person"]}
    (tmp_path / "v.mp4").write_bytes(s.media_bytes("video"))
    vf = load_video_frames(tmp_path / "v.mp4", 3)
    assert vf.frames.shape[0] == 3 and vf.frames.shape[1:3] == (64, 96)


def test_librispeech_alignments_give_word_time_spans(tmp_path):
    utt, words = parse_alignment_line((FIX / "librispeech/84/121123/84-121123.alignment.txt").read_text()
                                      .splitlines()[0])
    assert utt == "84-121123-0000" and words == [("GO", 0.49, 0.89), ("DO", 1.27, 1.38), ("YOU", 1.38, 1.49),
                                                 ("HEAR", 1.49, 1.89)]
    root = librispeech(tmp_path / "LibriSpeech")
    book = root / "84" / "121123"
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
    refcoco(tmp_path)
    build("refcoco", {"refs": tmp_path / "refs.jsonl", "instances": tmp_path / "instances.json",
                      "images": tmp_path / "images"}, tmp_path / "p3")
    build("ref-youtube-vos", {"root": ref_youtube_vos(tmp_path)}, tmp_path / "p3v")
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
    refcoco(tmp_path)
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
