"""Where Reamo looks for things a user did not name."""
from __future__ import annotations

import os
from pathlib import Path


def default_shared_data() -> Path | None:
    """The folder of real third-party data: $REAMO_SHARED_DATA, else ../shared/data beside the working
    directory, when it exists."""
    env = os.environ.get("REAMO_SHARED_DATA")
    for cand in ([Path(env)] if env else []) + [Path.cwd().parent / "shared" / "data"]:
        if cand.is_dir():
            return cand
    return None
