"""Query-following accuracy of a trained model on a corpus split (reamo.evaluation.query_following): with the
gold answer forced, does each item's predicted mask / tracklet / span overlap its own gold region more than the
other items' of the same input?

    .venv/bin/python benchmarks/query_following.py --model runs/quickstart/model --records runs/quickstart/corpus/test.jsonl
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
    ap.add_argument("--records", required=True, help="a JSONL of records with gold groundings")
    a = ap.parse_args()
    from reamo.api import Reamo
    from reamo.evaluation.query_following import query_following
    from reamo.records import read_jsonl

    t = time.time()
    records = list(read_jsonl(a.records))
    reamo = Reamo.from_pretrained(a.model).eval(merge_lora=True)
    result = query_following(reamo, records, base_dir=Path(a.records).parent)
    print(json.dumps({"model": a.model, "records": len(records), "query_following": result,
                      "seconds": round(time.time() - t, 1)}, indent=1))


if __name__ == "__main__":
    main()
