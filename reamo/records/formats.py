"""Reamo's answer formats (DESIGN.md 3.2): written for training targets and parsed from model output.

    NER  (Nancy Ajram, person)(Lebanon, location)
    RE   (Rafael Nadal, couple, Mery Perello)
    EE   (Type: Justice:Arrest-Jail, Trigger: custody, Person: man, Agent: officers)
    then the meta-response, one instruction per grounded item:
         <Module>ImageSegmentation</Module><Instruction>Nancy Ajram</Instruction>
    nothing to extract:  None

Rules that keep writing and parsing unambiguous:
- inside a field, "\\", "(" and ")" are written escaped as "\\\\", "\\(" and "\\)";
- NER splits a tuple at its LAST ", " (types hold no ", ");
- RE: with a schema, the relation is the schema label standing between ", " separators (longest first);
  without one, a tuple of exactly three ", "-separated fields;
- EE: fields are "Key: value" pairs separated by ", " where the next key has no ",", ":" or parentheses.
The parser never raises: malformed pieces are skipped and reported in `warnings`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from reamo.records import Argument, Entity, Event, Record, Relation, Span

MODULE_OF = {"image": "ImageSegmentation", "audio": "AudioSegmentation", "video": "VideoTracking"}
MODALITY_OF = {v: k for k, v in MODULE_OF.items()}
NO_RESULT = "None"
_META_RE = re.compile(r"<Module>(.*?)</Module>\s*<Instruction>(.*?)</Instruction>", re.S)
_EE_SPLIT = re.compile(r", (?=[^,:()\\]+: )")


def escape(s: str) -> str:
    return s.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def unescape(s: str) -> str:
    return re.sub(r"\\(.)", r"\1", s)


def norm(s: str) -> str:
    return " ".join(s.split()).casefold()


# ---- writing -------------------------------------------------------------------------------------------
@dataclass
class GroundedPhrase:
    """One instruction of a target answer and the gold grounding it must produce."""

    module: str
    phrase: str
    grounding: dict


def _instructions_for(text: str, grounding: dict, out: list[GroundedPhrase], seen: set) -> None:
    for modality in ("image", "audio", "video"):
        if grounding.get(modality) is not None and (text, modality) not in seen:
            seen.add((text, modality))
            out.append(GroundedPhrase(MODULE_OF[modality], text, grounding[modality]))


def answer_and_groundings(record: Record, ground: bool = True) -> tuple[str, list[GroundedPhrase]]:
    """The target answer of a record and, in the same order as its instructions, their gold groundings."""
    pieces, grounded, seen = [], [], set()
    if record.task == "ner":
        for e in record.entities:
            pieces.append(f"({escape(e.text)}, {escape(e.type)})")
            _instructions_for(e.text, e.grounding, grounded, seen)
    elif record.task == "re":
        for r in record.relations:
            h, t = r.resolve(record.entities)
            pieces.append(f"({escape(h.text)}, {escape(r.type)}, {escape(t.text)})")
            _instructions_for(h.text, h.grounding, grounded, seen)
            _instructions_for(t.text, t.grounding, grounded, seen)
    else:
        for ev in record.events:
            fields = [f"Type: {escape(ev.type)}", f"Trigger: {escape(ev.trigger.text)}"]
            fields += [f"{escape(a.role)}: {escape(a.text)}" for a in ev.arguments]
            pieces.append("(" + ", ".join(fields) + ")")
            _instructions_for(ev.trigger.text, ev.grounding, grounded, seen)
            for a in ev.arguments:
                _instructions_for(a.text, a.grounding, grounded, seen)
    labels = "".join(pieces) or NO_RESULT
    if not ground:
        return labels, []
    meta = "".join(f"<Module>{g.module}</Module><Instruction>{escape(g.phrase)}</Instruction>" for g in grounded)
    return labels + meta, grounded


def format_answer(record: Record, ground: bool = True) -> str:
    return answer_and_groundings(record, ground)[0]


# ---- parsing -------------------------------------------------------------------------------------------
@dataclass
class Instruction:
    module: str
    phrase: str
    end: int  # character offset of "</Instruction>" in the answer text
    targets: list[tuple[str, int]] = field(default_factory=list)  # ("entity"|"event"|"argument", index...)


@dataclass
class ParsedAnswer:
    entities: list[Entity] = field(default_factory=list)
    relations: list[Relation] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    instructions: list[Instruction] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def scan_tuples(text: str) -> tuple[list[tuple[int, int]], int | None, list[int]]:
    """Top-level parenthesised groups of `text`, honouring escapes: the (start, end) of each closed group's
    content, where the content of a group left open at the end starts (None: none is open), and the positions
    of unmatched ')'."""
    closed, stray, depth, start, i = [], [], 0, -1, 0
    while i < len(text):
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c == "(":
            if depth == 0:
                start = i + 1
            depth += 1
        elif c == ")":
            if depth == 0:
                stray.append(i)
            else:
                depth -= 1
                if depth == 0:
                    closed.append((start, i))
        i += 1
    return closed, (start if depth else None), stray


def _tuples(text: str, warnings: list[str]) -> list[str]:
    """Top-level parenthesised groups, honouring escapes; unbalanced groups are reported and skipped."""
    closed, open_at, stray = scan_tuples(text)
    warnings += [f"unmatched ')' at {i}" for i in stray]
    if open_at is not None:
        warnings.append(f"unterminated tuple: {text[open_at - 1:][:60]!r}")
    return [text[a:b] for a, b in closed]


def _split_unescaped(s: str, sep: str) -> list[str]:
    parts, cur, i = [], [], 0
    while i < len(s):
        if s[i] == "\\" and i + 1 < len(s):
            cur.append(s[i: i + 2])
            i += 2
            continue
        if s.startswith(sep, i):
            parts.append("".join(cur))
            cur = []
            i += len(sep)
            continue
        cur.append(s[i])
        i += 1
    parts.append("".join(cur))
    return parts


class _Locator:
    """Character offsets of extracted strings in the input text (first unused occurrence)."""

    def __init__(self, text: str | None, warnings: list[str]):
        self.text, self.used, self.warnings = text, set(), warnings

    def find(self, s: str) -> tuple[int | None, int | None]:
        if not self.text or not s:
            return None, None
        for hay, needle in ((self.text, s), (self.text.casefold(), s.casefold())):
            if len(hay) != len(self.text):
                continue
            start = hay.find(needle)
            first = None
            while start >= 0:
                first = start if first is None else first
                if (start, len(s)) not in self.used:
                    self.used.add((start, len(s)))
                    return start, start + len(s)
                start = hay.find(needle, start + 1)
            if first is not None:
                return first, first + len(s)
        self.warnings.append(f"{s!r} does not occur in the input text")
        return None, None


def parse_answer(answer: str, task: str, schema: dict | None = None, input_text: str | None = None,
                 warn_unknown_labels: bool = True) -> ParsedAnswer:
    res = ParsedAnswer()
    if not isinstance(answer, str):
        res.warnings.append(f"answer is not text: {type(answer).__name__}")
        return res
    w = res.warnings
    cut = answer.find("<Module>")
    labels_part = answer if cut < 0 else answer[:cut]
    loc = _Locator(input_text, w)
    schema = schema or {}
    known = {"ner": schema.get("entity_types"), "re": schema.get("relation_types"),
             "ee": list(schema.get("event_types", {}) or [])}.get(task)
    if labels_part.strip() not in ("", NO_RESULT):
        for tup in _tuples(labels_part, w):
            if task == "ner":
                _parse_ner(tup, res, loc, known, warn_unknown_labels)
            elif task == "re":
                _parse_re(tup, res, loc, known, warn_unknown_labels)
            elif task == "ee":
                _parse_ee(tup, res, loc, known, warn_unknown_labels)
            else:
                w.append(f"unknown task {task!r}")
                break
    if input_text:
        _drop_repeats(res)
    _parse_meta(answer, res)
    return res


def _drop_repeats(res: ParsedAnswer) -> None:
    """An item stated again (the same strings at the same places in the text) is one claim, not two: a greedy
    decoder that loops restates its last items until the length limit. A second mention of a name that occurs
    twice in the text is located at its second occurrence, so it differs and is kept; without the input text
    nothing tells two mentions apart, and nothing is dropped."""
    for name in ("entities", "relations", "events"):
        items, kept = getattr(res, name), []
        for item in items:
            if item not in kept:
                kept.append(item)
        if len(kept) < len(items):
            res.warnings.append(f"repeated {name} dropped: {len(items) - len(kept)}")
            setattr(res, name, kept)


def _label_ok(label: str, known, res: ParsedAnswer, warn: bool) -> None:
    if known and warn and label not in known:
        res.warnings.append(f"label {label!r} is not in the schema (kept)")


def _parse_ner(tup, res, loc, known, warn):
    parts = _split_unescaped(tup, ", ")
    if len(parts) < 2 or not parts[-1].strip() or not ", ".join(parts[:-1]).strip():
        res.warnings.append(f"malformed entity tuple skipped: ({tup[:60]})")
        return
    text, typ = unescape(", ".join(parts[:-1])).strip(), unescape(parts[-1]).strip()
    _label_ok(typ, known, res, warn)
    s, e = loc.find(text)
    res.entities.append(Entity(text, typ, s, e))


def _parse_re(tup, res, loc, known, warn):
    parts = _split_unescaped(tup, ", ")
    split = None
    if known and len(parts) >= 3:
        for i in range(1, len(parts) - 1):
            if unescape(parts[i]).strip() in known:
                split = i
                break
    if split is None and len(parts) == 3:
        split = 1
    if split is None:
        res.warnings.append(f"malformed relation tuple skipped: ({tup[:60]})")
        return
    head = unescape(", ".join(parts[:split])).strip()
    rel = unescape(parts[split]).strip()
    tail = unescape(", ".join(parts[split + 1:])).strip()
    if not head or not tail or not rel:
        res.warnings.append(f"relation tuple with an empty field skipped: ({tup[:60]})")
        return
    _label_ok(rel, known, res, warn)
    hs, he = loc.find(head)
    ts, te = loc.find(tail)
    res.relations.append(Relation(Entity(head, "", hs, he), Entity(tail, "", ts, te), rel))


def _parse_ee(tup, res, loc, known, warn):
    fields = []
    for f in _EE_SPLIT.split(tup):
        k, sep, v = f.partition(": ")
        if not sep or not k.strip():
            res.warnings.append(f"malformed event field skipped: {f[:40]!r}")
            continue
        fields.append((unescape(k).strip(), unescape(v).strip()))
    d = dict(fields[:2])
    if not fields or fields[0][0] != "Type" or not fields[0][1]:
        res.warnings.append(f"event tuple without a Type skipped: ({tup[:60]})")
        return
    typ = fields[0][1]
    _label_ok(typ, known, res, warn)
    trig = d.get("Trigger", "")
    ts, te = loc.find(trig) if trig else (None, None)
    args = []
    for k, v in fields[1:]:
        if k == "Trigger" or not v:
            continue
        s, e = loc.find(v)
        args.append(Argument(k, v, s, e))
    res.events.append(Event(typ, Span(trig, ts, te), args))


def _parse_meta(answer: str, res: ParsedAnswer) -> None:
    consumed = 0
    for m in _META_RE.finditer(answer):
        module, phrase = m.group(1).strip(), unescape(m.group(2)).strip()
        if module not in MODALITY_OF:
            res.warnings.append(f"unknown module {module!r} skipped")
            consumed = m.end()
            continue
        if not phrase:
            res.warnings.append(f"empty instruction for {module} skipped")
            consumed = m.end()
            continue
        ins = Instruction(module, phrase, m.end() - len("</Instruction>"))
        key = norm(phrase)
        ins.targets += [("entity", i) for i, e in enumerate(res.entities) if norm(e.text) == key]
        for i, r in enumerate(res.relations):
            for side, ent in (("head", r.head), ("tail", r.tail)):
                if isinstance(ent, Entity) and norm(ent.text) == key:
                    ins.targets.append((f"relation_{side}", i))
        for i, ev in enumerate(res.events):
            if norm(ev.trigger.text) == key:
                ins.targets.append(("event", i))
            ins.targets += [("argument", i, j) for j, a in enumerate(ev.arguments) if norm(a.text) == key]
        if not ins.targets:
            res.warnings.append(f"instruction {phrase!r} names no extracted item")
        res.instructions.append(ins)
        consumed = m.end()
    rest = answer[consumed:] if consumed else answer[answer.find("<Module>"):] if "<Module>" in answer else ""
    if "<Module>" in rest or "<Instruction>" in rest:
        res.warnings.append(f"unterminated meta-response skipped: {rest[:60]!r}")
