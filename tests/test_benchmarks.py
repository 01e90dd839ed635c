"""The benchmark scripts' own logic: the MFU FLOP count, and the full-scale script's code path at tiny size."""
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

def test_flop_count_of_llama_7b_with_lora():
    from fullscale import flops_per_token, matmul_params

    from reamo.model.config import LLMConfig, LoraSettings
    from reamo.model.llm import build_tokenizer, prepare_llm

    cfg = LLMConfig(hidden_size=4096, intermediate_size=11008, num_hidden_layers=32, num_attention_heads=32,
                    max_position_embeddings=4096, vocab_size=32000)
    tok = build_tokenizer(LLMConfig())
    _, llm, _ = prepare_llm(cfg, LoraSettings(r=128, alpha=256), tokenizer=tok, device="meta")
    frozen, trainable = matmul_params(llm)
    # 32 layers x (4 attention 4096x4096 + 3 MLP 4096x11008) + lm_head 32000x4096 (Vicuna's vocabulary)
    assert frozen == 32 * (4 * 4096 * 4096 + 3 * 4096 * 11008) + 32000 * 4096
    # LoRA r=128 on those 7 Linears per layer: r x (in + out) each
    assert trainable == 32 * 128 * (4 * (4096 + 4096) + 3 * (4096 + 11008))
    assert flops_per_token(llm, 2048) == 4 * frozen + 6 * trainable + 12 * 32 * 4096 * 2048

import pytest


@pytest.mark.parametrize("config", ["tiny", "smollm2-135m"])
def test_fullscale_script_runs_on_cpu(config, tmp_path):
    """One step of each side at tiny and at SmolLM2-135M shapes (a real 49k vocabulary with Reamo's special and
    placeholder ids among it: the random sequences must avoid them)."""
    parts = ["reamo", "hf", "decode"] if config == "tiny" else ["reamo", "hf"]
    out = subprocess.run([sys.executable, str(REPO / "benchmarks" / "fullscale.py"), "--device", "cpu", "--config", config,
                          "--seq", "64", "--answer", "16", "--steps", "1", "--warmup", "1", "--new-tokens", "8",
                          "--prompt-tokens", "16", "--work", str(tmp_path), "--parts", *parts], capture_output=True,
                         text=True, timeout=900, cwd=REPO)
    assert out.returncode == 0, out.stderr[-3000:]
    lines = out.stdout.splitlines()
    assert any(x.startswith("reamo  train step") for x in lines) and any(x.startswith("hf     train step") for x in lines)
    assert any(x.startswith("reamo / hf tokens/s:") for x in lines)
    if "decode" in parts:
        assert any(x.startswith("decode batch 1:") for x in lines), out.stdout


def test_random_sequences_hold_no_special_or_placeholder_id():
    from fullscale import ordinary_ids, sequences

    from reamo.api import Reamo

    model = Reamo.from_config("tiny").model
    vocab = model.llm.get_input_embeddings().weight.shape[0]
    allowed = ordinary_ids(model.tokenizer, vocab)
    ids, labels = sequences(4, 128, 16, allowed)
    special = set(model.tokenizer.all_special_ids) | set(model.special_ids.placeholders.values()) | {
        model.special_ids.instruction_end}
    assert not (set(ids.flatten().tolist()) & special)
    assert (labels[:, :112] == -100).all() and (labels[:, 112:] == ids[:, 112:]).all()


