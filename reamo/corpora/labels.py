"""Label sampling for instruction tuning (as InstructUIE and UIE do): each training record is given a label list
that is not its dataset's fixed one, so that the model learns to read the labels it is given rather than
memorise them. Of a record's own types some are left out (its items of those types leave the answer: missing
types), types from the task's label pool that the record does not hold are added (negative types), and the
order is shuffled. Some records have their label names restyled (case and separators: "life.die" ->
"Life:Die", "live in" -> "LIVE_IN") in the prompt and the answer alike, so that the model copies the names as
listed instead of the spelling of its training sets. Some records have their labels renamed to other words for the
same type (a synonym list per label, `labels.synonyms`; event types named by the first two levels of their
ontology, "life.die.deathcausedbyviolentevents" -> "life.die"), in the prompt and the answer alike, so that the
model learns to answer with whatever name the list gives a type. Some relation records are asked about one
entity pair (relation classification, as MNRE poses it). Everything is drawn from the generator passed in,
so a seeded build is reproducible."""
from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from reamo.configbase import Config
from reamo.errors import InputError
from reamo.records import Record
from reamo.records.schemas import ITEM_FIELDS, LABEL_KEYS


@dataclass
class LabelSampling(Config):
    drop: float = 0.15  # each of the record's own types is left out with this probability (one always stays)
    negatives: list[int] = None  # how many pool types the record does not hold are added: uniform in [lo, hi]
    max_labels: int = 16  # at most this many labels in all (own types first, then negatives)
    shuffle: bool = True
    restyle: float = 0.0  # a record's label names (and EE roles) are restyled with this probability
    rename: float = 0.0  # a record's labels are renamed (synonyms; coarser event types) with this probability
    synonyms: str | None = None  # YAML {label: [other names]}, relative to the working directory (see load_synonyms)
    pairs: float = 0.0  # an RE record is asked about one entity pair (relation classification) with this probability

    def __post_init__(self):
        if self.negatives is None:
            self.negatives = [0, 4]
        self.check(0.0 <= self.drop < 1.0, "drop", "must be in [0, 1)")
        self.check(len(self.negatives) == 2 and 0 <= self.negatives[0] <= self.negatives[1], "negatives",
                   "must be [lo, hi] with 0 <= lo <= hi")
        self.check(self.max_labels >= 1, "max_labels", "must be >= 1")
        self.check(0.0 <= self.restyle <= 1.0, "restyle", "must be in [0, 1]")
        self.check(0.0 <= self.rename <= 1.0, "rename", "must be in [0, 1]")
        self.check(0.0 <= self.pairs <= 1.0, "pairs", "must be in [0, 1]")


