"""Scoring prediction files from any system; malformed lines are reported with file and line."""
import json

from reamo.cli import main as cli_main
from reamo.records import Entity, Record, write_jsonl


def test_scorer_cli_reports_bad_lines_and_scores_the_rest(tmp_path, capsys):
    gold = [Record(str(i), "ner", f"x{i} y", entities=[Entity(f"x{i}", "a", 0, len(f"x{i}"))]) for i in range(4)]
    write_jsonl(tmp_path / "g.jsonl", gold)
    with open(tmp_path / "g.jsonl", "a") as f:
        f.write("{broken json\n")
    preds = [gold[0].to_dict(), gold[1].to_dict(), {"id": "2", "task": "ner", "entities": [{"text": "x2", "type": "b"}]}]
    (tmp_path / "p.jsonl").write_text("\n".join(json.dumps(p) for p in preds) + "\nnot json\n")
    out = tmp_path / "out"
    assert cli_main(["eval", "--predictions", str(tmp_path / "p.jsonl"), "--gold", str(tmp_path / "g.jsonl"), "--out", str(out)]) == 0
    err = capsys.readouterr()
    assert "p.jsonl:4" in err.err and "g.jsonl:5" in err.err
    scores = json.loads((out / "scores.json").read_text())["file/g"]
    assert scores["ner"]["tp"] == 2 and scores["ner"]["n_gold"] == 4 and scores["ner"]["n_pred"] == 3
    assert (out / "table.md").read_text().startswith("| input | set |") and (out / "scores.png").stat().st_size > 1000
