"""`reamo data convert --format NAME IN OUT.jsonl`."""
from __future__ import annotations

import json
import sys

from reamo.converters.registry import convert


def run(args) -> int:
    errors = []
    stats = convert(args.format, args.input, args.output, errors)
    for e in errors[:20]:
        print(f"skipped: {e}", file=sys.stderr)
    if len(errors) > 20:
        print(f"... and {len(errors) - 20} more bad lines", file=sys.stderr)
    print(json.dumps({"format": args.format, "output": args.output, **stats}))
    return 0
