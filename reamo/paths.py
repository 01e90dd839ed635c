"""Where Reamo looks for things a user did not name."""
from __future__ import annotations

import os
from pathlib import Path

from reamo.errors import InputError


def default_shared_data() -> Path | None:
    """The folder of real third-party data: $REAMO_SHARED_DATA, else ../shared/data beside the working
    directory, when it exists."""
    env = os.environ.get("REAMO_SHARED_DATA")
    for cand in ([Path(env)] if env else []) + [Path.cwd().parent / "shared" / "data"]:
        if cand.is_dir():
            return cand
    return None


def named_paths(values: list[str] | None, flag: str, name: str = "NAME", must_exist: bool = False) -> dict[str, str]:
    """`NAME=PATH` command-line pairs (e.g. --source, --videos) as {name: path}; InputError naming the flag when a
    pair is malformed (or, with `must_exist`, names a path that does not exist)."""
    out = {}
    for v in values or []:
        key, sep, path = v.partition("=")
        if not sep or not key.strip() or not path:
            raise InputError(flag, f"expected {name}=PATH, got {v!r}")
        if must_exist and not Path(path).exists():
            raise InputError(flag, f"{path} does not exist")
        out[key.strip()] = path
    return out
