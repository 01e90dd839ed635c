"""`reamo data mix`: build the phase-1 mixture from a YAML config and print its manifest's summary."""
from __future__ import annotations

import json
import logging

from reamo.corpora.mixture import MixtureConfig, build_mixture
from reamo.paths import named_paths


def run(args, overrides: dict) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    cfg = MixtureConfig.from_yaml(args.config, overrides)
    m = build_mixture(cfg, args.out, named_paths(args.source, "--source"))
    summary = {"out": args.out, "examples": m["examples"], "tasks": m["tasks"],
               "sources": {s["name"]: s["examples"] for s in m["sources"]},
               "eval": {f"{e['role']}/{e['name']}": e["records"] for e in m["eval"]},
               "left_out": [x["name"] for x in m["left_out"]]}
    print(json.dumps(summary, indent=1))
    return 0
