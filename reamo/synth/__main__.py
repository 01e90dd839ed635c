from reamo.synth.generator import AUDIO, VISUAL, generate_corpus

if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(prog="python -m reamo.synth")
    ap.add_argument("out")
    ap.add_argument("--size", default="smoke", choices=["smoke", "default"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--visual", choices=VISUAL, default="shapes",
                    help="images and videos: coloured shapes, or objects cut from photographs (photo)")
    ap.add_argument("--audio", choices=AUDIO, default="tones", help="tones, or speech, calls and engines (sounds)")
    a = ap.parse_args()
    print(generate_corpus(a.out, a.size, a.seed, a.visual, a.audio))
