"""`reamo eval`: score a prediction file against gold, or run the zero-shot benchmark with a model."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from reamo.errors import InputError


def run(args) -> int:
    from reamo.evaluation.report import markdown_table, write_report

    out = Path(args.out)
    if args.predictions or args.gold:
        if not (args.predictions and args.gold):
            raise InputError("reamo eval", "--predictions and --gold go together")
        from reamo.evaluation.scorer import score_files

        scores, errors = score_files(args.predictions, args.gold)
        for e in errors:
            print(f"skipped: {e}", file=sys.stderr)
        results = {("file", Path(args.gold).stem): scores}
        write_report(results, out)
        print(markdown_table(results))
        print(json.dumps({k: v for k, v in scores.items() if k != "errors"}, indent=1))
        return 0
    if not (args.model and args.benchmark):
        raise InputError("reamo eval", "give --model and --benchmark, or --predictions and --gold")
    from reamo.api import Reamo
    from reamo.evaluation.runner import run_benchmark

    results = run_benchmark(Reamo.load(args.model).eval(merge_lora=True), args.benchmark, out, args.batch_size, args.limit,
                            max_new_tokens=args.max_new_tokens, copy_spans=args.copy_spans)
    if results:  # under a launcher only rank 0 reports
        print(markdown_table(results))
    return 0
