"""Dev experiments on a quickstart recipe: retrain its phases from one phase on, starting from an earlier run's
checkpoint, with the recipe's phases changed by `--set PHASE.KEY=VALUE` (a PhaseRecipe key: epochs.full, lr.NAME,
loss_weights.NAME, train.KEY). The corpus is the earlier run's (linked), the embedding cache a copy of its cache
(entries are keyed by content and encoder, so they stay valid). Prints the folder of the last phase's model, which
benchmarks/quickstart_heldout.py scores on a dev split.

    .venv/bin/python benchmarks/recipe_tail.py --recipe mspit_text --run runs/mspit/mspit_text \
        --from phase2_alignment --set phase2_alignment.epochs.full=4 --out runs/mspit_dev/p2x4
    # one phase only (then read its captions with benchmarks/media_perception.py --captions OUT/PHASE/final)
    ... --from phase2_alignment --until phase2_alignment ...
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def load_recipe(name: str, sets: list[str]):
    """The recipe with PHASE.KEY=VALUE items (KEY: epochs.SIZE, lr.NAME, loss_weights.NAME, train.KEY; YAML values)
    set before it is validated (reamo.quickstart.recipe.Recipe.load's overrides)."""
    from reamo.cli import parse_sets
    from reamo.quickstart.recipe import Recipe

    return Recipe.load(name, {f"phases.{k}": v for k, v in parse_sets(sets).items()})


def main() -> int:
    from training.engine import train

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--recipe", required=True)
    ap.add_argument("--run", required=True, help="the earlier quickstart run (its corpus and checkpoints)")
    ap.add_argument("--from", dest="start", required=True, help="the first phase trained again")
    ap.add_argument("--out", required=True)
    ap.add_argument("--until", help="the last phase trained (default: the recipe's last)")
    ap.add_argument("--set", action="append", default=[], metavar="PHASE.KEY=VALUE")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    recipe = load_recipe(a.recipe, a.set)
    names = list(recipe.phases)
    if a.start not in names:
        ap.error(f"--from: {a.start!r} is not a phase of {a.recipe} ({names})")
    if a.until is not None and a.until not in names[names.index(a.start):]:
        ap.error(f"--until: {a.until!r} is not a phase of {a.recipe} from {a.start} on")
    run, out = Path(a.run), Path(a.out)
    i = names.index(a.start)
    j = names.index(a.until) + 1 if a.until else len(names)
    prev = str(run / names[i - 1] / "final") if i else None
    if prev and not Path(prev).is_dir():
        ap.error(f"--run: no checkpoint {prev}")
    out.mkdir(parents=True, exist_ok=True)
    if not (out / "corpus").exists():
        (out / "corpus").symlink_to((run / "corpus").resolve())
    if not (out / "embedding_cache").exists() and (run / "embedding_cache").is_dir():
        shutil.copytree(run / "embedding_cache", out / "embedding_cache")
    for phase in names[i:j]:
        t = time.time()
        prev = str(train(recipe.phase_config(phase, "full", out, prev, a.seed)))
        print(f"{phase}: {time.time() - t:.0f} s -> {prev}", flush=True)
    print(prev)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