def test_media_perception_labels_and_item_choice():
    from media_perception import caption_types, single_medium, with_medium

    assert caption_types("a person and a animal") == {"person", "animal"}
    assert caption_types("a vehicle") == {"vehicle"} and caption_types("") == set()
    assert caption_types("objects: person, animal; attributes: person: red disk; scene: a plain") == {"person", "animal"}
    recs = [{"id": "a", "audio": "a.wav"}, {"id": "ta", "text": "x", "audio": "b.wav"},
            {"id": "ia", "image": "i.png", "audio": "c.wav"}, {"id": "v", "video": "v.mp4"}]
    assert [r["id"] for r in single_medium(recs, "audio")] == ["a", "ta"]
    assert [r["id"] for r in single_medium(recs, "audio", with_text=False)] == ["a"]
    assert single_medium(recs, "image") == []
    assert [r["id"] for r in with_medium(recs, "audio")] == ["a", "ta", "ia"]  # --probe-items all
    assert [r["id"] for r in with_medium(recs, "image")] == ["ia"]
    # the probe's caption rows count held-out items with quickstart_heldout's predicate, on JSONL dicts
    from quickstart_heldout import holds_heldout_pair

    from reamo.records import Record

    pairs = {("vehicle", "A"), ("animal", "V")}
    line = lambda **kw: Record.from_dict({"id": "x", "task": "ner", **kw})  # noqa: E731
    assert holds_heldout_pair(line(combo="A", scene_graph={"objects": ["person", "vehicle"]}), pairs)
    assert not holds_heldout_pair(line(combo="V+A", scene_graph={"objects": ["animal"]}), pairs)
    assert not holds_heldout_pair(line(combo="A"), pairs)


def test_quickstart_heldout_split():
    from quickstart_heldout import holds_heldout_pair, select, split_scores

    from reamo.records import Record

    def rec(rid, combo, types):
        return Record.from_dict({"id": rid, "task": "ner", "audio": "a.wav", "combo": combo,
                                 "scene_graph": {"objects": types},
                                 "entities": [{"text": f"the {t}", "type": t} for t in types]})

    pairs = {("vehicle", "A")}
    held, other, elsewhere = rec("h", "A", ["vehicle"]), rec("o", "A", ["person"]), rec("e", "T+A", ["vehicle"])
    assert holds_heldout_pair(held, pairs) and not holds_heldout_pair(other, pairs)
    assert not holds_heldout_pair(elsewhere, pairs)  # a vehicle heard with text is not the held-out pair
    preds = [{"id": "h", "task": "ner", "entities": [{"text": "the person", "type": "person"}]},
             {"id": "o", "task": "ner", "entities": [{"text": "the person", "type": "person"}]},
             {"id": "e", "task": "ner", "entities": [{"text": "the vehicle", "type": "vehicle"}]}]
    s = split_scores([held, other, elsewhere], preds, pairs)
    assert s["heldout_pairs"]["ner"]["f1"] == 0.0 and s["others"]["ner"]["f1"] == 1.0
    assert s["heldout_pairs"]["records"] == 1 and s["others"]["records"] == 2

    recs = [held, other, elsewhere, rec("h2", "A", ["animal"])]
    assert [r.id for r in select(recs, ["A"], 2)] == ["h", "o"] and [r.id for r in select(recs, None, 1)] == ["h", "e"]
    assert [r.id for r in select(recs, ["T+A", "A"], None)] == ["h", "o", "e", "h2"]


def test_label_following_variants(data_dir):
    from label_following import variants

    from reamo.converters import read_format

    gold = read_format("conll2003", data_dir / "text" / "conll2003" / "dev.txt")[:50]
    v = variants(gold, seed=0)
    assert v["given"] == gold and all(len(v[k]) == 50 for k in v)
    full = ["person", "location", "organization", "miscellaneous"]
    assert all(sorted(r.schema["entity_types"]) == sorted(full) for r in v["shuffled"])
    assert any(r.schema["entity_types"] != full for r in v["shuffled"])
    for g, s in zip(gold, v["subset"]):
        assert len(s.schema["entity_types"]) == 2
        assert [e.text for e in s.entities] == [e.text for e in g.entities if e.type in s.schema["entity_types"]]
    assert all(r.schema["entity_types"] == ["human", "place", "group", "other thing"] for r in v["renamed"])
    assert {e.type for r in v["renamed"] for e in r.entities} <= {"human", "place", "group", "other thing"}
    assert [e.type for e in gold[1].entities] and gold[1].entities[0].type in full  # the input is not changed


