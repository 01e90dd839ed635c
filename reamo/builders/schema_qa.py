"""MS-PIT stage 1a data: textual event-schema instructions generated from annotated events.

MS-PIT injects the textual event schema with question-answer instructions about event concepts: which event types a
sentence holds and why, the trigger as the evidence, which roles a type has and which words fill them, and a
reasoning chain that ends in the extraction answer, each question kind asked in several paraphrases. The paper has
an LLM write them; no LLM is at hand here, so they are templates over the annotations (the types, triggers, roles
and arguments of the record and the roles of its schema), drawn per record with a seeded generator.

Each instruction is `{"kind", "question", "answer"}`; a record keeps them in `extra["schema_qa"]`, and the
schema_text phase trains on each of them beside the record's own extraction example (training/examples.py)."""
from __future__ import annotations

import zlib
from typing import Iterable, Iterator

import numpy as np

from reamo.errors import InputError, ReamoError
from reamo.records import Record
from reamo.records.formats import answer_and_groundings
from reamo.records.schemas import normalize_schema
from reamo.records.shards import Sample

QA_KEY = "schema_qa"
KINDS = ("types", "trigger", "roles", "arguments", "reasoning")
# several paraphrases per question kind ({type}, {trigger}, {role} filled in)
QUESTIONS = {
    "types": ("Which event types does the text hold, and why?",
              "What kinds of events happen in the text? Explain.",
              "Name the event types the text describes and the evidence for each.",
              "Does the text report any of the schema's events? Which ones, and what shows it?"),
    "trigger": ("Which word is the evidence of the {type} event?",
                "What word in the text triggers the {type} event?",
                "Which word signals that a {type} event happens?"),
    "roles": ("Which roles does an event of type {type} have?",
              "What participants can a {type} event take?",
              "List the argument roles of the event type {type}."),
    "arguments": ("Which words fill the {role} role of the {type} event triggered by \"{trigger}\"?",
                  "Who or what is the {role} of the {type} event (\"{trigger}\")?",
                  "In the {type} event signalled by \"{trigger}\", what is the {role}?"),
    "reasoning": ("Extract the events step by step, then give the answer.",
                  "Reason about the events in the text one step at a time and end with the answer.",
                  "Think through the event types, triggers and arguments, then answer."),
}
NONE = "none"


def _roles(schemas: list[dict], event) -> list[str]:
    """The roles of the event's type in the first schema that gives them, else the roles its arguments take."""
    for s in schemas:
        if s["event_types"].get(event.type):
            return list(s["event_types"][event.type])
    return list(dict.fromkeys(a.role for a in event.arguments))


def _fillers(event, role: str) -> list[str]:
    return [a.text for a in event.arguments if a.role == role]


def _types_answer(rec: Record) -> str:
    if not rec.events:
        return f"The text holds none of the schema's event types. Answer: {NONE}."
    why = "; ".join(f"{ev.type}, because \"{ev.trigger.text}\" describes it" for ev in rec.events)
    return f"The text holds {why}."


def _reasoning_answer(rec: Record, schemas: list[dict]) -> str:
    answer = answer_and_groundings(rec, ground=False)[0]
    if not rec.events:
        return f"Step 1: no word of the text describes an event of the schema's types. Answer: {answer}"
    steps = []
    for k, ev in enumerate(rec.events, 1):
        roles = _roles(schemas, ev)
        fills = "; ".join(f"{r} is {', '.join(_fillers(ev, r)) or NONE}" for r in roles) or "it has no roles"
        steps.append(f"Step {k}: \"{ev.trigger.text}\" signals a {ev.type} event, whose roles are "
                     f"{', '.join(roles) or NONE}; {fills}.")
    return " ".join(steps) + f" Answer: {answer}"


def schema_instructions(rec: Record, rng: np.random.Generator, schema: dict | None = None) -> list[dict]:
    """The stage-1a instructions of one text EE record: one question of each kind per event (the roles and
    arguments question for one role drawn per event), with a paraphrase drawn for each. The roles of a type come
    from `schema`, else the record's own schema, else its annotated arguments."""
    if rec.task != "ee" or not rec.text:
        raise ValueError("schema instructions need a text event-extraction record")
    schemas = [normalize_schema("ee", s) for s in (schema, rec.schema) if s is not None]

    def ask(kind: str, **slots) -> str:
        q = QUESTIONS[kind]
        return q[int(rng.integers(len(q)))].format(**slots)

    out = [{"kind": "types", "question": ask("types"), "answer": _types_answer(rec)}]
    for ev in rec.events:
        roles = _roles(schemas, ev)
        out.append({"kind": "trigger", "question": ask("trigger", type=ev.type), "answer": ev.trigger.text})
        out.append({"kind": "roles", "question": ask("roles", type=ev.type), "answer": ", ".join(roles) or NONE})
        if roles:
            role = roles[int(rng.integers(len(roles)))]
            out.append({"kind": "arguments", "question": ask("arguments", type=ev.type, role=role,
                                                              trigger=ev.trigger.text),
                        "answer": ", ".join(_fillers(ev, role)) or NONE})
    out.append({"kind": "reasoning", "question": ask("reasoning"), "answer": _reasoning_answer(rec, schemas)})
    return out


def with_schema_instructions(rec: Record, seed: int = 0, schema: dict | None = None) -> Record:
    """A copy of `rec` with its stage-1a instructions in extra["schema_qa"] (text EE records; others unchanged).
    The draw depends on the seed and the record's id only, so a record gets the same questions in any file."""
    if rec.task != "ee" or not rec.text:
        return rec
    out = Record.from_dict(rec.to_dict())
    out.extra[QA_KEY] = schema_instructions(rec, np.random.default_rng([seed, zlib.crc32(rec.id.encode())]), schema)
    return out


def schema_qa(samples: Iterable[Sample], schema: dict | None = None, seed: int = 0,
              errors: list | None = None) -> Iterator[Sample]:
    """Stage-1a samples: the text EE records of `samples` with their instructions (other records are left out).
    A record the instructions cannot be made of (a bad schema) is reported in `errors` and skipped."""
    for s in samples:
        if s.record.task != "ee" or not s.record.text:
            continue
        try:
            yield Sample(with_schema_instructions(s.record, seed, schema), {})
        except (ReamoError, ValueError) as e:
            err = InputError(f"record {s.record.id}", f"no schema instructions: {e}")
            if errors is None:
                raise err from e
            errors.append(err)
