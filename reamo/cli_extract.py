"""`reamo extract`: one input from flags, or a JSONL of inputs (with a progress bar)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from reamo.errors import InputError


def _load_model(spec: str):
    from reamo.api import Reamo

    p = Path(spec)
    if p.is_dir():
        return Reamo.from_pretrained(p)
    return Reamo.from_config(spec)


def _schema(args):
    if args.schema:
        try:
            return json.loads(Path(args.schema).read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise InputError(args.schema, f"cannot read the schema file: {e}") from None
    if args.labels:
        return [x.strip() for x in args.labels.split(",") if x.strip()]
    raise InputError("--labels", "give --labels a,b,c or --schema FILE")


def run_extract(args) -> int:
    schema = _schema(args)
    reamo = _load_model(args.model)
    base_dir = None
    if args.inputs:
        from reamo.records import read_jsonl

        path = Path(args.inputs)
        errors = []
        items = list(read_jsonl(path, errors=errors)) if path.is_file() else None
        if items is None:
            raise InputError(args.inputs, "inputs file not found")
        for e in errors:
            print(f"skipped: {e}", file=sys.stderr)
        base_dir = path.parent
        single = False
    else:
        item = {k: getattr(args, k) for k in ("text", "image", "audio", "video") if getattr(args, k)}
        items, single = [item], True
    results = reamo.extract(items, task=args.task, schema=schema, max_new_tokens=args.max_new_tokens,
                            batch_size=args.batch_size, progress=not single, base_dir=base_dir)
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        if single:
            out.write_text(results[0].to_json(indent=1))
        else:
            out.write_text("".join(r.to_json() + "\n" for r in results))
    else:
        for r in results:
            print(r.to_json(indent=1 if single else None))
    if args.viz and results:
        print(f"picture: {results[0].visualize(args.viz)}", file=sys.stderr)
    bad = [r for r in results if r.error]
    for r in bad:
        print(f"item {r.id}: {type(r.error).__name__}: {r.error}", file=sys.stderr)
    return 1 if single and bad else 0
