"""Write docs/cli.md from the `reamo` parser: every command's --help, as the code prints it.

    .venv/bin/python scripts/write_cli_docs.py          # rewrite docs/cli.md
tests/test_docs.py fails when docs/cli.md differs from what this prints."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WIDTH = "100"  # argparse wraps help to $COLUMNS: fixed, so the page does not depend on the terminal

INTRO = """# Command line

`reamo COMMAND --help` prints each of these; this page is written from the same parser by
`.venv/bin/python scripts/write_cli_docs.py`, and `tests/test_docs.py` fails when the two differ. Errors in the
input (a missing file, a malformed line, a bad config key) end a command with a message naming the input and
exit status 2; a batch keeps its good items.
"""


def _commands(parser: argparse.ArgumentParser, prefix: list[str]):
    yield prefix, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _commands(sub, prefix + [name])


def render() -> str:
    os.environ["COLUMNS"] = WIDTH
    from reamo.cli import build_parser

    parts = [INTRO]
    for words, parser in _commands(build_parser(), []):
        title = "reamo " + " ".join(words) if words else "reamo"
        parts.append(f"## `{title}`\n\n```text\n{parser.format_help().rstrip()}\n```\n")
    return "\n".join(parts)


if __name__ == "__main__":
    out = ROOT / "docs" / "cli.md"
    out.write_text(render())
    print(f"wrote {out}", file=sys.stderr)
