"""training.cache_build (`reamo cache build`): a phase's media encoded once into cache shards that training reads;
the same shards from 2 processes as from 1, resumable and idempotent, bad media reported and the rest kept."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from encoders.cache import SHARD_DIR, EmbeddingCache
from reamo.errors import ConfigError
from reamo.model.tokens import MEDIA_MODALITIES
from reamo.records import Record, read_jsonl
from reamo.records.shards import Sample, write_shards
from reamo.synth import generate_corpus
from training.cache_build import build_cache
from training.config import TrainConfig
from training.data import phase_examples
from training.engine import build_model

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    d = tmp_path_factory.mktemp("cache_build") / "corpus"
    generate_corpus(d, {"train": 6, "dev": 1, "test": 1}, seed=5)
    # a second half of the data as webdataset shards (what `reamo data build` writes), with other records' media
    recs = list(read_jsonl(d / "phase4_meta.jsonl"))
    samples = [Sample(Record.from_dict(r.to_dict()),
                      {m: (Path(getattr(r, m)).suffix, r.media_path(m, d / "phase4_meta.jsonl"))
                       for m in MEDIA_MODALITIES if getattr(r, m)}) for r in recs]
    write_shards(samples, d / "shards", maxcount=4)
    return d


def _sets(corpus: Path, cache: Path) -> dict:
    return {"model": "tiny", "init_from": None, "data.cache_dir": str(cache), "output_dir": str(cache.parent / "run"),
            "data.train": [str(corpus / "phase3_grounding.jsonl"), str(corpus / "shards")], "progress": False}


def _cfg(corpus: Path, cache: Path, **extra) -> TrainConfig:
    return TrainConfig.from_yaml(REPO / "configs/phases/phase3_grounding.yaml", {**_sets(corpus, cache), **extra})


def _distinct_media(corpus: Path) -> set:
    out = set()
    for name in ("phase3_grounding.jsonl", "phase4_meta.jsonl"):
        for r in read_jsonl(corpus / name):
            out |= {(m, (corpus / getattr(r, m)).read_bytes()) for m in MEDIA_MODALITIES if getattr(r, m)}
    return out


def _entries(cache: Path) -> dict[str, torch.Tensor]:
    out = {}
    for f in sorted((cache / SHARD_DIR).glob("*.safetensors")):
        with safe_open(str(f), framework="pt") as h:
            out.update({k: h.get_tensor(k) for k in h.keys()})
    return out


def _pooled(entries: dict) -> set:
    return {k for k in entries if k.endswith(".pooled")}


def test_build_then_resume_is_idempotent_and_rewrites_only_missing_or_corrupt_shards(corpus, tmp_path):
    cache = tmp_path / "cache"
    cfg = _cfg(corpus, cache)
    first = build_cache(cfg, shard_size=3, batch_size=2, max_units=2)  # an interrupted job: 2 units, then stop
    assert len(first.encoded) == 2 and first.units > 3 and not first.failed
    rest = build_cache(cfg, shard_size=3, batch_size=2)
    assert sorted(rest.present) == sorted(first.encoded)
    assert sorted(first.encoded + rest.encoded) == list(range(rest.units))
    # every distinct medium of both inputs (JSONL and tar shards) is in the cache, keyed by its content
    assert len(_pooled(_entries(cache))) == len(_distinct_media(corpus))
    again = build_cache(cfg, shard_size=3, batch_size=2)
    assert again.encoded == [] and len(again.present) == again.units
    shards = sorted((cache / SHARD_DIR).glob("*.safetensors"))
    before = _entries(cache)
    shards[0].unlink()
    shards[1].write_bytes(shards[1].read_bytes()[:100])  # a partial write
    fixed = build_cache(cfg, shard_size=3, batch_size=2)
    assert len(fixed.encoded) == 2 and len(fixed.present) == fixed.units - 2
    after = _entries(cache)
    assert after.keys() == before.keys()
    assert all(torch.equal(after[k], before[k]) for k in before)


def test_training_reads_the_built_shards_and_they_match_its_own_encoding(corpus, tmp_path):
    cache = tmp_path / "cache"
    cfg = _cfg(corpus, cache, **{"data.train": [str(corpus / "phase3_grounding.jsonl")]})
    build_cache(cfg, shard_size=4, batch_size=3)
    model = build_model(cfg)
    builder, examples, _ = phase_examples(model, cfg)
    batch = builder.collate(examples[:6])
    assert batch is not None and builder.cache.misses == 0 and builder.cache.hits >= 6
    assert not list(cache.glob("??/*.safetensors"))  # nothing computed beside the shards
    # against the features training computes itself (a cache of its own, no shards), one medium at a time
    own = _cfg(corpus, tmp_path / "own", **{"data.train": [str(corpus / "phase3_grounding.jsonl")]})
    b2, ex2, _ = phase_examples(model, own)
    batch2 = b2.collate(ex2[:6])
    assert b2.cache.misses > 0 and b2.cache.shards is None
    for mod, f in batch.media.features.items():
        g = batch2.media.features[mod]
        assert torch.allclose(f.pooled, g.pooled, atol=1e-5), mod
        assert (f.tokens is None) == (g.tokens is None)
        if f.tokens is not None:
            assert torch.allclose(f.tokens, g.tokens, atol=1e-5), mod


def test_a_medium_that_does_not_load_is_reported_and_the_rest_kept(corpus, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    recs = list(read_jsonl(corpus / "phase3_grounding.jsonl"))
    images = [r for r in recs if r.image]
    bad = images[0]
    (data / "broken.png").write_bytes(b"not a png")
    lines = []
    for r in recs:
        d = r.to_dict()
        for m in MEDIA_MODALITIES:
            if d.get(m):
                d[m] = str((corpus / d[m]).resolve())
        if r.id == bad.id:
            d["image"] = "broken.png"
        lines.append(json.dumps(d))
    (data / "p3.jsonl").write_text("\n".join(lines) + "\n")
    cache = tmp_path / "cache"
    r = build_cache(_cfg(corpus, cache, **{"data.train": [str(data / "p3.jsonl")]}), shard_size=100)
    assert len(r.failed) == 1 and "broken.png" in r.failed[0]
    good = {(m, (corpus / getattr(x, m)).read_bytes()) for x in recs for m in MEDIA_MODALITIES
            if getattr(x, m) and not (x.id == bad.id and m == "image")}
    assert r.entries == len(good) == len(_pooled(_entries(cache)))


def test_refuses_a_text_phase_and_bad_sizes(corpus, tmp_path):
    text = TrainConfig.from_yaml(REPO / "configs/phases/phase1_uie.yaml", {"model": "tiny", "init_from": None,
                                                                           "data.train": [str(corpus / "phase1_uie.jsonl")]})
    with pytest.raises(ConfigError, match="uses no media"):
        build_cache(text)
    with pytest.raises(ConfigError, match="shard_size"):
        build_cache(_cfg(corpus, tmp_path / "c"), shard_size=0)


def _torchrun(nproc: int, sets: dict, port: int, extra=()) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR",
                                                            "MASTER_PORT")}
    env.update(PYTHONPATH=str(REPO), HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1")
    args = [a for k, v in sets.items() for a in ("--set", f"{k}={json.dumps(v)}")]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc_per_node", str(nproc),
           "--master_addr", "127.0.0.1", "--master_port", str(port), "-m", "reamo.cli", "cache", "build",
           "--config", "configs/phases/phase3_grounding.yaml", "--shard-size", "3", "--batch-size", "2", *args, *extra]
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)


def test_two_processes_write_the_same_shards_as_one_and_each_encodes_its_own_units(corpus, tmp_path):
    port = 29000 + (os.getpid() * 11) % 900
    one, two = tmp_path / "one", tmp_path / "two"
    r1 = _torchrun(1, _sets(corpus, one), port)
    assert r1.returncode == 0, r1.stderr[-3000:]
    r2 = _torchrun(2, _sets(corpus, two), port + 1, extra=["--max-units", "1"])  # stopped after 1 unit a rank
    assert r2.returncode == 0, r2.stderr[-3000:]
    r2 = _torchrun(2, _sets(corpus, two), port + 2)  # resumed
    assert r2.returncode == 0, r2.stderr[-3000:]
    (f1,), (f2,) = (list((d / SHARD_DIR).glob("build-*.json")) for d in (one, two))
    b1, b2 = json.loads(f1.read_text()), json.loads(f2.read_text())
    assert f1.name == f2.name  # the same build (data, encoder, unit size) whatever the number of processes
    assert b1["world"] == 1 and b2["world"] == 2 and b2["units"] == b1["units"] > 2
    mine = [set(r["mine"]) for r in b2["ranks"]]
    assert not (mine[0] & mine[1]) and mine[0] | mine[1] == set(range(b2["units"]))
    assert all(set(r["encoded"]) | set(r["present"]) == set(r["mine"]) and len(r["present"]) == 1
               for r in b2["ranks"])  # each rank resumed past its own first unit
    assert sorted(p.name for p in (one / SHARD_DIR).glob("*.safetensors")) == \
        sorted(p.name for p in (two / SHARD_DIR).glob("*.safetensors"))
    e1, e2 = _entries(one), _entries(two)
    assert e1.keys() == e2.keys() and len(_pooled(e1)) == len(_distinct_media(corpus))
    assert all(torch.allclose(e1[k], e2[k], atol=1e-6) for k in e1)
    # and a training process reads them all
    cache = EmbeddingCache(two, build_model(_cfg(corpus, two)).config.encoder)
    assert len(cache.shards) >= len(_pooled(e2))  # a medium in both inputs is in two shards


def test_token_features_are_kept_only_where_the_prompt_reads_them(corpus, tmp_path):
    cache = tmp_path / "cache"
    data = {"data.train": [str(corpus / "phase3_grounding.jsonl")]}
    pooled_only = _cfg(corpus, cache, **data, model_overrides={"media_tokens": {"image": 1, "audio": 1, "video": 1}})
    r1 = build_cache(pooled_only, shard_size=100)
    e1 = _entries(cache)
    assert r1.entries > 0 and len(_pooled(e1)) == r1.entries and not [k for k in e1 if k.endswith(".tokens")]
    r4 = build_cache(_cfg(corpus, cache, **data), shard_size=100)  # tiny: 4 tokens a medium, another key
    assert r4.encoded and r4.entries == r1.entries
    e4 = _entries(cache)
    new = _pooled(e4) - _pooled(e1)
    assert len(new) == r4.entries and all(k.replace(".pooled", ".tokens") in e4 for k in new)
