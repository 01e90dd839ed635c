"""Answer formats: write -> parse round trips, offsets, instruction linking, and fuzzing (never raises)."""
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reamo.records.formats import (NO_RESULT, Instruction, ParsedAnswer, answer_and_groundings, format_answer,
                           parse_answer)
from reamo.records import Argument, Entity, Event, Record, Relation, Span

IMG = {"image": {"box": [0, 0, 2, 2], "mask_rle": {"size": [2, 2], "counts": "04"}}}
AUD = {"audio": {"spans": [[0.5, 1.0]]}}


def test_ner_round_trip_with_groundings_and_offsets():
    text = "Nancy Ajram sang in Lebanon, then Nancy Ajram left"
    rec = Record("1", "ner", text, entities=[Entity("Nancy Ajram", "person", 0, 11, IMG),
                                             Entity("Lebanon", "location", 20, 27, AUD),
                                             Entity("Nancy Ajram", "person", 34, 45)])
    ans, grounded = answer_and_groundings(rec)
    assert ans == ("(Nancy Ajram, person)(Lebanon, location)(Nancy Ajram, person)"
                   "<Module>ImageSegmentation</Module><Instruction>Nancy Ajram</Instruction>"
                   "<Module>AudioSegmentation</Module><Instruction>Lebanon</Instruction>")
    assert [(g.module, g.phrase) for g in grounded] == [("ImageSegmentation", "Nancy Ajram"), ("AudioSegmentation", "Lebanon")]
    p = parse_answer(ans, "ner", {"entity_types": ["person", "location"]}, input_text=text)
    assert [(e.text, e.type, e.start, e.end) for e in p.entities] == [
        ("Nancy Ajram", "person", 0, 11), ("Lebanon", "location", 20, 27), ("Nancy Ajram", "person", 34, 45)]
    assert [(i.module, i.phrase) for i in p.instructions] == [("ImageSegmentation", "Nancy Ajram"), ("AudioSegmentation", "Lebanon")]
    assert p.instructions[0].targets == [("entity", 0), ("entity", 2)]
    assert ans[p.instructions[1].end:].startswith("</Instruction>")
    assert not p.warnings


def test_re_and_ee_round_trip_with_tricky_text():
    ents = [Entity("Smith, Jr. (the elder)", "person"), Entity("Acme: Inc", "organization")]
    rec = Record("2", "re", entities=ents, relations=[Relation(0, 1, "works for")])
    p = parse_answer(format_answer(rec), "re", {"relation_types": ["works for"]})
    assert [(r.head.text, r.type, r.tail.text) for r in p.relations] == [("Smith, Jr. (the elder)", "works for", "Acme: Inc")]
    ev = Event("Justice:Arrest-Jail", Span("custody"), [Argument("Person", "man", grounding=IMG), Argument("Agent", "officers")])
    p = parse_answer(format_answer(Record("3", "ee", events=[ev])), "ee")
    assert p.events[0].type == "Justice:Arrest-Jail" and p.events[0].trigger.text == "custody"
    assert [(a.role, a.text) for a in p.events[0].arguments] == [("Person", "man"), ("Agent", "officers")]
    assert p.instructions[0].targets == [("argument", 0, 0)]


def test_no_result_and_unknown_labels_are_kept_with_warning():
    assert format_answer(Record("4", "ner")) == NO_RESULT
    assert parse_answer(NO_RESULT, "ner").entities == []
    p = parse_answer("(Paris, city)", "ner", {"entity_types": ["location"]})
    assert p.entities[0].type == "city" and any("not in the schema" in w for w in p.warnings)


