"""Several processes on the CPU (gloo), through the same launchers and scripts a cluster uses: the training
script with a DeepSpeed hostfile, and ZeRO-3's export (partitioned parameters gathered before saving)."""
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from reamo.api import Reamo
from reamo.model.checkpoint import load_tensors
from reamo.synth import generate_corpus

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    d = tmp_path_factory.mktemp("dist") / "corpus"
    generate_corpus(d, {"train": 8, "dev": 1, "test": 1}, seed=3)
    return d


def _env(port: int) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR",
                                                            "MASTER_PORT")}
    env.update(DS_ACCELERATOR="cpu", PYTHONPATH=str(REPO), MASTER_PORT=str(port), HF_HUB_OFFLINE="1",
               VENV=str(Path(sys.executable).parent.parent))
    return env


def _port(k: int) -> int:
    return 29000 + (os.getpid() * 7 + k) % 900


def test_two_nodes_through_the_training_script(corpus, tmp_path):
    """scripts/train_phase.sh as on a 2-node cluster without ssh: a hostfile of two nodes (two names of this
    machine, one slot each) and the same command started once per node with its NODE_RANK; they meet at
    MASTER_ADDR, train under ZeRO-3 and export one checkpoint whose LoRA tensors are whole."""
    hostfile = tmp_path / "hostfile"
    hostfile.write_text("localhost slots=1\n127.0.0.1 slots=1\n")
    out = tmp_path / "run"
    sets = [f"data.train=[{corpus / 'phase1_uie.jsonl'}]", f"output_dir={out}", "init_from=null", "max_steps=2",
            "micro_batch_size=2", "progress=false", "deepspeed=configs/deepspeed/zero3.json", "model=tiny"]
    procs = []
    for node in (0, 1):
        env = _env(_port(1))
        env.update(HOSTFILE=str(hostfile), MASTER_ADDR="127.0.0.1", NODE_RANK=str(node))
        procs.append(subprocess.Popen(["bash", "scripts/train_phase.sh", "1", "configs/phases/phase1_uie.yaml"]
                                      + [a for s in sets for a in ("--set", s)], cwd=REPO, env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    logs = [p.communicate(timeout=600)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], "\n".join(x[-2000:] for x in logs)
    for node, log in enumerate(logs):
        assert f"nnodes=2, num_local_procs=1, node_rank={node}" in log and "dist_world_size=2" in log
    adapter = load_tensors(out / "final" / "adapter" / "adapter_model.safetensors")
    lora = {n: p for n, p in Reamo.from_config("tiny").model.named_parameters() if "lora_A" in n}
    assert sum(t.numel() for k, t in adapter.items() if "lora_A" in k) == sum(p.numel() for p in lora.values())
    assert Reamo.from_pretrained(out / "final").extract("Alice met Rex", "ner", ["person"], max_new_tokens=4).ok


def test_missing_hostfile_is_a_clear_error(tmp_path):
    env = _env(_port(2))
    env["HOSTFILE"] = str(tmp_path / "nope")
    r = subprocess.run(["bash", "scripts/train_phase.sh", "2", "configs/phases/phase1_uie.yaml"], cwd=REPO, env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "HOSTFILE" in r.stderr and "not found" in r.stderr


def test_zero3_export_equals_the_trained_in_memory_model(corpus, tmp_path):
    """2 processes, ZeRO-3: the exported LoRA and token rows equal the gathered in-memory values, and the
    reloaded checkpoint extracts exactly what the trained in-memory model extracted (tests/zero3_probe.py)."""
    launcher = shutil.which("deepspeed", path=os.path.dirname(sys.executable))
    out = tmp_path / "z3"
    r = subprocess.run([launcher, "--num_gpus", "2", "--master_port", str(_port(3)), "tests/zero3_probe.py",
                        str(corpus), str(out)], cwd=REPO, env=_env(_port(3)), capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    in_memory = load_tensors(out / "in_memory.safetensors")
    reloaded = Reamo.from_pretrained(out / "final")
    params = dict(reloaded.model.named_parameters())
    trained = [k for k in in_memory if "lora_" in k or "trainable_tokens" in k]
    assert trained and all(in_memory[k].numel() > 0 for k in in_memory)
    for k, v in in_memory.items():
        assert torch.equal(params[k].detach(), v), k
    expected = json.loads((out / "in_memory_extract.json").read_text())
    from zero3_probe import INPUTS

    got = [r.to_dict() for r in reloaded.extract(INPUTS, "ner", ["person", "animal", "vehicle"], max_new_tokens=12)]
    assert [g["raw_output"] for g in got] == [e["raw_output"] for e in expected]
    assert got == expected


def _launch(args: list[str], port: int, timeout: int = 600):
    launcher = shutil.which("deepspeed", path=os.path.dirname(sys.executable))
    r = subprocess.run([launcher, "--num_gpus", "2", "--master_port", str(port), "--module", "reamo.cli"] + args,
                       cwd=REPO, env=_env(port), capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    return r


def test_sharded_extract_equals_one_process(corpus, tmp_path):
    """`reamo extract --inputs` under the launcher with 2 processes: each takes every other input, rank 0
    merges; the output file is the one a single process writes, line for line."""
    from reamo.cli import main as cli_main

    lines = (corpus / "phase4_meta.jsonl").read_text().splitlines()[:7]  # media of several kinds, paths relative
    src = corpus / "shard_inputs.jsonl"
    src.write_text("\n".join(lines) + "\n")
    args = ["extract", "--model", "tiny", "--inputs", str(src), "--task", "ner", "--labels", "person,animal,vehicle",
            "--max-new-tokens", "6", "--batch-size", "3"]
    one = tmp_path / "one.jsonl"
    assert cli_main(args + ["--out", str(one)]) == 0
    two = tmp_path / "two.jsonl"
    r = _launch(args + ["--out", str(two)], _port(4))
    assert "7 results from 2 processes" in r.stderr
    assert two.read_text() == one.read_text()
    assert not list(tmp_path.glob("two.jsonl.part*"))  # the parts were merged and removed


def test_sharded_eval_equals_one_process(corpus, tmp_path):
    from reamo.evaluation.runner import run_benchmark
    from reamo.records import read_jsonl, write_jsonl

    bench = tmp_path / "bench"
    recs = list(read_jsonl(corpus / "phase4_meta.jsonl"))
    for combo in ("T+I", "T"):
        keep = [r for r in recs if (r.image is not None) == (combo == "T+I") and r.task == "ner"][:5] or recs[:5]
        for r in keep:
            for m in ("image", "audio", "video"):
                if getattr(r, m):
                    dst = bench / combo / getattr(r, m)
                    dst.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy(corpus / getattr(r, m), dst)
        write_jsonl(bench / combo / "set.jsonl", keep)
    one = run_benchmark(Reamo.from_config("tiny").eval(), bench, tmp_path / "one", batch_size=2, max_new_tokens=6,
                        progress=False)
    _launch(["eval", "--model", "tiny", "--benchmark", str(bench), "--out", str(tmp_path / "two"),
             "--batch-size", "2", "--max-new-tokens", "6"], _port(5))
    two = json.loads((tmp_path / "two" / "scores.json").read_text())
    assert two == {f"{c}/{s}": v for (c, s), v in one.items()}
    for combo in ("T+I", "T"):
        a = (tmp_path / "one" / "predictions" / combo / "set.jsonl").read_text().splitlines()
        b = (tmp_path / "two" / "predictions" / combo / "set.jsonl").read_text().splitlines()
        assert sorted(a) == sorted(b) and [json.loads(x)["id"] for x in b] == [r.id for r in
                                                                               read_jsonl(bench / combo / "set.jsonl")]


# ---- every phase on 2 processes, under each ZeRO stage, against 1 process --------------------------------------
PROBE_PHASES = ["phase1_uie", "phase2_alignment", "phase3_grounding", "phase4_meta", "mspit_1a_schema_text",
                "mspit_1b_schema_visual", "mspit_2_joint"]
LOSS_TOL = 1e-5  # relative: float reduction order only (a mismatched gradient moves the loss by ~1e-3 and more)


@pytest.fixture(scope="module")
def mixed_corpus(tmp_path_factory):
    """24 records of every task and media combination: a global batch of 4 gives each rank different tasks,
    media and grounding heads in the same step."""
    d = tmp_path_factory.mktemp("mixed") / "corpus"
    generate_corpus(d, {"train": 24, "dev": 1, "test": 1}, seed=3)
    return d


def _probe(corpus, out, ds, procs: int, port: int, *extra) -> str:
    args = ["tests/phases_probe.py", str(corpus), str(out), ds, "--global-batch", "4", *extra]
    if procs == 1:
        cmd = [sys.executable] + args
    else:
        launcher = shutil.which("deepspeed", path=os.path.dirname(sys.executable))
        cmd = [launcher, "--num_gpus", str(procs), "--master_port", str(port)] + args
    env = _env(port)
    if procs == 1:
        env.pop("MASTER_PORT")
    r = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, (r.stdout + r.stderr)[-4000:]
    return r.stdout + r.stderr


def _losses(out: Path, phase: str) -> list[float]:
    return [json.loads(x)["loss"] for x in (out / phase / "metrics.jsonl").read_text().splitlines()]


def _assert_same_run(a: Path, b: Path, phases, steps: int):
    for phase in phases:
        la, lb = _losses(a, phase), _losses(b, phase)
        assert len(la) == len(lb) == steps, (phase, la, lb)
        for x, y in zip(la, lb):
            assert abs(x - y) <= LOSS_TOL * max(1.0, abs(x)), (phase, la, lb)
        for f in ("reamo.safetensors", "adapter/adapter_model.safetensors"):
            ta, tb = load_tensors(a / phase / "final" / f), load_tensors(b / phase / "final" / f)
            assert ta.keys() == tb.keys()
            for k in ta:
                torch.testing.assert_close(tb[k], ta[k], rtol=1e-4, atol=1e-6, msg=f"{phase} {f} {k}")


@pytest.fixture(scope="module")
def one_process_phases(mixed_corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("one") / "run"
    _probe(mixed_corpus, out, "configs/deepspeed/zero2.json", 1, _port(6))
    return out


@pytest.fixture(scope="module")
def zero2_phases(mixed_corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("z2") / "run"
    log = _probe(mixed_corpus, out, "configs/deepspeed/zero2.json", 2, _port(7))
    return out, log


def test_every_phase_under_zero2_on_two_processes_equals_one_process(zero2_phases, one_process_phases):
    """Phases 1-4 and the MS-PIT stages, 3 steps each, 2 processes x micro-batch 2 (ZeRO-2) against 1 process x
    2 micro-batches of 2: the same loss at every step and the same exported model. The ranks' micro-batches
    differ in task, media and grounding heads (phase 3 and 4 died on their first step before)."""
    out, log = zero2_phases
    assert log.count("ZeRO-2, 2 process(es) x 2 examples x 1 accumulation = 4 per step") == len(PROBE_PHASES)
    _assert_same_run(one_process_phases, out, PROBE_PHASES, 3)


@pytest.mark.parametrize("ds", ["zero3", "zero3_offload"])
def test_every_phase_under_zero3_equals_zero2(ds, mixed_corpus, zero2_phases, tmp_path):
    """The same under ZeRO-3 (parameters partitioned: every rank must run the same modules in the same order)
    and ZeRO-3 with the optimizer and parameters offloaded to the CPU: equal to the ZeRO-2 run."""
    out = tmp_path / "run"
    log = _probe(mixed_corpus, out, f"configs/deepspeed/{ds}.json", 2, _port(8 if ds == "zero3" else 9))
    stage = "ZeRO-3 offloading optimizer and parameters to the CPU" if ds == "zero3_offload" else "ZeRO-3, "
    assert log.count(stage) == len(PROBE_PHASES)
    _assert_same_run(zero2_phases[0], out, PROBE_PHASES, 3)


@pytest.mark.parametrize("ds", ["zero2", "zero3"])
def test_resume_on_another_number_of_processes(ds, mixed_corpus, tmp_path):
    """Phase 4, 6 steps: 2 processes write a checkpoint at step 2, 1 process resumes it (DeepSpeed's universal
    checkpoint) and writes step 4, 2 processes resume that and finish. Every step's loss and the exported
    model equal an uninterrupted 1-process run's: the data continued where it stopped, none seen twice."""
    config = f"configs/deepspeed/{ds}.json"
    common = ["--phases", "phase4_meta", "--steps", "6", "--save-every", "2"]
    whole = tmp_path / "whole"
    _probe(mixed_corpus, whole, config, 1, _port(10), *common)
    run = tmp_path / "run"
    log = _probe(mixed_corpus, run, config, 2, _port(11), *common, "--stop-after", "2")
    # each rank destroys its process group before the interpreter ends (left to finalisation, gloo may abort
    # the process after its work is done)
    assert sorted(re.findall(r"rank (\d+): process group at exit: (alive|destroyed)", log)) == [
        ("0", "destroyed"), ("1", "destroyed")], log[-2000:]
    log = _probe(mixed_corpus, run, config, 1, _port(12), *common, "--stop-after", "4")
    assert "resumed from" in log and "at step 2 (written by 2 process(es))" in log
    assert "1 process(es) x 2 examples x 2 accumulation = 4 per step" in log
    log = _probe(mixed_corpus, run, config, 2, _port(13), *common)
    assert "at step 4 (written by 1 process(es))" in log
    assert (run / "phase4_meta" / "checkpoints" / "universal" / "step_000004").is_dir()
    _assert_same_run(whole, run, ["phase4_meta"], 6)


def test_streamed_shards_on_two_processes_equal_one_and_resume_on_another_count(mixed_corpus, tmp_path):
    """Phases 3 and 4 (grounded records with images, audio and video) read from webdataset shards as they train
    (training.streaming): 2 processes (ZeRO-2) equal 1 process with the same global batch, step by step and in the
    exported model; a run stopped at step 2 on 2 processes and resumed on 1, with 2 DataLoader workers, equals
    both: each record was read at its position, none twice."""
    from reamo.builders import build

    shards = tmp_path / "shards"
    for name in ("phase3_grounding", "phase4_meta"):
        m = build("records", {"records": mixed_corpus / f"{name}.jsonl"}, shards / name, maxcount=5)
        assert m["bad_entries"] == 0 and len(m["shards"]) >= 4
    common = ["--phases", "phase3_grounding", "phase4_meta", "--steps", "4", "--save-every", "2",
              "--shards", str(shards)]
    one, two, resumed = tmp_path / "one", tmp_path / "two", tmp_path / "resumed"
    _probe(mixed_corpus, one, "configs/deepspeed/zero2.json", 1, _port(30), *common)
    _probe(mixed_corpus, two, "configs/deepspeed/zero2.json", 2, _port(31), *common)
    _assert_same_run(one, two, ["phase3_grounding", "phase4_meta"], 4)
    _probe(mixed_corpus, resumed, "configs/deepspeed/zero2.json", 2, _port(32), *common[:-2], "--stop-after", "2",
           "--shards", str(shards))
    log = _probe(mixed_corpus, resumed, "configs/deepspeed/zero2.json", 1, _port(33), *common, "--workers", "2")
    assert "at step 2 (written by 2 process(es))" in log
    _assert_same_run(one, resumed, ["phase3_grounding", "phase4_meta"], 4)


@pytest.mark.parametrize("grouped", [False, True], ids=["shuffled", "group_by_length"])
def test_phase1_public_recipe_on_two_processes_equals_one(data_dir, tmp_path, grouped):
    """The phase-1 recipe as a cluster runs it: a mixture from the real training files (NER, RE and EE records of
    different lengths, packed; and grouped by length), configs/phases/phase1_public.yaml through
    scripts/train_phase.sh on 2 processes (each rank's micro-batch holds other examples), against 1 process with
    the same global batch: the same loss at every step and the same exported adapter."""
    from reamo.corpora import MixtureConfig, build_mixture

    cfg = MixtureConfig.from_yaml(REPO / "configs" / "data" / "phase1_public.yaml",
                                  {"size": 24, "data_dir": str(data_dir), "eval": []})
    build_mixture(cfg, tmp_path / "mix", {"nyt": str(REPO / "tests" / "fixtures" / "formats" / "nyt")})
    runs = {}
    for procs, micro in ((2, 2), (1, 2)):
        out = tmp_path / f"run{procs}"
        sets = [f"data.train=[{tmp_path / 'mix' / 'train.jsonl'}]", f"output_dir={out}", "model=tiny", "max_steps=3",
                f"micro_batch_size={micro}", "global_batch_size=4", "progress=false", "log_every=1", "max_length=256",
                f"data.group_by_length={str(grouped).lower()}"]
        r = subprocess.run(["bash", "scripts/train_phase.sh", str(procs), "configs/phases/phase1_public.yaml"]
                           + [a for s in sets for a in ("--set", s)], cwd=REPO, env=_env(_port(20 + procs + 2 * grouped)),
                           capture_output=True, text=True, timeout=900)
        assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
        runs[procs] = out
    la, lb = (_losses(runs[p], "") for p in (2, 1))
    assert len(la) == len(lb) == 3 and all(abs(x - y) <= LOSS_TOL * max(1.0, abs(x)) for x, y in zip(la, lb)), (la, lb)
    ta, tb = (load_tensors(runs[p] / "final" / "adapter" / "adapter_model.safetensors") for p in (2, 1))
    for k in ta:
        torch.testing.assert_close(tb[k], ta[k], rtol=1e-4, atol=1e-6, msg=k)
