"""The `reamo` command line.

    reamo extract   --text ... --image ... --audio ... --video ... --task ner --labels a,b --model DIR --out r.json
                    [--export FORMAT ...]
    reamo train     --config configs/phases/phase1_uie.yaml [--set key=value ...]
    reamo eval      --model DIR --benchmark DIR --out DIR     |   --predictions P.jsonl --gold G.jsonl
    reamo data convert --format NAME IN OUT.jsonl
    reamo data mix     --config configs/data/phase1_public.yaml --out DIR [--source NAME=PATH]
    reamo data build   SOURCE --out DIR ...          (phase 2-4 data as webdataset shards)
    reamo cache build --config PHASE.yaml [--set ...]  (frozen-encoder features in shards; torchrun for several)
    reamo quickstart [--out DIR] [--smoke] [--recipe smollm2|tiny|mspit] [--visual shapes|photo] [--audio sounds|tones]
    reamo demo      --model DIR [--host 127.0.0.1] [--port 7860]
    reamo bench build --out BENCH [--data DIR] [--per-set 200] [--no-speech]
    reamo plan      --config vicuna-7b --phase phase4_meta --gpus 8 --zero 2 [--micro-batch 1 --seq 2048]
    reamo export    --results r.jsonl --format coco rttm webvtt mot labelstudio --out DIR
"""
from __future__ import annotations

import argparse
import os
import sys

import yaml

COPY_SPANS_HELP = ("decode every span (entity, head and tail, trigger, argument) as a piece of the input text "
                   "(copy-constrained decoding)")


def parse_sets(pairs: list[str]) -> dict:
    """--set a.b=value pairs; values are parsed as YAML scalars/lists (safe_load)."""
    out = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise SystemExit(f"--set expects key=value, got {pair!r}")
        k, v = pair.split("=", 1)
        out[k.strip()] = yaml.safe_load(v)
    return out


def cmd_train(args) -> int:
    from training.config import TrainConfig
    from training.engine import train

    cfg = TrainConfig.from_yaml(args.config, parse_sets(args.set))
    final = train(cfg)
    print(f"phase {cfg.phase} done: {final}")
    return 0


def cmd_cache(args) -> int:
    from training.cache_build import run_distributed
    from training.config import TrainConfig

    cfg = TrainConfig.from_yaml(args.config, parse_sets(args.set))
    r = run_distributed(cfg, shard_size=args.shard_size, batch_size=args.batch_size, max_units=args.max_units)
    print(f"rank {r.rank}/{r.world}: {len(r.mine)} of {r.units} units; encoded {len(r.encoded)} ({r.entries} entries), "
          f"already there {len(r.present)}, media that did not load {len(r.failed)}")
    return 0


def cmd_extract(args) -> int:
    from reamo.inference.cli import run_extract

    return run_extract(args)


def cmd_eval(args) -> int:
    from reamo.evaluation import cli as eval_cli

    return eval_cli.run(args)


def cmd_data(args) -> int:
    from reamo.converters import cli as conv_cli

    return conv_cli.run(args)


def cmd_build(args) -> int:
    from reamo.builders import cli as build_cli

    return build_cli.run(args)


def cmd_mix(args) -> int:
    from reamo.corpora import cli as mix_cli

    return mix_cli.run(args, parse_sets(args.set))


def cmd_quickstart(args) -> int:
    from reamo.quickstart import run_quickstart

    return run_quickstart(args)


def cmd_bench(args) -> int:
    from reamo.benchmark.cli import run

    return run(args)


def cmd_plan(args) -> int:
    from reamo.planning import run_plan

    return run_plan(args)


def cmd_export(args) -> int:
    from reamo.export.cli import run_export

    return run_export(args)