def test_a_restated_item_counts_once_and_a_second_occurrence_is_kept():
    text = "Ann met Bob in Rome ; Ann left Rome"
    loop = "(Ann, live in, Rome)(Bob, live in, Rome)" + "(Ann, live in, Rome)" * 3 + "(Ann, live in, Ro"
    p = parse_answer(loop, "re", {"relation_types": ["live in"]}, input_text=text)
    # each name is placed at its first unused occurrence: the first restatement finds the second "Ann" and is
    # kept; later ones find nothing new
    assert [(r.head.text, r.head.start, r.tail.start) for r in p.relations] == [
        ("Ann", 0, 15), ("Bob", 8, 31), ("Ann", 22, 15)]
    assert "repeated relations dropped: 2" in p.warnings
    p = parse_answer("(Thai, live in, Lomosak)" * 4, "re", input_text=text)
    assert len(p.relations) == 1 and "repeated relations dropped: 3" in p.warnings
    p = parse_answer("(Ann, person)(Ann, person)(Ann, person)<Module>ImageSegmentation</Module><Instruction>Ann"
                     "</Instruction>", "ner", input_text=text)
    assert [(e.start, e.end) for e in p.entities] == [(0, 3), (22, 25)]
    assert p.instructions[0].targets == [("entity", 0), ("entity", 1)]
    # without the input text nothing places a mention, so a name listed twice stays twice
    assert len(parse_answer("(Ann, person)(Ann, person)", "ner").entities) == 2
    ev = "(Type: Die, Trigger: left, Victim: Ann)"
    p = parse_answer(ev * 2, "ee", input_text=text)
    assert len(p.events) == 2  # the second names the second Ann
    p = parse_answer(ev * 3, "ee", input_text=text)
    assert len(p.events) == 2 and "repeated events dropped: 1" in p.warnings


def test_malformed_pieces_are_skipped_with_warnings():
    p = parse_answer("(good, person)(broken)(x, y, z, w)(unterminated, person<Module>Video", "ner")
    assert [e.text for e in p.entities] == ["good", "x, y, z"]
    assert p.warnings
    p = parse_answer("(a, b, c)<Module>Nope</Module><Instruction>a</Instruction><Module>ImageSegmentation</Module>"
                     "<Instruction>zz</Instruction>", "re")
    assert len(p.relations) == 1 and [i.phrase for i in p.instructions] == ["zz"]
    assert any("unknown module" in w for w in p.warnings) and any("names no extracted item" in w for w in p.warnings)


def _well_formed(p: ParsedAnswer, text):
    assert isinstance(p, ParsedAnswer)
    for e in p.entities:
        assert isinstance(e.text, str) and isinstance(e.type, str)
        if e.start is not None:
            assert 0 <= e.start <= e.end <= len(text) and text[e.start:e.end].casefold() == e.text.casefold()
    for r in p.relations:
        assert isinstance(r.head, Entity) and isinstance(r.tail, Entity) and r.type
    for ev in p.events:
        assert ev.type and all(a.role and a.text for a in ev.arguments)
    for i in p.instructions:
        assert isinstance(i, Instruction) and i.module in ("ImageSegmentation", "AudioSegmentation", "VideoTracking")
    assert all(isinstance(w, str) for w in p.warnings)


PIECES = st.sampled_from(["(", ")", ", ", ": ", "Type: ", "Trigger: ", "\\", "<Module>", "</Module>", "<Instruction>",
                          "</Instruction>", "ImageSegmentation", "VideoTracking", "None", "person", "Kennedy", "é", "\n"])


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(max_size=200), st.lists(st.one_of(PIECES, st.text(max_size=5)), max_size=40).map("".join)),
       st.sampled_from(["ner", "re", "ee", "xx"]), st.text(max_size=60))
def test_fuzz_parser_never_raises(answer, task, text):
    _well_formed(parse_answer(answer, task, {"entity_types": ["person"], "relation_types": ["r"]}, input_text=text), text)


names = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=20).filter(
    lambda s: s.strip() == s and "  " not in s and s != NO_RESULT and not s.endswith("\\"))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(names, st.sampled_from(["person", "location", "org"])), min_size=1, max_size=4))
def test_ner_write_parse_round_trip_property(items):
    rec = Record("p", "ner", entities=[Entity(t, ty) for t, ty in items])
    p = parse_answer(format_answer(rec), "ner")
    assert [(e.text, e.type) for e in p.entities] == items
