"""scripts/rehearse_7b.sh: the 7B recipe's configs run end to end at tiny scale on 2 CPU processes, from a real
sample of every source through every builder, the embedding cache, the four phases and `reamo eval`."""
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_the_7b_recipe_rehearses_end_to_end_on_two_processes(tmp_path):
    work = tmp_path / "rehearsal"
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR",
                                                            "MASTER_PORT")}
    env.update(MASTER_PORT=str(29000 + (os.getpid() * 13) % 900), VENV=str(Path(sys.executable).parent.parent))
    r = subprocess.run(["bash", "scripts/rehearse_7b.sh", str(work)], cwd=REPO, env=env, capture_output=True,
                       text=True, timeout=2400)
    log = r.stdout + r.stderr
    assert r.returncode == 0, log[-5000:]
    # every builder wrote samples, and reported the sources' bad entries without stopping
    built = {p.parent.name: json.loads(p.read_text()) for p in (work / "data").glob("*/manifest.json")}
    assert set(built) >= {"phase2_pairs", "phase2_audiocaps", "phase3_refcoco", "phase3_ref_youtube_vos",
                          "phase3_tao", "phase3_librispeech", "phase4_meta", "phase1"}
    for name, m in built.items():
        assert m.get("samples", m.get("examples", 0)) > 0, name
    assert built["phase2_pairs"]["bad_entries"] == 3 and built["phase3_refcoco"]["bad_entries"] == 3
    assert built["phase3_tao"]["bad_entries"] == 2
    # the cache of phases 2-4: built by 2 processes, every unit written, once per phase's data
    builds = [json.loads(p.read_text()) for p in (work / "runs" / "embedding_cache" / "shards").glob("build-*.json")]
    assert len(builds) == 3
    for b in builds:
        assert b["world"] == 2 and b["encoded"] + b["present"] == b["units"] > 0 and b["entries"] > 0
        assert sorted(u for r_ in b["ranks"] for u in r_["mine"]) == list(range(b["units"]))
    assert any(all(r_["mine"] for r_ in b["ranks"]) for b in builds)  # both ranks encoded in some phase
    # the four phases trained on 2 processes under the recipe's ZeRO-2 and exported a model each
    assert log.count("dist_world_size=2") >= 4
    for phase in ("phase1_uie", "phase2_alignment", "phase3_grounding", "phase4_meta"):
        assert (work / "runs" / phase / "final" / "config.yaml").is_file(), phase
    # and the final model was evaluated on the benchmark's sets
    assert "rehearsal done" in r.stdout
    assert any((work / "eval").iterdir())
