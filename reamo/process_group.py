"""The end of a launched process's torch.distributed group.

A process that leaves with its group still alive lets the interpreter tear the group down during finalisation:
gloo's worker threads may still hold work whose tensors need the GIL then, and the process aborts
("terminate called without an active exception", exit -6) after its work is done, at random (a peer still
running makes it likelier). Whoever makes a group calls `destroy_at_exit()`; the group is then destroyed while
the interpreter is whole, once, on every way out (a return, an exception, sys.exit). `ensure()` is the one maker
of a plain gloo group (inference shards, the cache build); training makes its group with
`deepspeed.init_distributed()` and calls `destroy_at_exit()` itself.
"""
from __future__ import annotations

import atexit

_registered = False


def destroy_at_exit() -> None:
    """Destroy the default process group (if one is still there) when the interpreter exits; idempotent."""
    global _registered
    if not _registered:
        _registered = True
        atexit.register(_destroy)


def ensure(rank: int, world: int) -> bool:
    """Make the default gloo group of `world` processes if none is there yet (the rendezvous from the launcher's
    MASTER_ADDR / MASTER_PORT) and have it destroyed at exit. Returns whether a group is there: False for one
    process, which needs none."""
    import torch.distributed as dist

    if world <= 1:
        return False
    if not dist.is_initialized():
        dist.init_process_group("gloo", rank=rank, world_size=world)
    destroy_at_exit()
    return True


def _destroy() -> None:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
