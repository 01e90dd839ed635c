"""MUIE metrics on hand-computed cases, and NER F1 == seqeval on real CoNLL-2003 sentences."""
import random

import numpy as np
import pytest

from reamo.converters.tokens import bio_spans
from reamo.evaluation.metrics import SetScores, matched_mask_ious, span_iou, tracklet_jaccard
from reamo.records.masks import rle_encode
from reamo.records import Argument, Entity, Event, Record, Relation, Span


def test_ner_re_ee_counts():
    gold = Record("1", "ner", "A B C", entities=[Entity("A", "per", 0, 1), Entity("B", "loc", 2, 3), Entity("C", "org", 4, 5)])
    pred = Record("1", "ner", "A B C", entities=[Entity("A", "per", 0, 1), Entity("B", "per", 2, 3)])
    s = SetScores()
    s.add(pred, gold)
    assert (s.ner.tp, s.ner.n_pred, s.ner.n_gold) == (1, 2, 3)
    assert s.ner.precision == 0.5 and s.ner.recall == pytest.approx(1 / 3) and s.ner.f1 == pytest.approx(0.4)
    g = Record("2", "re", entities=[Entity("x", "a"), Entity("y", "b")], relations=[Relation(0, 1, "r")])
    p = Record("2", "re", relations=[Relation(Entity("X", ""), Entity("y", ""), "r"), Relation(Entity("y", ""), Entity("x", ""), "r")])
    s.add(p, g)
    assert (s.re.tp, s.re.n_pred, s.re.n_gold) == (1, 2, 1)  # text match ignores case; direction matters
    ge = Record("3", "ee", events=[Event("Attack", Span("hit"), [Argument("Attacker", "he"), Argument("Target", "him")])])
    pe = Record("3", "ee", events=[Event("Attack", Span("hit"), [Argument("Attacker", "he"), Argument("Place", "him")]),
                                   Event("Meet", Span("met"))])
    s.add(pe, ge)
    assert (s.et.tp, s.et.n_pred, s.et.n_gold) == (1, 2, 1) and (s.ea.tp, s.ea.n_pred, s.ea.n_gold) == (1, 2, 2)
    s.add(None, ge)  # a missing prediction counts as empty
    assert s.et.n_gold == 2 and s.et.tp == 1


def test_hungarian_mask_matching_and_unmatched_as_empty():
    a = np.zeros((10, 10), bool); a[:5, :5] = True
    b = np.zeros((10, 10), bool); b[5:, 5:] = True
    a2 = a.copy(); a2[:5, :4] = False; a2[:5, :5] = True; a2[0, 0] = False  # IoU 24/25 with a
    # predictions given in the swapped order: matching must pair a2<->a and b<->b
    assert matched_mask_ious([b, a2], [a, b]) == pytest.approx([1.0, 24 / 25])
    assert sorted(matched_mask_ious([a2], [a, b])) == pytest.approx([0.0, 24 / 25])  # unmatched gold -> 0
    assert matched_mask_ious([], [a]) == [0.0]
    gold = Record("i", "ner", entities=[Entity("p", "x", grounding={"image": {"mask_rle": rle_encode(a)}}),
                                        Entity("q", "x", grounding={"image": {"mask_rle": rle_encode(b)}})])
    pred = Record("i", "ner", entities=[Entity("q", "x", grounding={"image": {"mask_rle": rle_encode(b)}})])
    s = SetScores()
    s.add(pred, gold)
    assert s.image.value == pytest.approx(0.5)


def test_audio_span_iou_and_video_jaccard():
    assert span_iou([[0, 2]], [[1, 3]]) == pytest.approx(1 / 3)
    assert span_iou([[0, 1], [0.5, 2]], [[0, 2]]) == pytest.approx(1.0)  # union of overlapping spans
    assert span_iou([], [[0, 1]]) == 0.0
    m = np.zeros((4, 4), bool); m[:2, :2] = True
    full = {"frames": [{"t": 0.0, "mask_rle": rle_encode(m)}, {"t": 0.5, "mask_rle": rle_encode(m)}]}
    half = {"frames": [{"t": 0.0, "mask_rle": rle_encode(m)}]}
    assert tracklet_jaccard(full, full) == 1.0
    assert tracklet_jaccard(half, full) == pytest.approx(0.5)  # the missing frame is an empty mask


def test_bio_and_bilou_spans():
    assert bio_spans(["B-PER", "I-PER", "O", "B-LOC", "B-LOC", "I-ORG"]) == [(0, 2, "PER"), (3, 4, "LOC"), (4, 5, "LOC"), (5, 6, "ORG")]
    assert bio_spans(["U-Loc", "B-Org", "I-Org", "L-Org", "O"]) == [(0, 1, "Loc"), (1, 4, "Org")]


@pytest.mark.parametrize("fmt,rel", [("conll2003", "text/conll2003/test.txt"),
                                     ("twitter2017", "multimodal/twitter2017/test.txt")])