def cmd_demo(args) -> int:
    from reamo.demo.app import run_demo

    return run_demo(args)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="reamo", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--local_rank", "--local-rank", type=int, default=None, help=argparse.SUPPRESS)  # deepspeed launcher
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="run one tuning phase under DeepSpeed (one CPU process without a launcher)")
    t.add_argument("--config", required=True, help="phase YAML (configs/phases/*.yaml)")
    t.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config key (dotted)")
    t.set_defaults(func=cmd_train)

    k = sub.add_parser("cache", help="the embedding cache")
    ksub = k.add_subparsers(dest="cache_command", required=True)
    kb = ksub.add_parser("build", help="encode a phase's media with the frozen encoder into cache shards (run under "
                         "torchrun or deepspeed for several processes; resumable)")
    kb.add_argument("--config", required=True, help="phase YAML: its data.train, model and data.cache_dir")
    kb.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config key (dotted)")
    kb.add_argument("--shard-size", type=int, default=1000, help="media files of JSONL data per shard (a .tar of "
                    "shard data is one unit)")
    kb.add_argument("--batch-size", type=int, default=32, help="media encoded at once")
    kb.add_argument("--max-units", type=int, help="stop after encoding this many units a rank (rerun to go on)")
    kb.set_defaults(func=cmd_cache)

    e = sub.add_parser("extract", help="extract and ground entities, relations or events")
    e.add_argument("--model", required=True, help="a Reamo checkpoint folder, or a model config name (e.g. tiny)")
    e.add_argument("--text", help="the input text")
    e.add_argument("--image", help="an image file (PNG, JPEG, ...)")
    e.add_argument("--audio", help="an audio file (WAV, FLAC, MP3, ...); long files are streamed")
    e.add_argument("--video", help="a video file (MP4, ...)")
    e.add_argument("--inputs", help="JSONL of inputs (records or {text,image,audio,video}) for a batch")
    e.add_argument("--task", default="ner", choices=["ner", "re", "ee"],
                   help="named entities, relations or events (default: ner)")
    e.add_argument("--labels", help="comma-separated labels (entity / relation / event types)")
    e.add_argument("--schema", help="a JSON schema file (DESIGN 3.1) instead of --labels")
    e.add_argument("--batch-size", type=int, default=8, help="inputs generated together (default: 8)")
    e.add_argument("--max-new-tokens", type=int, default=256, help="answer length limit in tokens (default: 256)")
    e.add_argument("--copy-spans", action="store_true", help=COPY_SPANS_HELP)
    e.add_argument("--out", help="write results as JSON (one input) or JSONL (--inputs); default: print them")
    e.add_argument("--viz", help="write a picture of the (first) result (PNG)")
    from reamo.export import FORMATS as EXPORTS

    e.add_argument("--export", nargs="+", default=[], choices=list(EXPORTS), metavar="FORMAT",
                   help="also write the results for other tools: " + "; ".join(f"{k}: {v}" for k, (_, v) in EXPORTS.items()))
    e.add_argument("--export-dir", help="where --export writes (default: the folder of --out, else exports/)")
    e.set_defaults(func=cmd_extract)

    v = sub.add_parser("eval", help="zero-shot benchmark evaluation, or score a prediction file")
    v.add_argument("--model", help="a Reamo checkpoint folder to evaluate on --benchmark")
    v.add_argument("--benchmark", help="a benchmark folder from `reamo bench build` (BENCH/<combo>/<set>.jsonl)")
    v.add_argument("--predictions", help="a JSONL of any system's predictions to score against --gold")
    v.add_argument("--gold", help="the gold JSONL that --predictions answers (records with the same ids)")
    v.add_argument("--out", default="eval_out", help="where table.md, scores.json and scores.png go (default: eval_out)")
    v.add_argument("--batch-size", type=int, default=8, help="inputs generated together (default: 8)")
    v.add_argument("--limit", type=int, default=None, help="at most this many instances per set")
    v.add_argument("--max-new-tokens", type=int, default=256, help="answer length limit in tokens (default: 256)")
    v.add_argument("--copy-spans", action="store_true", help=COPY_SPANS_HELP)
    v.set_defaults(func=cmd_eval)

    d = sub.add_parser("data", help="dataset tools")
    dsub = d.add_subparsers(dest="data_command", required=True)
    from reamo.converters import FORMATS, formats_help

    c = dsub.add_parser("convert", help="convert a public dataset file into Reamo records (JSONL)",
                        description="formats:\n" + formats_help(), formatter_class=argparse.RawDescriptionHelpFormatter)
    c.add_argument("--format", required=True, choices=list(FORMATS), help="the dataset format (listed above)")
    c.add_argument("input", help="the public dataset file")
    c.add_argument("output", help="the JSONL of Reamo records to write")
    c.set_defaults(func=cmd_data)
    mx = dsub.add_parser("mix", help="build the phase-1 mixture of public text IE sets (with a manifest and eval sets)")
    mx.add_argument("--config", default="configs/data/phase1_public.yaml",
                    help="the mixture's YAML: sources, weights, size, label sampling, eval sets "
                         "(default: configs/data/phase1_public.yaml)")
    mx.add_argument("--out", required=True, help="the folder for train.jsonl, manifest.json and eval/")
    mx.add_argument("--source", action="append", default=[], metavar="NAME=PATH",
                    help="where a source or eval set of the config is (a file, or the folder holding it); repeatable")
    mx.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override a key of the config (e.g. size=4000, labels.drop=0.2); repeatable")
    mx.set_defaults(func=cmd_mix)
    from reamo.builders.cli import add_parsers as add_build_parsers

    add_build_parsers(dsub, cmd_build)

    q = sub.add_parser("quickstart", help="generate a grounded corpus, train all four phases on CPU, evaluate")
    q.add_argument("--out", default="runs/quickstart",
                   help="the run folder: corpus, phases, model, scores, pictures (default: runs/quickstart)")
    q.add_argument("--smoke", action="store_true", help="a tiny size that runs in a few minutes (CI)")
    q.add_argument("--recipe", default="smollm2",
                   help="configs/quickstart/NAME.yaml or a YAML path: smollm2 (default, the pretrained backbone), "
                        "tiny (a small LLaMA from scratch), mspit (LLaVA-MS-PIT's schema-guided curriculum, "
                        "then phases 3 and 4; mspit_text and mspit_visual: one of its stages each; mspit_schemas: "
                        "both, without stage 2)")
    q.add_argument("--seed", type=int, default=0, help="seed of the corpus and of training (default: 0)")
    from reamo.synth.generator import AUDIO, VISUAL

    q.add_argument("--visual", choices=VISUAL, default=None,
                   help="the corpus's images and videos, instead of the recipe's corpus.visual: shapes (coloured "
                        "shapes) or photo (objects cut from real photographs)")
    q.add_argument("--audio", choices=AUDIO, default=None,
                   help="the corpus's audio, instead of the recipe's corpus.audio: sounds (speech by espeak-ng, "
                        "calls, engines) or tones")
    q.set_defaults(func=cmd_quickstart)

    b = sub.add_parser("bench", help="build the open zero-shot benchmark from public data")
    bsub = b.add_subparsers(dest="bench_command", required=True)
    bb = bsub.add_parser("build", help="BENCH/<combo>/<set>.jsonl + manifest.json, with spoken (TTS) variants")
    bb.add_argument("--out", required=True, help="the benchmark folder to write")
    bb.add_argument("--data", help="the shared data folder (default: $REAMO_SHARED_DATA or ../shared/data)")
    bb.add_argument("--per-set", type=int, default=200, help="records sampled per set (default: 200)")
    bb.add_argument("--seed", type=int, default=0, help="seed of the sample and of the voices (default: 0)")
    bb.add_argument("--no-speech", action="store_true", help="no spoken (espeak-ng) variants")
    bb.add_argument("--max-event-types", type=int, default=12, help="event types per prompt at most")
    bb.add_argument("--max-relation-types", type=int, default=24, help="relation types per prompt at most")
    bb.add_argument("--source", action="append", default=[], metavar="FORMAT=PATH",
                    help="a dataset file to use instead of the data folder's (e.g. rams=/data/rams/test.jsonlines)")
    bb.add_argument("--videos", action="append", default=[], metavar="FORMAT=DIR",
                    help="the videos of a moment set (qvhighlights, tacos, charades-sta)")
    bb.set_defaults(func=cmd_bench)

    pl = sub.add_parser("plan", help="per-GPU memory of a training step (ZeRO-2/3/offload) and of inference")
    pl.add_argument("--config", default="vicuna-7b", help="a model config name")
    pl.add_argument("--phase", default="phase4_meta", help="a phase config name (its trainable groups)")
    pl.add_argument("--gpus", type=int, default=8, help="data-parallel GPUs in all")
    pl.add_argument("--zero", default="2", choices=["2", "3", "3-offload"], help="the stage you plan to use (marked)")
    pl.add_argument("--micro-batch", type=int, default=1, help="sequences per GPU per step (default: 1)")
    pl.add_argument("--seq", type=int, default=2048, help="tokens per sequence (default: 2048)")
    pl.add_argument("--answer", type=int, default=256, help="answer tokens per sequence (logits are computed there)")
    pl.set_defaults(func=cmd_plan)

    w = sub.add_parser("demo", help="serve the web demo (Gradio): upload media, see extractions and groundings")
    w.add_argument("--model", help="a Reamo checkpoint folder (e.g. runs/quickstart/model)")
    w.add_argument("--host", default="127.0.0.1", help="address to serve on (default: 127.0.0.1; 0.0.0.0 for all)")
    w.add_argument("--port", type=int, default=7860, help="port to serve on (default: 7860)")
    w.add_argument("--examples", help="a quickstart corpus folder or test.jsonl for the examples "
                                      "(default: the corpus beside the model folder)")
    w.add_argument("--shared-data", help="a folder with media/ of real examples (default: $REAMO_SHARED_DATA)")
    w.add_argument("--batch-size", type=int, default=8, help="requests answered together at most")
    w.add_argument("--max-audio-seconds", type=float, default=600.0, help="longer uploads are refused (default: 600)")
    w.add_argument("--max-video-seconds", type=float, default=300.0, help="longer uploads are refused (default: 300)")
    w.add_argument("--max-new-tokens", type=int, default=256, help="answer length limit in tokens (default: 256)")
    w.set_defaults(func=cmd_demo)

    x = sub.add_parser("export", help="write saved results (reamo extract's JSON/JSONL) in formats other tools read",
                       description="formats:\n" + "\n".join(f"  {k:12s} {v}" for k, (_, v) in EXPORTS.items()),
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    x.add_argument("--results", required=True, help="a results file of `reamo extract --out` (JSON or JSONL)")
    x.add_argument("--format", required=True, nargs="+", choices=list(EXPORTS), metavar="FORMAT",
                   help="one or more of: " + ", ".join(EXPORTS))
    x.add_argument("--out", required=True, help="the folder to write into")
    x.add_argument("--fps", type=float, help="the videos' frame rate, for MOT and Label Studio frame numbers")
    x.set_defaults(func=cmd_export)
    return p


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    args = build_parser().parse_args(argv)
    from reamo.errors import ReamoError

    try:
        return args.func(args)
    except ReamoError as e:
        print(f"reamo {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
