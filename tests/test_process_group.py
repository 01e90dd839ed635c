"""reamo/process_group.py: one maker of the gloo group, destroyed before the interpreter's finalisation."""
import os
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# Each child registers its probe before the group exists, so the probe runs after every later exit handler
# (atexit runs them last-in first-out) and sees what the interpreter's finalisation will find.
CHILD = textwrap.dedent("""
    import atexit, os, sys
    import torch, torch.distributed as dist
    from reamo.process_group import ensure

    atexit.register(lambda: print("at exit:", "alive" if dist.is_initialized() else "destroyed", flush=True))
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    made = ensure(rank, world)
    again = ensure(rank, world)  # a second call keeps the group it finds
    value = torch.tensor([float(dist.get_rank()) + 1.0]) if made else torch.tensor([1.0])
    if made:
        dist.all_reduce(value)
    print("made:", made, again, "sum:", value.item(), flush=True)
    if len(sys.argv) > 1:
        raise SystemExit(3)  # an error on the way out still destroys the group
""")


def _run(port: int, world: int, fail: bool = False) -> list[subprocess.CompletedProcess]:
    base = {k: v for k, v in os.environ.items() if k not in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR",
                                                             "MASTER_PORT")}
    base.update(PYTHONPATH=str(REPO), MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), WORLD_SIZE=str(world))
    args = [sys.executable, "-c", CHILD] + (["fail"] if fail else [])
    procs = [subprocess.Popen(args, env={**base, "RANK": str(r)}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for r in range(world)]
    outs = [p.communicate(timeout=120) for p in procs]
    return [subprocess.CompletedProcess(args, p.returncode, *out) for p, out in zip(procs, outs)]


def test_one_process_makes_no_group(free_port):
    (done,) = _run(free_port(), 1)
    assert done.returncode == 0, done.stderr
    assert "made: False False sum: 1.0" in done.stdout
    assert "at exit: destroyed" in done.stdout  # there was none to destroy


def test_two_processes_share_one_group_destroyed_at_exit(free_port):
    runs = _run(free_port(), 2)
    for rank, done in enumerate(runs):
        assert done.returncode == 0, (rank, done.stderr)
        assert "made: True True sum: 3.0" in done.stdout, (rank, done.stdout)  # 1 + 2: both ranks in one group
        assert "at exit: destroyed" in done.stdout, (rank, done.stdout)


def test_group_destroyed_when_the_process_fails(free_port):
    for rank, done in enumerate(_run(free_port(), 2, fail=True)):
        assert done.returncode == 3, (rank, done.stderr)
        assert "at exit: destroyed" in done.stdout, (rank, done.stdout)
