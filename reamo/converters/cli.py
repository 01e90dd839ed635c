"""`reamo data convert --format NAME IN OUT.jsonl`."""
from __future__ import annotations

import json

from reamo.converters.formats import convert


def run(args) -> int:
    stats = convert(args.format, args.input, args.output)
    print(json.dumps({"format": args.format, "output": args.output, **stats}))
    return 0
