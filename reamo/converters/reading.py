"""Reading dataset files: a whole JSON file or JSON lines, a bad line reported (file and line) without
losing the others, through one `report`."""
from __future__ import annotations

import json
from pathlib import Path

from reamo.errors import RecordError

_BAD = object()


def report(errors: list | None, path, line: int | None, problem: str) -> None:
    """Record a bad line (or raise when the caller keeps no error list)."""
    err = RecordError(path, line, problem)
    if errors is None:
        raise err
    errors.append(err)


def read_json(path: Path, errors: list | None):
    """A whole JSON file, or None (reported with the line of the syntax error)."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        report(errors, path, e.lineno, f"not valid JSON: {e.msg}")
        return None


def json_lines(path: Path, errors: list | None):
    """(line number, object) of each JSON line; a line that does not parse is reported and skipped."""
    for lineno, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            yield lineno, json.loads(line)
        except json.JSONDecodeError as e:
            report(errors, path, lineno, f"not valid JSON: {e.msg}")
