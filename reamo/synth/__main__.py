from reamo.synth.generator import AUDIO, VISUAL, generate_corpus

if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(prog="python -m reamo.synth")
    ap.add_argument("out")
    ap.add_argument("--size", default="smoke",
                    help="smoke, default, or counts per split, e.g. train=10,dev=300,test=10")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--visual", choices=VISUAL, default="shapes",
                    help="images and videos: coloured shapes, or objects cut from photographs (photo)")
    ap.add_argument("--audio", choices=AUDIO, default="tones", help="tones, or speech, calls and engines (sounds)")
    ap.add_argument("--held-out-in", nargs="+", default=["test"], metavar="SPLIT",
                    help="splits that show the held-out (type, combination) pairs (default: test)")
    a = ap.parse_args()
    size = a.size if a.size in ("smoke", "default") else {k: int(v) for k, v in (p.split("=") for p in a.size.split(","))}
    print(generate_corpus(a.out, size, a.seed, a.visual, a.audio, tuple(a.held_out_in)))