def test_mspit_ablation_tables_and_target_check(tmp_path):
    """benchmarks/mspit_ablation.py: per-combination EE from each run's scores.json and held-out dev lines, and the
    target check (media-only trigger F1, any combination more than 0.05 below the default recipe)."""
    import json

    from mspit_ablation import combo_table, heldout_rows, target_check, test_rows, text_events_table

    def run(name, a_et, i_ner):
        d = tmp_path / name
        d.mkdir()
        f = lambda x: {"f1": x, "precision": x, "recall": x}
        combos = {c: {"records": 20, "ner": f(i_ner if c == "I" else 1.0), "et": f(a_et if c in ("A", "V") else 1.0),
                      "ea": f(0.5)} for c in ("I", "A", "V")}
        (d / "scores.json").write_text(json.dumps({
            "per_combination": combos, "after": {"ner": f(0.9), "image_miou": {"mean": 0.7}},
            "dev_after": {"ner": f(0.8)}, "timings_s": {"p1": 10.0, "p2": 5.0}}))
        (d / "heldout_dev.jsonl").write_text(json.dumps({"combination": "A", "records": 20, "et": 0.25}) + "\n" +
                                             json.dumps({"part": "heldout_pairs", "records": 5, "ner": {"f1": 0.4}}))
        return test_rows(d)

    rows = {"smollm2": run("smollm2", 0.333, 0.8), "mspit": run("mspit", 0.7, 0.6)}
    assert rows["mspit"]["all"]["image_miou"] == 0.7 and rows["mspit"]["seconds"] == 15.0
    table = combo_table(rows, ["I", "A"])
    assert "| MS-PIT: 1a + 1b + stage 2 | 1.000 / 0.500 | 0.700 / 0.500 | 0.900 | - |" in table
    (check,) = target_check(rows)
    assert "A 0.700, V 0.700 (target >= 0.60: met)" in check and "I ner 0.800 -> 0.600" in check
    assert heldout_rows(tmp_path / "mspit")["A"]["et"] == 0.25
    assert heldout_rows(tmp_path / "mspit")["heldout_pairs"]["ner"] == 0.4
    assert "not compared" in target_check({"mspit": rows["mspit"]})[0]
    (tmp_path / "eval_ee").mkdir()
    (tmp_path / "eval_ee" / "scores.json").write_text(json.dumps({"T/rams": {
        "records": 100, "unparsed": 2, "off_list": 1, "et": {"precision": 0.5, "recall": 0.25, "f1": 0.333},
        "ea": {"precision": 0.1, "recall": 0.2, "f1": 0.133}}}))
    assert "| EE tuning (no stage 1a) | T/rams | 100 | 0.500 / 0.250 / 0.333 | 0.100 / 0.200 / 0.133 | 2 | 1 |" in \
        text_events_table(tmp_path)


def test_recipe_tail_sets_phase_keys():
    from recipe_tail import load_recipe

    from reamo.errors import ConfigError
    from reamo.quickstart.recipe import Recipe

    r = load_recipe("mspit_text", ["phase2_alignment.epochs.full=4", "phase4_meta.loss_weights.lm=2.0"])
    assert r.phases["phase2_alignment"].epochs == {"full": 4, "smoke": 1}
    assert r.phases["phase4_meta"].loss_weights["lm"] == 2.0
    assert Recipe.load("mspit_text").phases["phase2_alignment"].epochs["full"] == 2  # the file is untouched
    for bad in ("phase9.epochs.full=1", "phase2_alignment.epochs=1", "phase2_alignment.seed.x=1",
                "phase2_alignment.epochs.full=-1", "phase2_alignment.epochs.full=abc"):
        with pytest.raises(ConfigError):
            load_recipe("mspit_text", [bad])


