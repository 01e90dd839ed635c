"""Zero-shot benchmark runner: extract over every set present, cache predictions (resumable), score, report."""
from __future__ import annotations

import json
from pathlib import Path

from reamo.evaluation.metrics import SetScores, absent_modalities
from reamo.evaluation.report import discover, write_report
from reamo.records import Record, read_jsonl


def eval_input(gold: Record) -> dict:
    """What the model is given for a gold record: its text and the media that exist (media the record marks
    absent, e.g. tweet images that were never distributed, are left out: text alone for the tweet sets)."""
    absent = absent_modalities(gold)
    item = {"id": gold.id, "text": gold.text}
    item.update({m: getattr(gold, m) for m in ("image", "audio", "video") if getattr(gold, m) and m not in absent})
    return item


def error_message(d: dict) -> str | None:
    """The error of a failed prediction line, as 'Type: message'."""
    e = d.get("error")
    return None if not e else f"{e.get('type', 'Error')}: {e.get('message', '')}"


def by_task_and_schema(records: list[Record]) -> list[list[int]]:
    """Indices of `records` grouped by (task, schema), in first-seen order: one extract call takes one task and
    one schema, and records of a set may carry their own schema."""
    groups: dict = {}
    for i, g in enumerate(records):
        groups.setdefault((g.task, json.dumps(g.schema, sort_keys=True)), []).append(i)
    return list(groups.values())


def predict_records(reamo, gold: list[Record], base_dir, batch_size: int = 8, max_new_tokens: int = 256,
                    copy_spans: bool = False):
    """Extract on gold records (batched per task and schema), returning ExtractionResults in gold order."""
    out = [None] * len(gold)
    for idx in by_task_and_schema(gold):
        task = gold[idx[0]].task
        recs = [gold[i] for i in idx]
        res = reamo.extract([eval_input(g) for g in recs], task=task, schema=recs[0].schema, batch_size=batch_size, base_dir=base_dir,
                            max_new_tokens=max_new_tokens, copy_spans=copy_spans)
        for i, r in zip(idx, res):
            out[i] = r
    return out


def result_record(d: dict) -> Record | None:
    """A prediction line (ExtractionResult.to_dict) as a Record for scoring; None for a failed item."""
    if d.get("error"):
        return None
    return Record.from_dict({k: v for k, v in d.items() if k not in ("instructions", "warnings", "raw_output", "error")})


def score_predictions(gold: list[Record], predictions: dict) -> SetScores:
    """Scores of prediction dicts (by record id, as written to predictions.jsonl) against the gold records; a
    record without a prediction counts as failed."""
    scores = SetScores()
    for g in gold:
        d = predictions.get(g.id)
        scores.add(result_record(d) if d is not None else None, g,
                   error_message(d) if d is not None else "no prediction was made")
        if d is not None:
            scores.add_warnings(d.get("warnings"))
    return scores


def read_predictions(paths) -> dict:
    """id -> prediction line, from prediction files (a line cut by an interruption is skipped)."""
    done = {}
    for p in paths:
        if not p.is_file():
            continue
        for line in p.read_text().splitlines():
            try:
                d = json.loads(line)
                done[d["id"]] = d
            except (json.JSONDecodeError, KeyError):
                continue
    return done


def run_benchmark(reamo, bench: str | Path, out: str | Path, batch_size: int = 8, limit: int | None = None,
                  progress: bool = True, max_new_tokens: int = 256, copy_spans: bool = False) -> dict:
    """Predict every set of `bench` (resumable: predictions already in `out` are kept), then score.
    Under a launcher each process predicts its share of every set into its own part file; rank 0 merges the
    parts in gold order, scores and reports (the other ranks return {})."""
    from reamo.inference.sharding import Shard

    shard = Shard.from_env()
    out = Path(out)
    sets = []
    for combo, name, task, path in discover(bench):
        errors = []
        gold = list(read_jsonl(path, errors=errors))[:limit]
        for e in errors:
            print(f"skipped gold line: {e}")
        pred_path = out / "predictions" / combo / f"{name}.jsonl"
        pred_path.parent.mkdir(parents=True, exist_ok=True)
        done = read_predictions([pred_path] + (shard.parts(pred_path) if shard.distributed else []))
        # this rank's gold items by position (stable whatever the other ranks have written meanwhile), less
        # those already predicted (resume)
        todo = [g for _, g in shard.take(gold) if g.id not in done]
        chunks = [[todo[i] for i in idx[lo: lo + batch_size]] for idx in by_task_and_schema(todo)
                  for lo in range(0, len(idx), batch_size)]
        with shard.part(pred_path).open("a") as f:
            for chunk in chunks:
                res = reamo.extract([eval_input(g) for g in chunk], task=chunk[0].task, schema=chunk[0].schema,
                                    batch_size=batch_size, base_dir=path.parent, max_new_tokens=max_new_tokens,
                                    copy_spans=copy_spans)
                for g, r in zip(chunk, res):
                    d = r.to_dict()
                    d["id"] = g.id
                    f.write(json.dumps(d, ensure_ascii=False) + "\n")
                    f.flush()
                    done[g.id] = d
                if progress:
                    who = f" (rank {shard.rank})" if shard.distributed else ""
                    print(f"{combo}/{name}: {len(done)}/{len(gold)}{who}", flush=True)
        sets.append((combo, name, gold, pred_path, done))
    shard.barrier()
    if shard.rank != 0:
        return {}
    results = {}
    for combo, name, gold, pred_path, done in sets:
        if shard.distributed:  # merge the other ranks' parts: every prediction once, in gold order
            parts = shard.parts(pred_path)
            done = read_predictions([pred_path] + parts)
            pred_path.write_text("".join(json.dumps(done[g.id], ensure_ascii=False) + "\n" for g in gold
                                         if g.id in done))
            for p in parts:
                p.unlink(missing_ok=True)
        results[(combo, name)] = score_predictions(gold, done).to_dict()
    write_report(results, out)
    return results
