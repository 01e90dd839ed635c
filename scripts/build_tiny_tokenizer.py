"""Build reamo/assets/tiny_tokenizer.json: a small byte-level BPE for the tiny configs.

The tiny configs need a real tokenizer that loads offline in milliseconds. We train a byte-level BPE
(any string encodes, no unknowns) on CoNLL-2003 training text plus the words of Reamo's answer formats.
Run:  .venv/bin/python scripts/build_tiny_tokenizer.py [--data ../shared/data] [--vocab 4096]
"""
import argparse
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

FORMAT_WORDS = (
    "person location organization misc Type: Trigger: Role: None ImageSegmentation AudioSegmentation "
    "VideoTracking entity relation event image audio video extract named entities relations events "
    "A chat between a curious user and an artificial intelligence assistant. USER: ASSISTANT:"
)


def conll_sentences(path: Path):
    words = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("-DOCSTART-"):
            if words:
                yield " ".join(words)
                words = []
            continue
        words.append(line.split()[0])
    if words:
        yield " ".join(words)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    ap.add_argument("--vocab", type=int, default=4096)
    ap.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "reamo" / "assets" / "tiny_tokenizer.json"))
    args = ap.parse_args()
    texts = list(conll_sentences(Path(args.data) / "text" / "conll2003" / "train.txt")) + [FORMAT_WORDS] * 50
    tok = Tokenizer(models.BPE(unk_token=None, byte_fallback=False))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=args.vocab, special_tokens=["<unk>", "<s>", "</s>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(texts, trainer)
    tok.save(args.out)
    print(f"wrote {args.out}: vocab {tok.get_vocab_size()} from {len(texts)} texts")


if __name__ == "__main__":
    main()
