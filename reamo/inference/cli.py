"""`reamo extract`: one input from flags, or a JSONL of inputs (with a progress bar)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from reamo.errors import InputError


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
    from reamo.api import Reamo

    reamo = Reamo.load(args.model).eval(merge_lora=True)  # inference only: LoRA folded into the weights
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
    from reamo.inference.sharding import Shard

    shard = Shard.from_env()
    if shard.distributed and not single:
        return _run_sharded(reamo, items, schema, args, base_dir, shard)
    results = reamo.extract(items, task=args.task, schema=schema, max_new_tokens=args.max_new_tokens,
                            batch_size=args.batch_size, progress=not single, base_dir=base_dir,
                            copy_spans=args.copy_spans)
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
    if args.export:
        from reamo.export.cli import write_exports

        write_exports([r for r in results if r.ok], args.export, _export_dir(args))
    bad = [r for r in results if r.error]
    for r in bad:
        print(f"item {r.id}: {type(r.error).__name__}: {r.error}", file=sys.stderr)
    return 1 if single and bad else 0


def _export_dir(args) -> Path:
    if args.export_dir:
        return Path(args.export_dir)
    return Path(args.out).parent if args.out else Path("exports")


def _run_sharded(reamo, items, schema, args, base_dir, shard) -> int:
    """Under a launcher: this rank's share of the inputs, its part file, and rank 0's merge in input order."""
    from reamo.inference.sharding import merge_parts, write_part

    if not args.out:
        raise InputError("--out", "several processes need --out: each writes its part, rank 0 merges them there")
    mine = shard.take(items)
    results = reamo.extract([x for _, x in mine], task=args.task, schema=schema, max_new_tokens=args.max_new_tokens,
                            batch_size=args.batch_size, progress=shard.rank == 0, base_dir=base_dir,
                            copy_spans=args.copy_spans)
    for (i, record), r in zip(mine, results):  # ids as one process gives them: the record's, else the input index
        r.id = record.id or str(i)
    out = Path(args.out)
    write_part(shard.part(out), [(i, r.to_json()) for (i, _), r in zip(mine, results)])
    for r in results:
        if r.error:
            print(f"item {r.id}: {type(r.error).__name__}: {r.error}", file=sys.stderr)
    shard.barrier()
    if shard.rank == 0:
        n = merge_parts(shard.parts(out), out)
        print(f"{n} results from {shard.world} processes in {out}", file=sys.stderr)
        if args.export:  # from the merged file: the same files as one process writes
            from reamo.export.cli import read_results, write_exports

            write_exports(read_results(out), args.export, _export_dir(args))
    shard.barrier()
    return 0