def test_phase_tokens_counts_the_phase_examples():
    from phase_tokens import example_lengths, hours_per_million
    from training.config import TrainConfig

    from reamo.api import Reamo
    from reamo.records import Entity, Record

    model = Reamo.from_config("tiny").model
    cfg = TrainConfig.from_yaml("configs/phases/phase1_uie.yaml", {"model": "tiny", "init_from": None})
    good = Record("a", "ner", "Kennedy met Lee.", schema={"entity_types": ["person"]},
                  entities=[Entity("Kennedy", "person", 0, 7)])
    no_text = Record("b", "ner", None, image="x.png", schema={"entity_types": ["person"]})
    lengths, bad = example_lengths(model, cfg, [(good, "d.jsonl"), (no_text, "d.jsonl")])
    from training.examples import PhaseExamples

    (ex,) = PhaseExamples(model, cfg).examples(good, "d.jsonl")
    assert lengths == [len(model.processor.encode(ex.prompt, ex.answer).input_ids)] and bad == 1
    # 100 tokens an example, 8 GPUs at 1,000 tokens/s, no recompute: 1e8 tokens / 8,000 per s
    assert abs(hours_per_million(100, 1000, 8, 1.0) - 1e8 / 8000 / 3600) < 1e-9


def test_packing_throughput_script_runs_every_side(data_dir, tmp_path):
    """benchmarks/packing_throughput.py at tiny size on the real phase-1 mix: a row per side, the grouped side's
    packed micro-batches hold less padding than the ungrouped ones, which hold less than padding to the longest."""
    import json

    out = subprocess.run([sys.executable, str(REPO / "benchmarks" / "packing_throughput.py"), "--config", "tiny",
                          "--examples", "24", "--micro-batch", "4", "--max-length", "512", "--warmup", "1",
                          "--data", str(data_dir), "--work", str(tmp_path), "--sides", "grouped", "packed", "padded",
                          "hf"], capture_output=True, text=True, timeout=900, cwd=REPO)
    assert out.returncode == 0, out.stderr[-3000:]
    rows = {r["side"]: r for r in (json.loads(x[7:]) for x in out.stdout.splitlines() if x.startswith("RESULT "))}
    assert set(rows) == {"reamo grouped", "reamo packed", "reamo padded", "hf"}
    assert rows["reamo grouped"]["padding"] < rows["reamo packed"]["padding"] < rows["reamo padded"]["padding"]
    assert all(r["tokens_per_s"] > 0 and r["steps"] == 6 for r in rows.values())


def test_reparse_scores_scores_saved_answers_with_the_current_parser(tmp_path):
    """A run's saved answers, parsed again: a looping answer's restatements count once, an answer with groundings
    leaves its set out, and the scores are those of the new parse."""
    import json

    from reparse_scores import main

    from reamo.records import Entity, Record, Relation

    text = "Ann lives in Rome ."
    ents = [Entity("Ann", "person", 0, 3), Entity("Rome", "location", 13, 17)]
    gold = Record("g1", "re", text, schema={"relation_types": ["live in"]}, entities=ents,
                  relations=[Relation(0, 1, "live in")])
    bench, ev = tmp_path / "bench", tmp_path / "eval"
    (bench / "T").mkdir(parents=True)
    (bench / "T" / "conll04.jsonl").write_text(json.dumps(gold.to_dict()) + "\n")
    (bench / "T+I").mkdir()
    (bench / "T+I" / "mnre.jsonl").write_text(json.dumps(gold.to_dict()) + "\n")
    loop = "(Ann, live in, Rome)" * 3 + "(Ann, live in"
    saved = {"id": "g1", "task": "re", "text": text, "relations": [], "instructions": [], "raw_output": loop,
             "warnings": [], "error": None}
    (ev / "predictions" / "T").mkdir(parents=True)
    (ev / "predictions" / "T" / "conll04.jsonl").write_text(json.dumps(saved) + "\n")
    (ev / "predictions" / "T+I").mkdir()
    grounded = {**saved, "instructions": [{"module": "ImageSegmentation", "phrase": "Ann", "targets": []}]}
    (ev / "predictions" / "T+I" / "mnre.jsonl").write_text(json.dumps(grounded) + "\n")
    assert main(["--eval", str(ev), "--benchmark", str(bench), "--out", str(tmp_path / "out")]) == 0
    scores = json.loads((tmp_path / "out" / "scores.json").read_text())
    assert list(scores) == ["T/conll04"]
    s = scores["T/conll04"]
    assert s["re"]["tp"] == 1 and s["re"]["n_pred"] == 1 and s["unparsed"] == 1  # the cut-off tuple is unparsed
