"""Phase data from the public corpora of phases 2-4 (`reamo data build SOURCE`), in the formats their users
already hold, written as webdataset shards (reamo.records.shards) or as a JSONL folder:

  phase 2  caption-pairs (img2dataset / video2dataset shards), audiocaps (CSV + clips)
  phase 3  refcoco (refs JSON + COCO instances), ref-youtube-vos (meta_expressions + PNG masks),
           librispeech (word alignments + flac)
  phase 4  meta (compose extraction + meta-response records from grounded phase-3 output)
  any      records (a Reamo JSONL with its media, e.g. the benchmark's spoken sets)
"""
from reamo.builders.registry import BUILDERS, build

__all__ = ["BUILDERS", "build"]