def test_ner_f1_equals_seqeval_on_real_data(fmt, rel, data_dir):
    """Perturbed gold (dropped, retyped, boundary-shifted and spurious entities) scored by Reamo and by seqeval."""
    from reamo.converters import read_format

    seqeval = pytest.importorskip("seqeval.metrics")
    recs = read_format(fmt, data_dir / rel)[:300]
    rng = random.Random(0)
    y_true, y_pred, s = [], [], SetScores()
    n_spurious = 0
    for r in recs:
        toks = r.text.split(" ")
        starts = np.cumsum([0] + [len(t) + 1 for t in toks[:-1]]).tolist()
        tok_of = {st: i for i, st in enumerate(starts)}

        def tags(ents):
            t = ["O"] * len(toks)
            for e in ents:
                a = tok_of[e.start]
                b = a + len(e.text.split(" "))
                t[a] = f"B-{e.type}"
                for i in range(a + 1, b):
                    t[i] = f"I-{e.type}"
            return t

        pred = []
        for e in r.entities:
            x = rng.random()
            if x < 0.15:
                continue  # dropped
            if x < 0.3:
                e = Entity(e.text, "location" if e.type != "location" else "person", e.start, e.end)  # type swap
            elif x < 0.4 and len(e.text.split(" ")) > 1:  # boundary shift: drop the last token
                t = e.text.rsplit(" ", 1)[0]
                e = Entity(t, e.type, e.start, e.start + len(t))
            pred.append(e)
        free = [i for i, t in enumerate(tags(r.entities)) if t == "O" and tags(pred)[i] == "O"]
        if free and rng.random() < 0.3:  # a spurious one-token entity where nothing is
            i = rng.choice(free)
            pred.append(Entity(toks[i], "organization", starts[i], starts[i] + len(toks[i])))
            n_spurious += 1
        y_true.append(tags(r.entities))
        y_pred.append(tags(pred))
        s.add(Record(r.id, "ner", r.text, entities=pred), r)
    assert n_spurious > 20
    assert s.ner.f1 == pytest.approx(seqeval.f1_score(y_true, y_pred), abs=1e-9)
    assert s.ner.precision == pytest.approx(seqeval.precision_score(y_true, y_pred), abs=1e-9)
    assert s.ner.recall == pytest.approx(seqeval.recall_score(y_true, y_pred), abs=1e-9)
    assert 0.5 < s.ner.f1 < 0.95


def test_moment_retrieval_r1_and_miou_by_hand():
    from reamo.evaluation.metrics import SetScores
    from reamo.records import Entity, Record

    def gold(windows):
        r = Record("g", "ner", "a query", video="videos/v.mp4", schema={"entity_types": ["moment"]},
                   entities=[Entity("a query", "moment", 0, 7)])
        r.extra["moment"] = {"windows": windows, "duration": 60.0}
        return r

    def pred(span):
        g = {"video": {"span": span, "frames": []}} if span else {}
        return Record("g", "ner", "a query", entities=[Entity("a query", "moment", 0, 7, g)])

    s = SetScores()
    s.add(pred([0.0, 10.0]), gold([[0.0, 10.0]]))          # IoU 1
    s.add(pred([0.0, 10.0]), gold([[5.0, 15.0]]))          # inter 5, union 15: IoU 1/3
    s.add(pred([10.0, 20.0]), gold([[0.0, 4.0], [12.0, 20.0]]))  # best window: 8/10 = 0.8
    s.add(pred(None), gold([[1.0, 2.0]]))                  # no moment predicted: 0
    s.add(None, gold([[1.0, 2.0]]), "MediaNotFoundError: gone")  # failed item: 0
    m = s.to_dict()["moment"]
    assert m["n"] == 5
    assert m["r1_iou0.5"] == round(2 / 5, 4) and m["r1_iou0.7"] == round(2 / 5, 4)
    assert m["miou"] == round((1 + 1 / 3 + 0.8) / 5, 4)
    assert s.to_dict()["failed"] == 1 and s.to_dict()["first_error"] == "MediaNotFoundError: gone"


def test_absent_media_groundings_are_not_scored():
    from reamo.evaluation.metrics import SetScores
    from reamo.records import Entity, Record

    g = Record("g", "ner", "Trump spoke", image="images/1.jpg", schema={"entity_types": ["person"]},
               entities=[Entity("Trump", "person", 0, 5, {"image": {"box": [0, 0, 5, 5]}})])
    g.extra["media_absent"] = ["image"]
    s = SetScores()
    s.add(Record("g", "ner", "Trump spoke", entities=[Entity("Trump", "person", 0, 5)]), g)
    d = s.to_dict()
    assert d["ner"]["f1"] == 1.0 and "image_miou" not in d and d["failed"] == 0


def test_answers_that_do_not_parse_and_labels_off_the_list_are_counted():
    """Parse the model's raw answers as extraction does, score them, and read the counts and P/R in the table."""
    from reamo.evaluation.report import markdown_table
    from reamo.evaluation.runner import score_predictions
    from reamo.records.formats import parse_answer

    text = "Alice met Bob in Paris"
    gold = [Record(f"g{i}", "ner", text, schema={"entity_types": ["person", "location"]},
                   entities=[Entity("Alice", "person", 0, 5), Entity("Paris", "location", 17, 22)]) for i in range(4)]
    answers = ["(Alice, person)(Paris, location)",  # right
               "(Alice, person)(Paris",  # a tuple cut off: does not parse (Alice still counts)
               "(Alice, person)(Bob, athlete)",  # a label that was not listed
               "(Alice person)"]  # malformed
    preds = {}
    for g, a in zip(gold, answers):
        res = parse_answer(a, "ner", g.schema, text)
        preds[g.id] = {"id": g.id, "task": "ner", "text": text,
                       "entities": [e.to_dict() for e in res.entities], "warnings": res.warnings}
    s = score_predictions(gold, preds).to_dict()
    assert (s["unparsed"], s["off_list"], s["failed"]) == (2, 1, 0)
    assert s["ner"]["tp"] == 4 and s["ner"]["n_pred"] == 5 and s["ner"]["n_gold"] == 8
    table = markdown_table({("T", "toy"): s})
    assert table.splitlines()[0].startswith("| input | set | items | failed | unparsed | off-list | P | R | F1 |")
    assert "| T | toy | 4 | 0 | 2 | 1 | 80.0 | 50.0 | 61.5 |" in table
