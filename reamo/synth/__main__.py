from reamo.synth.generator import MEDIA, generate_corpus

if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(prog="python -m reamo.synth")
    ap.add_argument("out")
    ap.add_argument("--size", default="smoke", choices=["smoke", "default"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--media", choices=MEDIA, default="photo", help="objects cut from photographs and speech "
                    "(photo), or coloured shapes and tones (shapes)")
    a = ap.parse_args()
    print(generate_corpus(a.out, a.size, a.seed, a.media))
