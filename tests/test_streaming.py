"""training.streaming: phase records read from webdataset shards as training goes. Every record once an epoch,
the same steps whatever the number of processes, resume at a step, DataLoader workers in order, bad samples
skipped and counted, and peak memory flat in the number of records."""
import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from reamo.records import Record
from reamo.records.shards import Sample, write_shards
from training.config import TrainConfig
from training.streaming import ShardIndex, StreamLoader

REPO = Path(__file__).resolve().parents[1]
MEDIA = REPO.parent / "shared" / "data" / "media"


class IdBuilder:
    """A phase's example builder reduced to what the loader needs: a record -> its id (and its audio's bytes)."""

    def examples(self, rec, path):
        if rec.text == "unusable":
            raise ValueError("not for this phase")
        return [(rec.id, Path(rec.audio).read_bytes() if rec.audio else None)]

    def collate(self, examples):
        return list(examples)


def _shards(out: Path, n: int, maxcount: int = 7, audio_every: int = 0) -> Path:
    def gen():
        for i in range(n):
            rec = Record(f"r{i:05d}", "ner", text="unusable" if i == 5 else f"record {i}", schema={"entity_types": ["x"]})
            media = {"audio": ("wav", MEDIA / "sample.wav")} if audio_every and i % audio_every == 0 else {}
            yield Sample(rec, media)
    write_shards(gen(), out, maxcount=maxcount)
    return out


def _cfg(data, tmp_path, **over) -> TrainConfig:
    d = {"data": {"train": [str(data)], "use_embedding_cache": False}, "micro_batch_size": 2, "grad_accum": 2,
         "epochs": 2, "output_dir": str(tmp_path / "phase"), "seed": 1}
    d.update(over)
    return TrainConfig.from_dict(d)


def _ids(loader, start=0, steps=None):
    out = []
    for step, batches in loader.iter_steps(start):
        if steps is not None and step >= start + steps:
            break
        out.append((step, [[rid for rid, _ in b] if b is not None and not isinstance(b, str) else b for b in batches]))
    return out


def test_every_record_once_an_epoch_and_the_same_steps_on_two_ranks(tmp_path):
    data = _shards(tmp_path / "s", 40)
    one = StreamLoader(IdBuilder(), _cfg(data, tmp_path), 0, 1, accumulation=4)  # 1 process x 4 micro-batches
    assert len(one.index) == 40 and one.steps_per_epoch == 5 and one.global_batch == 8
    steps = _ids(one)
    assert [s for s, _ in steps] == list(range(10))
    for epoch in (0, 1):
        seen = [rid for _, mbs in steps[5 * epoch: 5 * epoch + 5] for mb in mbs for rid in mb]
        assert sorted(seen) == sorted(f"r{i:05d}" for i in range(40) if i != 5)  # r00005: skipped by the phase
    assert one.skipped == 2  # once an epoch
    first = [rid for _, mbs in steps[:5] for mb in mbs for rid in mb]
    assert first != sorted(first)  # shuffled
    assert [rid for _, mbs in steps[5:] for mb in mbs for rid in mb] != first  # another order the next epoch
    # 2 ranks x 2 micro-batches: rank r's micro-batch m is the 1-process run's micro-batch 2m + r
    ranks = [_ids(StreamLoader(IdBuilder(), _cfg(data, tmp_path / f"r{r}"), r, 2, accumulation=2)) for r in (0, 1)]
    for (s, mbs), (_, a), (_, b) in zip(steps, *ranks):
        assert [a[0], b[0], a[1], b[1]] == mbs, s


def test_resume_and_workers_give_the_same_stream(tmp_path):
    data = _shards(tmp_path / "s", 30, audio_every=4)
    cfg = _cfg(data, tmp_path, grad_accum=1)
    whole = _ids(StreamLoader(IdBuilder(), cfg, 0, 1))
    assert _ids(StreamLoader(IdBuilder(), cfg, 0, 1), start=9) == whole[9:]  # resume at step 9: from its position
    workers = StreamLoader(IdBuilder(), cfg.replace(data=cfg.data.replace(workers=2)), 0, 1)
    assert _ids(workers) == whole
    # the media came through, byte for byte, and the spool is cleaned up
    got = [b for _, batches in StreamLoader(IdBuilder(), cfg, 0, 1).iter_steps(0) for b in batches]
    audio = [x for b in got for _, x in b if x is not None]
    assert len(audio) == 2 * 8 and all(x == (MEDIA / "sample.wav").read_bytes() for x in audio)
    assert not (tmp_path / "phase" / ".stream_spool" / "rank0").exists()


