"""Inference over many processes: under a launcher (`deepspeed`, `torchrun`) each process takes its share of
the items, writes its results to its own part file, and rank 0 merges the parts back in input order.

    deepspeed --num_gpus 8 --module reamo.cli extract --model M --inputs items.jsonl --out results.jsonl
    torchrun --nproc_per_node 8 -m reamo.cli eval --model M --benchmark BENCH --out eval_out

Without a launcher (RANK/WORLD_SIZE unset) everything is one shard and nothing changes.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Shard:
    rank: int = 0
    world: int = 1

    def __post_init__(self):
        if not (self.world >= 1 and 0 <= self.rank < self.world):
            raise ValueError(f"bad shard: rank {self.rank} of {self.world}")

    @classmethod
    def from_env(cls) -> "Shard":
        """The launcher's RANK and WORLD_SIZE (one shard without a launcher)."""
        return cls(int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)))

    @property
    def distributed(self) -> bool:
        return self.world > 1

    def take(self, items: list) -> list[tuple[int, object]]:
        """This rank's (index, item) pairs: every world-th item from its rank, so shards differ by one at most."""
        return [(i, items[i]) for i in range(self.rank, len(items), self.world)]

    def barrier(self) -> None:
        """Wait for every rank (gloo process group from the launcher's environment, made on first use)."""
        if not self.distributed:
            return
        import torch.distributed as dist

        from reamo.process_group import ensure

        ensure(self.rank, self.world)
        dist.barrier()

    def part(self, path: str | Path) -> Path:
        """This rank's part file beside `path` (the path itself for one shard)."""
        path = Path(path)
        return path if not self.distributed else path.with_name(f"{path.name}.part{self.rank}-of-{self.world}")

    def parts(self, path: str | Path) -> list[Path]:
        path = Path(path)
        return [path.with_name(f"{path.name}.part{r}-of-{self.world}") for r in range(self.world)]


def write_part(path: Path, indexed_lines: list[tuple[int, str]]) -> None:
    """Lines of JSON tagged with their input index, so rank 0 can put them back in order."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for i, line in indexed_lines:
            f.write(json.dumps({"index": i, "line": line}, ensure_ascii=False) + "\n")


def merge_parts(parts: list[Path], out: Path) -> int:
    """Rank 0: the parts' lines in input order into `out`; the parts are removed. Returns the line count."""
    rows = []
    for p in parts:
        for line in p.read_text(encoding="utf-8").splitlines():
            if line.strip():
                d = json.loads(line)
                rows.append((d["index"], d["line"]))
    rows.sort(key=lambda r: r[0])
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(line + "\n" for _, line in rows), encoding="utf-8")
    for p in parts:
        p.unlink()
    return len(rows)
