"""Long audio in bounded memory: `extract` on hours of 16 kHz mono WAV, with an AudioSegmentation instruction
forced so that the grounding head runs over the whole recording. Each length runs in its own process; prints
peak RSS and seconds per audio hour.

    .venv/bin/python benchmarks/long_audio.py --hours 2 10            # streamed (the default for files > 300 s)
    .venv/bin/python benchmarks/long_audio.py --hours 2 --whole       # the file loaded whole, for comparison

The WAV files are silent (written block by block into --work, 115 MB per hour) and removed afterwards."""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
ANSWER = "(Kennedy, person)<Module>AudioSegmentation</Module><Instruction>Kennedy</Instruction>"

CHILD = """
import json, resource, sys, time, torch
sys.path.insert(0, {repo!r})
from reamo.api import Reamo
overrides = {{"media": {{"audio_stream_s": 1e9}}}} if sys.argv[3] == "whole" else None
reamo = Reamo.from_config(sys.argv[2], overrides=overrides).eval()
ids = reamo.tokenizer.encode({answer!r}, add_special_tokens=False) + [reamo.tokenizer.eos_token_id]
reamo.model.generate = lambda input_ids, *a, **k: torch.tensor([ids] * input_ids.shape[0])
t = time.time()
r = reamo.extract({{"text": "Kennedy spoke", "audio": sys.argv[1]}}, "ner", ["person"])
print(json.dumps({{"ok": r.ok, "error": str(r.error), "seconds": time.time() - t,
                  "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "grounded": "audio" in (r.entities[0].grounding if r.entities else {{}})}}))
"""


def silent_wav(path: Path, hours: float) -> None:
    import soundfile as sf

    block = np.zeros(16000 * 60, np.int16)
    with sf.SoundFile(path, "w", samplerate=16000, channels=1, subtype="PCM_16") as f:
        for _ in range(int(round(hours * 60))):
            f.write(block)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hours", type=float, nargs="+", default=[2.0, 10.0])
    ap.add_argument("--config", default="tiny")
    ap.add_argument("--whole", action="store_true", help="load the file whole (the path before streaming)")
    ap.add_argument("--work", default=None)
    a = ap.parse_args()
    work = Path(a.work or tempfile.mkdtemp(prefix="reamo-long-audio-"))
    work.mkdir(parents=True, exist_ok=True)
    child = CHILD.format(repo=str(REPO), answer=ANSWER)
    for hours in a.hours:
        wav = work / f"silence-{hours:g}h.wav"
        t = time.time()
        silent_wav(wav, hours)
        size = wav.stat().st_size
        write_s = time.time() - t
        out = subprocess.run([sys.executable, "-c", child, str(wav), a.config, "whole" if a.whole else "stream"],
                             capture_output=True, text=True)
        wav.unlink()
        if out.returncode != 0:
            print(json.dumps({"hours": hours, "error": out.stderr[-1500:]}))
            continue
        r = json.loads(out.stdout.strip().splitlines()[-1])
        r.update(hours=hours, file_mb=round(size / 1e6, 1), mode="whole" if a.whole else "streamed",
                 seconds_per_audio_hour=round(r["seconds"] / hours, 1), write_s=round(write_s, 1))
        print(json.dumps(r), flush=True)
    print(f"config={a.config} python={sys.version.split()[0]} self_rss_mib="
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}")


if __name__ == "__main__":
    main()
