"""MS-PIT stage 1a data (reamo/builders/schema_qa.py): event-schema instructions generated from annotated events, on
the quickstart corpus's events and on real RAMS and WikiEvents events; the `schema-qa` builder; the schema_text
phase turning each instruction into a training example."""
import json
from collections import Counter

import numpy as np
import pytest

from reamo.builders import build
from reamo.builders.schema_qa import KINDS, QUESTIONS, schema_instructions, with_schema_instructions
from reamo.converters.registry import read_format
from reamo.errors import InputError
from reamo.records import Argument, Event, Record, Span, read_jsonl
from reamo.records.formats import answer_and_groundings, parse_answer


def _record():
    text = "Kalomi rode Bus 12 downtown."
    return Record("r1", "ee", text, schema={"event_types": {"Movement:Transport": ["Agent", "Vehicle"],
                                                             "Contact:Meet": ["Entity"]}},
                  events=[Event("Movement:Transport", Span("rode", 7, 11),
                                [Argument("Agent", "Kalomi", 0, 6), Argument("Vehicle", "Bus 12", 12, 18)])])


def test_each_question_kind_is_answered_from_the_annotation():
    rec = _record()
    qa = schema_instructions(rec, np.random.default_rng(0))
    by_kind = {q["kind"]: q for q in qa}
    assert set(by_kind) == set(KINDS) and len(qa) == len(KINDS)  # one event: one question of each kind
    assert by_kind["trigger"]["answer"] == "rode" and "Movement:Transport" in by_kind["trigger"]["question"]
    assert by_kind["roles"]["answer"] == "Agent, Vehicle"
    assert "Movement:Transport" in by_kind["types"]["answer"] and '"rode"' in by_kind["types"]["answer"]
    role = next(r for r in ("Agent", "Vehicle") if r in by_kind["arguments"]["question"])
    assert by_kind["arguments"]["answer"] == {"Agent": "Kalomi", "Vehicle": "Bus 12"}[role]
    # the reasoning chain ends in the extraction answer, which parses back to the annotated event
    chain = by_kind["reasoning"]["answer"]
    answer = chain.split("Answer: ", 1)[1]
    assert answer == answer_and_groundings(rec, ground=False)[0]
    parsed = parse_answer(answer, "ee", rec.schema, rec.text)
    assert [(e.type, e.trigger.text, [(a.role, a.text) for a in e.arguments]) for e in parsed.events] == \
        [("Movement:Transport", "rode", [("Agent", "Kalomi"), ("Vehicle", "Bus 12")])]
    # a role filled by nothing is answered "none"; a schema given as data supplies roles the record lacks
    qa = schema_instructions(rec, np.random.default_rng(0),
                             {"event_types": {"Movement:Transport": ["Destination"]}})
    assert next(q for q in qa if q["kind"] == "roles")["answer"] == "Destination"
    assert next(q for q in qa if q["kind"] == "arguments")["answer"] == "none"


def test_paraphrases_vary_and_the_draw_is_seeded_by_record():
    rec = _record()
    asked = Counter(q["question"] for s in range(60) for q in schema_instructions(rec, np.random.default_rng(s))
                    if q["kind"] == "types")
    assert len(asked) == len(QUESTIONS["types"])  # every paraphrase is used
    a, b = with_schema_instructions(rec, seed=3), with_schema_instructions(rec, seed=3)
    assert a.extra["schema_qa"] == b.extra["schema_qa"]
    other = Record.from_dict({**rec.to_dict(), "id": "r2"})
    draws = {json.dumps(with_schema_instructions(r, seed=s).extra["schema_qa"]) for s in range(4) for r in (rec, other)}
    assert len(draws) > 1
    # records other than text EE are left as they are
    ner = Record("n", "ner", "Kalomi", schema={"entity_types": ["person"]})
    assert with_schema_instructions(ner) is ner
    with pytest.raises(ValueError, match="text event-extraction"):
        schema_instructions(ner, np.random.default_rng(0))


@pytest.mark.parametrize("fmt,path", [("rams", "text/rams/dev.jsonlines"), ("wikievents", "text/wikievents/dev.jsonl")])
def test_real_events_give_instructions_for_every_event(fmt, path, data_dir, tmp_path):
    errors = []
    recs = [r for r in read_format(fmt, data_dir / path, errors) if r.events][:40]
    assert recs and errors == []
    for rec in recs:
        qa = with_schema_instructions(rec).extra["schema_qa"]
        kinds = Counter(q["kind"] for q in qa)
        assert kinds["trigger"] == kinds["roles"] == len(rec.events) and kinds["types"] == kinds["reasoning"] == 1
        triggers = [q["answer"] for q in qa if q["kind"] == "trigger"]
        assert triggers == [e.trigger.text for e in rec.events]
        for q, ev in zip([q for q in qa if q["kind"] == "roles"], rec.events):  # the roles of the real schema
            assert q["answer"] == ", ".join(rec.schema["event_types"][ev.type]) or q["answer"] == "none"
        assert qa[-1]["answer"].endswith(answer_and_groundings(rec, ground=False)[0])


def test_schema_qa_builder_writes_text_event_records_and_names_a_bad_line(tmp_path):
    src = tmp_path / "events.jsonl"
    ner = Record("n", "ner", "Kalomi", schema={"entity_types": ["person"]})
    src.write_text(json.dumps(_record().to_dict()) + "\n{not json\n" + json.dumps(ner.to_dict()) + "\n")
    m = build("schema-qa", {"records": str(src)}, tmp_path / "out", shards=False)
    got = list(read_jsonl(tmp_path / "out" / "records.jsonl"))
    assert [r.id for r in got] == ["r1"] and len(got[0].extra["schema_qa"]) == len(KINDS)
    assert m["samples"] == 1 and m["bad_entries"] == 1
    with pytest.raises(InputError, match="--records"):
        build("schema-qa", {}, tmp_path / "o2", shards=False)


def test_schema_text_phase_trains_on_each_instruction(tmp_path):
    from reamo.api import Reamo
    from reamo.synth import generate_corpus
    from training.config import TrainConfig
    from training.examples import PhaseExamples

    generate_corpus(tmp_path, {"train": 40, "dev": 2, "test": 2}, seed=1)
    cfg = TrainConfig.from_yaml("configs/phases/mspit_1a_schema_text.yaml", {
        "data.event_schema": None, "data.train": [str(tmp_path / "mspit_1a_schema_text.jsonl")]})
    px = PhaseExamples(Reamo.from_config("tiny").model, cfg)
    path = str(tmp_path / "mspit_1a_schema_text.jsonl")
    recs = list(read_jsonl(path))
    ee = next(r for r in recs if r.task == "ee")
    exs = px.examples(ee, path)
    assert len(exs) == 1 + len(ee.extra["schema_qa"])
    assert "Candidate labels" in exs[0].prompt and "Schema: " in exs[0].prompt
    for ex, qa in zip(exs[1:], ee.extra["schema_qa"]):
        assert qa["question"] in ex.prompt and ee.text in ex.prompt and ex.answer == qa["answer"]
    ner = next(r for r in recs if r.task == "ner")
    assert len(px.examples(ner, path)) == 1  # NER and RE records keep their one extraction example
