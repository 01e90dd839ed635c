"""`reamo export` (saved results -> formats other tools read) and the `--export` of `reamo extract`."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from reamo.errors import InputError, RecordError
from reamo.export import export_results
from reamo.records import read_jsonl


def write_exports(results, formats: list[str], out_dir: str | Path, fps: float | None = None) -> int:
    """Export `results` in each format under `out_dir`, printing what was written and what was left out;
    the number of results left out."""
    left_out = 0
    for fmt in formats:
        rep = export_results(results, fmt, out_dir, fps=fps)
        for e in rep.skipped:
            print(f"export {fmt}: skipped {e}", file=sys.stderr)
        left_out += len(rep.skipped)
        print(f"export {fmt}: {len(rep.files)} files in {out_dir}", file=sys.stderr)
    return left_out


def read_results(path: Path) -> list:
    """The results of `reamo extract --out`: one JSON object (as a dict), or JSONL read as records (a malformed
    line is reported with its line number and the others kept)."""
    if not path.is_file():
        raise InputError(path, "results file not found")
    try:
        one = json.loads(path.read_text())
        if isinstance(one, dict):
            return [one]
    except json.JSONDecodeError:
        pass
    errors: list[RecordError] = []
    records = list(read_jsonl(path, errors=errors))
    for e in errors:
        print(f"skipped: {e}", file=sys.stderr)
    return records


def run_export(args) -> int:
    results = read_results(Path(args.results))
    write_exports(results, args.format, args.out, fps=args.fps)
    return 0