def load_synonyms(path) -> dict[str, list[str]]:
    """{label: [other names]} from a YAML file; InputError naming the file (and the label) when it is missing,
    unreadable or not such a mapping."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise InputError(str(path), f"cannot read the label synonyms: {e}") from None
    if not isinstance(data, dict):
        raise InputError(str(path), "label synonyms must be a mapping {label: [other names]}")
    for k, v in data.items():
        if not isinstance(k, str) or not isinstance(v, list) or not v or not all(isinstance(x, str) and x.strip()
                                                                               for x in v):
            raise InputError(str(path), f"label {k!r}: its synonyms must be a non-empty list of names")
    return {k: [x.strip() for x in v] for k, v in data.items()}


def coarse_event_name(name: str) -> str | None:
    """An event type of a three-level ontology by its first two levels ("conflict.attack.n/a" -> "conflict.attack",
    as ACE names them: Conflict:Attack); None for a name of fewer levels."""
    levels = name.split(".")
    return ".".join(levels[:2]) if len(levels) >= 3 else None


CASES = ("lower", "upper", "title", "keep")
SEPARATORS = (None, ":", ".", " ", "_", "-")  # None: the name's own separators
_PARTS = re.compile(r"[./:_\- ]+")


def restyle_name(name: str, case: str, sep: str | None) -> str:
    """`name` in another spelling: its parts (split at . / : _ - and spaces) joined by `sep` and cased."""
    if sep is not None:
        name = sep.join(p for p in _PARTS.split(name) if p)
    if case == "lower":
        return name.lower()
    if case == "upper":
        return name.upper()
    if case == "title":
        return re.sub(r"(^|[./:_\- ])([a-z])", lambda m: m.group(1) + m.group(2).upper(), name)
    return name


def _restyled(rec: Record, rng: np.random.Generator) -> Record:
    """`rec` with every label name and role restyled in one drawn style, in its schema and its answer alike; the
    record unchanged where the style would merge two names."""
    case, sep = CASES[int(rng.integers(len(CASES)))], SEPARATORS[int(rng.integers(len(SEPARATORS)))]
    key = LABEL_KEYS[rec.task]
    labels = list(rec.schema[key])
    new = {t: restyle_name(t, case, sep) for t in labels}
    roles = sorted({r for t in labels for r in rec.schema[key][t]}) if rec.task == "ee" else []
    new_role = {r: restyle_name(r, case, sep) for r in roles}
    if len(set(new.values())) < len(new) or len(set(new_role.values())) < len(new_role) or not any(
            new[t] != t for t in labels):
        return rec
    return _relabelled(rec, new, new_role)


def _relabelled(rec: Record, new: dict[str, str], new_role: dict[str, str] | None = None) -> Record:
    """A copy of `rec` whose label names (and EE roles) are mapped by `new` (`new_role`), others kept, in its
    schema and its answer alike."""
    key, new_role = LABEL_KEYS[rec.task], new_role or {}
    out = copy.deepcopy(rec)
    if rec.task == "ee":
        out.schema[key] = {new.get(t, t): [new_role.get(r, r) for r in rs] for t, rs in rec.schema[key].items()}
        for ev in out.events:
            ev.type = new.get(ev.type, ev.type)
            for a in ev.arguments:
                a.role = new_role.get(a.role, a.role)
    else:
        out.schema[key] = [new.get(t, t) for t in rec.schema[key]]
        for x in getattr(out, ITEM_FIELDS[rec.task]):
            x.type = new.get(x.type, x.type)
    return out


def _renamed(rec: Record, synonyms: dict[str, list[str]], rng: np.random.Generator) -> Record:
    """`rec` with each listed label that has other names (its synonyms, or an event type's coarser name) given one
    of them, drawn among those no other label of the list is called; a label whose every other name is taken keeps
    its own. The record unchanged if two labels would still share a name."""
    labels = list(rec.schema[LABEL_KEYS[rec.task]])
    alts = {t: list(synonyms.get(t, [])) + ([coarse_event_name(t)] if rec.task == "ee" and coarse_event_name(t)
                                             else []) for t in labels}
    used = {t for t in labels if not alts[t]}
    new = {}
    for t in labels:
        free = [a for a in dict.fromkeys(alts[t]) if a not in used and a != t]
        if free:
            new[t] = free[int(rng.integers(len(free)))]
        used.add(new.get(t, t))
    names = [new.get(t, t) for t in labels]
    if not new or len(set(names)) < len(names):
        return rec
    return _relabelled(rec, new)


UNRELATED_PAIR = 1 / 3  # of the records asked about a pair, the share asked about a pair with no relation


def ask_pair(rec: Record, rng: np.random.Generator) -> Record:
    """`rec` (RE) asked about one (subject, object) pair, as MNRE and TACRED pose relation extraction: the schema's
    `entity_pairs` names it and the answer keeps that pair's relations only. The pair is one with a relation in the
    answer or, with probability UNRELATED_PAIR (or when none has one), two of the record's entities with none (its
    answer: None). The record unchanged when it has no such pair."""
    args = [r.resolve(rec.entities) for r in rec.relations]
    related = list(dict.fromkeys((h.text, t.text) for h, t in args))
    names = list(dict.fromkeys(e.text for e in rec.entities))
    unrelated = [(a, b) for a in names for b in names if a != b and (a, b) not in related]
    choose = unrelated if unrelated and (not related or rng.random() < UNRELATED_PAIR) else related
    if not choose:
        return rec
    pair = choose[int(rng.integers(len(choose)))]
    out = copy.deepcopy(rec)
    out.relations = [r for r, (h, t) in zip(out.relations, args) if (h.text, t.text) == pair]
    out.schema["entity_pairs"] = [list(pair)]
    return out


def own_types(rec: Record) -> list[str]:
    """The types a record's answer uses, in first-seen order."""
    return list(dict.fromkeys(x.type for x in getattr(rec, ITEM_FIELDS[rec.task])))


def schema_types(task: str, schema: dict) -> list[str]:
    return list(schema.get(LABEL_KEYS[task], []))


def sample_labels(rec: Record, pool: list[str], roles: dict[str, list[str]], cfg: LabelSampling,
                  rng: np.random.Generator, synonyms: dict[str, list[str]] | None = None) -> Record:
    """A copy of `rec` whose schema is a sampled label list and whose answer keeps only the items of the listed
    types. `pool`: every label of the task in the mixture; `roles`: event type -> roles (EE); `synonyms`: other
    names per label (load_synonyms), for `cfg.rename`."""
    out = copy.deepcopy(rec)
    own = own_types(rec)
    keep = [t for t in own if rng.random() >= cfg.drop]
    if own and not keep:
        keep = [own[int(rng.integers(len(own)))]]
    # a record with no items keeps a few of its dataset's labels (nothing of them is in it: that is the answer)
    others = [t for t in pool if t not in own]
    lo, hi = cfg.negatives
    n_neg = int(rng.integers(lo, hi + 1)) if others else 0
    if not own:
        n_neg = max(n_neg, 1)
    neg = [others[i] for i in rng.choice(len(others), min(n_neg, len(others)), replace=False)] if others else []
    labels = (keep + neg)[: cfg.max_labels]
    if cfg.shuffle:
        labels = [labels[i] for i in rng.permutation(len(labels))]
    listed = set(labels)
    field = ITEM_FIELDS[rec.task]
    setattr(out, field, [x for x in getattr(out, field) if x.type in listed])
    out.schema = {LABEL_KEYS[rec.task]: {t: list(roles.get(t, [])) for t in labels} if rec.task == "ee" else labels}
    if rec.task == "re" and rec.schema.get("entity_types"):
        out.schema["entity_types"] = list(rec.schema["entity_types"])
    if rec.schema.get("entity_pairs"):
        out.schema["entity_pairs"] = [list(p) for p in rec.schema["entity_pairs"]]
    elif rec.task == "re" and cfg.pairs and rng.random() < cfg.pairs:
        out = ask_pair(out, rng)
    if cfg.rename and rng.random() < cfg.rename:
        out = _renamed(out, synonyms or {}, rng)
    if cfg.restyle and rng.random() < cfg.restyle:
        out = _restyled(out, rng)
    return out
