"""Records and the text formats: what Reamo reads and writes, with no torch.

`record` holds the typed record (entities, relations, events, their groundings) and JSONL reading/writing;
`formats` the answer and meta-response text the LLM speaks; `schemas` event schemas; `masks` RLE and boxes;
`results` what `Reamo.extract` returns. The record types are re-exported here: `from reamo.records import Record`.
"""
from reamo.records.record import (  # noqa: F401
    MODALITIES,
    TASKS,
    Argument,
    Entity,
    Event,
    Record,
    Relation,
    Span,
    read_jsonl,
    write_jsonl,
)
