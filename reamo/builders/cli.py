"""`reamo data build SOURCE --out DIR ...`: one builder of reamo.builders, its summary printed."""
from __future__ import annotations

import json
import logging

from reamo.builders.registry import BUILDERS, build


def add_parsers(dsub, func) -> None:
    b = dsub.add_parser("build", help="build training data (webdataset shards) from public corpora: phases 2-4, MS-PIT stage 1a")
    bsub = b.add_subparsers(dest="builder", required=True)
    for name, spec in BUILDERS.items():
        p = bsub.add_parser(name, help=f"phase {spec.phase}: {spec.help}")
        for arg, help_ in spec.args:
            p.add_argument(f"--{arg}", required=arg not in spec.optional, help=help_)
        p.add_argument("--out", required=True, help="the output folder (shards, or records.jsonl + media/)")
        p.add_argument("--jsonl", action="store_true", help="write records.jsonl + media/ instead of shards")
        p.add_argument("--maxcount", type=int, default=10000, help="samples per shard (default: 10000)")
        p.set_defaults(func=func)


def run(args) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    spec = BUILDERS[args.builder]
    inputs = {arg.replace("-", "_"): getattr(args, arg.replace("-", "_")) for arg, _ in spec.args}
    m = build(args.builder, inputs, args.out, shards=not args.jsonl, maxcount=args.maxcount)
    print(json.dumps({k: m[k] for k in ("builder", "phase", "samples", "media", "bad_entries")}, indent=1))
    return 0
