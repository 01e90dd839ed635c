"""`reamo export` (saved results -> formats other tools read) and the `--export` of `reamo extract`."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from reamo.errors import InputError, RecordError
from reamo.export import export_results


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


def read_results(path: Path) -> list[dict]:
    """The results of `reamo extract --out`: one JSON object, or JSONL (a malformed line is reported with its
    line number and the others kept)."""
    if not path.is_file():
        raise InputError(path, "results file not found")
    text = path.read_text()
    try:
        one = json.loads(text)
        if isinstance(one, dict):
            return [one]
    except json.JSONDecodeError:
        pass
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
        except json.JSONDecodeError as e:
            print(f"skipped: {RecordError(path, n, f'not JSON: {e.msg}')}", file=sys.stderr)
            continue
        if not isinstance(d, dict):
            print(f"skipped: {RecordError(path, n, 'not a JSON object')}", file=sys.stderr)
            continue
        out.append(d)
    return out


def run_export(args) -> int:
    results = read_results(Path(args.results))
    write_exports(results, args.format, args.out, fps=args.fps)
    return 0
