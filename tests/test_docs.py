"""The documentation: README within its length, every relative link resolving, docs/cli.md equal to the parser's
--help, every option with a help string, and the Python examples of docs/api.md and README.md running as written."""
from __future__ import annotations

import argparse
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted((ROOT / "docs").glob("*.md"))


def _python_blocks(path: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", path.read_text(), flags=re.S)


def test_readme_is_short_and_links_its_docs():
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 150
    for page in ("quickstart", "training", "evaluation", "benchmarks", "api", "cli"):
        assert f"docs/{page}.md" in text, page
    assert (ROOT / "LICENSE").is_file() and "LICENSE" in text


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


@pytest.mark.parametrize("page", [ROOT / "README.md"] + DOCS, ids=lambda p: p.name)
def test_relative_links_resolve(page):
    """Every relative link names a file that exists, and an anchor into a page names one of its headings."""
    missing = []
    for target, anchor in re.findall(r"\]\(([^)#\s]*)(?:#([^)\s]*))?\)", page.read_text()):
        if "://" in target or target.startswith("mailto:"):
            continue
        path = page.parent / target if target else page
        if not path.exists():
            missing.append(target)
        elif anchor and path.suffix == ".md":
            text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)
            if anchor not in {_slug(h) for h in re.findall(r"^#+ (.+)$", text, flags=re.M)}:
                missing.append(f"{target}#{anchor}")
    assert not missing, f"{page.name} links to what does not exist: {missing}"


def _cli_docs():
    spec = importlib.util.spec_from_file_location("write_cli_docs", ROOT / "scripts" / "write_cli_docs.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_cli_page_equals_the_parsers_help(monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    assert (ROOT / "docs" / "cli.md").read_text() == _cli_docs().render(), \
        "docs/cli.md is stale: run .venv/bin/python scripts/write_cli_docs.py"


def test_every_option_has_a_help_string():
    from reamo.cli import build_parser

    bare = []
    for words, parser in _cli_docs()._commands(build_parser(), []):
        for a in parser._actions:
            if isinstance(a, (argparse._HelpAction, argparse._SubParsersAction)) or a.help == argparse.SUPPRESS:
                continue
            if not (a.help or "").strip():
                bare.append(f"reamo {' '.join(words)} {'/'.join(a.option_strings) or a.dest}")
    assert not bare, f"options without help: {bare}"


def _run(code: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def test_api_page_examples_run(tmp_path, data_dir):
    blocks = _python_blocks(ROOT / "docs" / "api.md")
    assert len(blocks) >= 6
    work = tmp_path / "work"
    work.mkdir()
    (tmp_path / "shared").symlink_to(data_dir.parent, target_is_directory=True)  # ../shared/data as in the page
    p = _run("\n".join(blocks), work)
    assert p.returncode == 0, p.stderr[-3000:]
    assert (work / "exports" / "coco_results.json").is_file() and (work / "result.png").is_file()


def test_readme_example_runs(tmp_path):
    (block,) = _python_blocks(ROOT / "README.md")
    # what the README's example reads: the quickstart's model folder and a test image of its corpus (here a
    # tiny random model and a generated picture, saved where the quickstart leaves them)
    setup = ("from pathlib import Path\nfrom PIL import Image\nimport numpy as np\nfrom reamo import Reamo\n"
             "Reamo.from_config('tiny').save_pretrained('runs/quickstart/model')\n"
             "p = Path('runs/quickstart/corpus/images'); p.mkdir(parents=True)\n"
             "Image.fromarray(np.full((80, 96, 3), 128, np.uint8)).save(p / 'test-00004.png')\n")
    assert _run(setup, tmp_path).returncode == 0
    p = _run(block, tmp_path)
    assert p.returncode == 0, p.stderr[-3000:]
    assert (tmp_path / "result.png").is_file() and (tmp_path / "exports" / "labelstudio").is_dir()
