"""`reamo data mix`: build the phase-1 mixture from a YAML config and print its manifest's summary."""
from __future__ import annotations

import json
import logging

from reamo.corpora.mixture import MixtureConfig, build_mixture
from reamo.errors import InputError


def parse_sources(pairs: list[str]) -> dict[str, str]:
    out = {}
    for p in pairs:
        name, sep, path = p.partition("=")
        if not sep or not name or not path:
            raise InputError("--source", f"expected NAME=PATH, got {p!r}")
        out[name] = path
    return out


def run(args, overrides: dict) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    cfg = MixtureConfig.from_yaml(args.config, overrides)
    m = build_mixture(cfg, args.out, parse_sources(args.source))
    summary = {"out": args.out, "examples": m["examples"], "tasks": m["tasks"],
               "sources": {s["name"]: s["examples"] for s in m["sources"]},
               "eval": {f"{e['role']}/{e['name']}": e["records"] for e in m["eval"]},
               "left_out": [x["name"] for x in m["left_out"]]}
    print(json.dumps(summary, indent=1))
    return 0
