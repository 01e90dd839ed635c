"""`reamo bench build --out BENCH [--data DIR] [--per-set 200] [--no-speech] [--source FMT=PATH] [--videos FMT=DIR]`."""
from __future__ import annotations

import json
from pathlib import Path



def run(args) -> int:
    from reamo.benchmark.build import BuildOptions, build_benchmark
    from reamo.paths import default_shared_data, named_paths

    data = Path(args.data) if args.data else default_shared_data()
    opts = BuildOptions(data_dir=data, per_set=args.per_set, seed=args.seed, speech=not args.no_speech,
                        max_event_types=args.max_event_types, max_relation_types=args.max_relation_types,
                        sources=named_paths(args.source, "--source", "FORMAT", must_exist=True),
                        videos=named_paths(args.videos, "--videos", "FORMAT", must_exist=True))
    manifest = build_benchmark(args.out, opts)
    print(json.dumps({"out": args.out, "sets": {k: v["records"] for k, v in manifest["sets"].items()},
                      "skipped": manifest["skipped"], "build_s": manifest["build_s"]}, indent=1))
    return 0