def test_a_broken_sample_is_skipped_and_counted(tmp_path):
    data = _shards(tmp_path / "s", 12, maxcount=100)
    tar = next(data.glob("*.tar"))
    with tarfile.open(tar, "a") as t:
        for name, body in (("999999998.record.json", b"{broken"),
                           ("999999999.record.json", json.dumps({"id": "z", "task": "ner", "image": "image.jpg"}).encode())):
            info = tarfile.TarInfo(name)
            info.size = len(body)
            t.addfile(info, io.BytesIO(body))
    loader = StreamLoader(IdBuilder(), _cfg(data, tmp_path, epochs=1, grad_accum=1, micro_batch_size=14), 0, 1)
    (step, (batch,)), = _ids(loader)
    assert len(loader.index) == 14 and len(batch) == 11 and loader.skipped == 3  # 2 broken + the unusable one


def test_bad_stream_configs_are_named(tmp_path):
    from reamo.errors import ConfigError, RecordError

    (tmp_path / "empty").mkdir()
    with pytest.raises(RecordError, match="no shard found"):
        StreamLoader(IdBuilder(), _cfg(tmp_path / "empty", tmp_path), 0, 1)
    data = _shards(tmp_path / "s", 4)
    with pytest.raises(ConfigError, match="replay"):
        StreamLoader(IdBuilder(), TrainConfig.from_dict({"data": {"train": [str(data)], "replay": [
            {"phase": "uie", "train": ["x.jsonl"], "fraction": 0.1}]}}), 0, 1)


RSS_PROBE = """
import sys
sys.path.insert(0, {repo!r})
from tests.test_streaming import IdBuilder, _cfg
from training.streaming import StreamLoader
from pathlib import Path

def rss_kib():
    return int(open("/proc/self/statm").read().split()[1]) * 4096 // 1024

data, out = Path(sys.argv[1]), Path(sys.argv[2])
import torch.utils.data  # what a training process has loaded before its data
base = rss_kib()
loader = StreamLoader(IdBuilder(), _cfg(data, out, epochs=1, grad_accum=1, micro_batch_size=16), 0, 1)
peak, n = rss_kib(), 0
for start in (0, loader.steps_per_epoch - 200):  # the first 200 steps, and the last 200 (a resume near the end)
    for step, batches in loader.iter_steps(start):
        if step >= start + 200:
            break
        n += sum(len(b) for b in batches)
        peak = max(peak, rss_kib())
print(len(loader.index), n, base, peak)
"""


def test_peak_memory_is_flat_from_10k_to_200k_records(tmp_path):
    """Peak RSS (sampled at every step) of a process that indexes the shards and streams 400 steps of 16 records,
    at 10,000 and at 200,000 records: within 10% (an in-memory loader holds every record; this holds 16 bytes a
    record of index)."""
    rss = {}
    for n in (10_000, 200_000):
        data = _shards(tmp_path / f"s{n}", n, maxcount=5000)
        probe = tmp_path / "probe.py"
        probe.write_text(RSS_PROBE.format(repo=str(REPO)))
        r = subprocess.run([sys.executable, str(probe), str(data), str(tmp_path / f"o{n}")], capture_output=True,
                           text=True, timeout=900, env={**os.environ, "PYTHONPATH": str(REPO)})
        assert r.returncode == 0, r.stderr[-3000:]
        count, seen, base, peak = map(int, r.stdout.split()[-4:])
        assert count == n and 400 * 16 - 2 <= seen <= 400 * 16  # r00005 is not for the phase
        rss[n] = (base, peak)
    print("RSS after imports and peak while streaming (KiB):", rss)
    assert rss[200_000][1] <= 1.10 * rss[10_000][1], rss
    # what streaming itself adds (index, order, open shards) grows by less than 8 MiB for 190,000 more records
    assert (rss[200_000][1] - rss[200_000][0]) - (rss[10_000][1] - rss[10_000][0]) < 8 * 1024, rss
