from reamo.synth.generator import generate_corpus

if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(prog="python -m reamo.synth")
    ap.add_argument("out")
    ap.add_argument("--size", default="smoke", choices=["smoke", "default"])
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    print(generate_corpus(a.out, a.size, a.seed))
