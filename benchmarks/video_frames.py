"""Video per-frame J of a trained model against the number of frames its tracking head samples
(`grounding.video.num_frames`, overridden at inference only), on the video items of a corpus split. Per-frame J
counts a gold frame the head did not sample as a miss, so sampling fewer frames than a video has caps it.

    .venv/bin/python benchmarks/video_frames.py --model runs/quickstart/model --records runs/quickstart/corpus/test.jsonl --frames 6 12
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--records", required=True)
    ap.add_argument("--frames", type=int, nargs="+", default=[6, 12])
    a = ap.parse_args()
    from reamo.api import Reamo
    from reamo.quickstart.recipe import EvalSettings
    from reamo.quickstart.run import evaluate
    from reamo.records import read_jsonl

    records = [r for r in read_jsonl(a.records) if r.video]
    rows = []
    for n in a.frames:
        t = time.time()
        reamo = Reamo.from_pretrained(a.model, overrides={"grounding.video.num_frames": n}).eval(merge_lora=True)
        scores, _, _ = evaluate(reamo, records, Path(a.records).parent, EvalSettings())
        rows.append({"num_frames": n, "video_items": len(records), "video_j": scores.get("video_j"),
                     "seconds": round(time.time() - t, 1)})
        print(json.dumps(rows[-1]), flush=True)


if __name__ == "__main__":
    main()
