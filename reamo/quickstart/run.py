"""The quickstart run: corpus -> evaluation before training -> the recipe's phases (each under DeepSpeed) ->
evaluation after training (test and dev), per-combination table, query following, pictures -> DIR/model."""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from reamo.evaluation.runner import error_message, predict_records, result_record
from reamo.quickstart import report
from reamo.quickstart.recipe import Recipe
from reamo.records import read_jsonl


def evaluate(reamo, records, base_dir, settings) -> tuple[dict, list, list]:
    """Scores of `records`, the ExtractionResults, and (predicted record or None, error) per record."""
    from reamo.evaluation.metrics import SetScores

    results = predict_records(reamo, records, base_dir, batch_size=settings.batch_size,
                              max_new_tokens=settings.max_new_tokens)
    scores, predicted = SetScores(), []
    for g, r in zip(records, results):
        d = r.to_dict()
        predicted.append((result_record(d), error_message(d)))
        scores.add(predicted[-1][0], g, predicted[-1][1])
    return scores.to_dict(), results, predicted


def run_quickstart(args) -> int:
    from reamo.api import Reamo
    from reamo.evaluation.query_following import query_following
    from reamo.synth import generate_corpus
    from training.engine import train

    recipe = Recipe.load(args.recipe)
    visual = getattr(args, "visual", None) or recipe.corpus.visual
    audio = getattr(args, "audio", None) or recipe.corpus.audio
    size = "smoke" if args.smoke else "full"
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    # a quickstart starts from nothing: a phase folder left by an earlier run would be resumed from its last
    # checkpoint (training nothing if it had finished), and its figures would not be this code's
    stale = [out / n for n in (*recipe.phases, "embedding_cache", "model", "pictures") if (out / n).exists()]
    for p in stale:
        shutil.rmtree(p)
    if stale:
        print(f"removed the previous run's {', '.join(p.name for p in stale)} from {out}", flush=True)
    t0 = time.time()
    info = generate_corpus(out / "corpus", "smoke" if args.smoke else "default", seed=args.seed,
                           visual=visual, audio=audio)
    print(f"corpus: {info.counts}, {info.visual} images and videos, {info.audio} audio, in {out / 'corpus'} "
          f"({time.time() - t0:.1f} s)", flush=True)
    corpus = out / "corpus"
    test = list(read_jsonl(corpus / "test.jsonl"))
    dev = list(read_jsonl(corpus / "dev.jsonl"))
    t = time.time()
    before, _, _ = evaluate(Reamo.from_config(recipe.model).eval(merge_lora=True), test, corpus, recipe.eval)
    eval_before_s = time.time() - t
    print(f"evaluation before training: {eval_before_s:.0f} s", flush=True)

    prev, phases = None, {}
    for phase in recipe.phases:
        t = time.time()
        cfg = recipe.phase_config(phase, size, out, prev, args.seed)
        prev = str(train(cfg))
        phases[phase] = report.phase_figures(out / phase, time.time() - t)
        f = phases[phase]
        print(f"{phase}: {f['seconds']} s, {f.get('steps', '?')} steps, {f.get('samples_per_s', '?')} samples/s, "
              f"peak RSS {f['peak_rss_mib']} MiB", flush=True)
    model_dir = out / "model"
    if model_dir.exists():
        shutil.rmtree(model_dir)
    shutil.copytree(prev, model_dir)

    reamo = Reamo.from_pretrained(model_dir).eval(merge_lora=True)
    t = time.time()
    after, results, predicted = evaluate(reamo, test, corpus, recipe.eval)
    eval_after_s = time.time() - t
    dev_after, _, _ = evaluate(reamo, dev, corpus, recipe.eval)
    with open(out / "predictions_test.jsonl", "w") as f:  # every answer, to read what the figures count
        for r in results:
            f.write(json.dumps(r.to_dict()) + "\n")
    per_combo = report.by_combination(test, predicted)
    t = time.time()
    qf = query_following(reamo, test, base_dir=corpus)
    qf_s = time.time() - t
    pictures = report.draw_pictures(results, test, out / "pictures")
    total = time.time() - t0

    md = ("## Test split (targets)\n\n" + report.table(before, after) +
          "\n## Test split per input combination (after training)\n\n" + report.combination_table(per_combo) +
          "\n## Query following (test split, gold answers forced)\n\n" + report.query_following_table(qf) +
          "\n## Time and memory\n\n" + report.resources_table(phases) +
          f"\nevaluation before training {eval_before_s:.0f} s, after {eval_after_s:.0f} s; query following "
          f"{qf_s:.0f} s; total {total:.0f} s\n")
    (out / "results.md").write_text(md)
    (out / "scores.json").write_text(json.dumps({
        "recipe": args.recipe, "size": size, "seed": args.seed, "corpus": {"visual": info.visual, "audio": info.audio}, "before": before,
        "after": after,
        "dev_after": dev_after, "per_combination": per_combo, "query_following": qf, "phases": phases,
        "timings_s": {p: f["seconds"] for p, f in phases.items()}, "eval_before_s": round(eval_before_s, 1),
        "eval_after_s": round(eval_after_s, 1), "query_following_s": round(qf_s, 1), "pictures": pictures,
        "total_s": round(total, 1)}, indent=1))
    print(md)
    print(f"model: {model_dir}  (reamo extract --model {model_dir} ...)\npictures: {out / 'pictures'}\n"
          f"total: {total:.0f} s")
    return 0
