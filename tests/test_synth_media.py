"""The corpus's photographs and sounds (reamo.synth.photos, reamo.synth.sounds) and corpora written with them."""
import numpy as np
import pytest

from reamo.records.masks import mask_to_box, rle_decode
from reamo.records import read_jsonl
from reamo.synth import generate_corpus
from reamo.synth import photos
from reamo.synth.sounds import MAX_S, SAMPLE_RATE, SoundBank


def test_every_type_has_cutouts_with_real_mattes():
    cuts = photos.cutouts()
    assert set(cuts) == {"person", "animal", "vehicle"}
    assert len(cuts["person"]) >= 40 and len(cuts["animal"]) >= 3 and len(cuts["vehicle"]) >= 3
    for typ, pool in cuts.items():
        for c in pool:
            assert c.rgb.shape[:2] == c.matte.shape and c.rgb.dtype == np.uint8, (typ, c.source)
            assert 0.2 < c.matte.mean() < 0.95, (typ, c.source)  # a cut, neither empty nor the whole box
    moto = next(c for c in cuts["vehicle"] if "motorcycle" in c.source)
    horse = next(c for c in cuts["animal"] if "horse" in c.source)
    # silhouettes, not ellipses: an ellipse fills pi/4 of its box
    for c in (moto, horse):
        assert abs(c.matte.mean() - np.pi / 4) > 0.1, c.source
    # the motorcycle is red (its tank and fenders), the cat's fur is warm
    assert (moto.rgb[moto.matte][:, 0].astype(int) - moto.rgb[moto.matte][:, 2] > 60).mean() > 0.1
    assert horse.rgb[horse.matte].mean(0)[0] > horse.rgb[horse.matte].mean(0)[2]


def test_sample_and_paste_give_the_mask_of_what_shows():
    rng = np.random.default_rng(0)
    img = photos.background(rng, 64, 64)
    assert img.shape == (64, 64, 3) and img.std() > 1  # a photograph, not a flat fill
    before = img.copy()
    a = photos.sample_cutout(rng, "vehicle", 30)
    assert max(a.matte.shape) <= 39
    free = np.ones((64, 64), bool)
    m1 = photos.paste(img, a, 20, 20, free)
    assert m1.any() and not m1[40:, 40:].any()
    assert (img[~m1] == before[~m1]).all()  # nothing outside the mask changed
    # a second object at the same place only takes the pixels nobody holds
    b = photos.sample_cutout(rng, "person", 30)
    m2 = photos.paste(img, b, 25, 25, ~m1)
    assert not (m1 & m2).any() and m2.any()
    # clipped at the border: the mask stays inside the image
    m3 = photos.paste(img, b, 0, 63, None)
    assert m3.any() and m3.shape == (64, 64)


def test_sounds_of_each_type_are_short_loud_and_distinct():
    bank, rng = SoundBank(), np.random.default_rng(1)
    sounds = {t: [bank.sound(t, rng) for _ in range(6)] for t in ("person", "animal", "vehicle")}
    for t, ws in sounds.items():
        for w in ws:
            assert w.dtype == np.float32 and 0.1 * SAMPLE_RATE < len(w) <= MAX_S * SAMPLE_RATE, t
            assert 0.3 < np.abs(w).max() <= 0.5 + 1e-6, t

    def median_frequency(w):  # the frequency below which half the power lies
        power = np.abs(np.fft.rfft(w)) ** 2
        return float(np.fft.rfftfreq(len(w), 1 / SAMPLE_RATE)[np.searchsorted(np.cumsum(power) / power.sum(), 0.5)])

    med = {t: np.median([median_frequency(w) for w in ws]) for t, ws in sounds.items()}
    # an engine (55-135 Hz and harmonics) or a horn sits below a voice, a voice below a bark or a meow
    assert med["vehicle"] < med["person"] < med["animal"], med
    with pytest.raises(ValueError, match="plant"):
        bank.sound("plant", rng)


def test_photo_corpus_groundings_are_exact_and_reproducible(tmp_path):
    import soundfile as sf
    from PIL import Image

    sizes = {"train": 30, "dev": 1, "test": 10}
    info = generate_corpus(tmp_path / "a", sizes, seed=2, visual="photo", audio="sounds")
    generate_corpus(tmp_path / "b", sizes, seed=2, visual="photo", audio="sounds")
    assert (info.visual, info.audio) == ("photo", "sounds")
    train = list(read_jsonl(tmp_path / "a" / "train.jsonl"))
    for r in train:
        for p in (r.image, r.audio, r.video):
            if p:
                assert (tmp_path / "a" / p).read_bytes() == (tmp_path / "b" / p).read_bytes(), p
    for r in (r for r in train if r.image):
        img = np.asarray(Image.open(tmp_path / "a" / r.image).convert("RGB"))
        masks = [rle_decode(e.grounding["image"]["mask_rle"]) for e in r.entities]
        for e, m in zip(r.entities, masks):
            assert m.any() and mask_to_box(m) == e.grounding["image"]["box"]
        if len(masks) == 2:
            assert not (masks[0] & masks[1]).any()
        assert img.std() > 5  # a photographic background, not a plain one
    for r in (r for r in train if r.audio):
        w, sr = sf.read(tmp_path / "a" / r.audio)
        quiet = np.sqrt(np.mean(w[: int(0.35 * sr)] ** 2))  # the room noise before the first sound
        assert quiet < 0.02
        for e in r.entities:
            s0, s1 = e.grounding["audio"]["spans"][0]
            inside = np.sqrt(np.mean(w[int(s0 * sr): int(s1 * sr)] ** 2))
            assert inside > 5 * quiet, (r.id, inside, quiet)  # the sound, well above the room noise
    for r in (r for r in train if r.video and r.entities):
        frames = [f for e in r.entities for f in e.grounding["video"]["frames"]]
        assert frames and all(rle_decode(f["mask_rle"]).any() for f in frames)
    with pytest.raises(ValueError, match="corpus visual media"):
        generate_corpus(tmp_path / "c", sizes, seed=2, visual="cartoon")
    with pytest.raises(ValueError, match="corpus audio"):
        generate_corpus(tmp_path / "c", sizes, seed=2, audio="cartoon")


def test_shapes_with_sounds_mix_the_two(tmp_path):
    """Shapes in images, sounds in audio (`reamo quickstart --audio sounds`)."""
    import soundfile as sf
    from PIL import Image

    sizes = {"train": 20, "dev": 1, "test": 1}
    generate_corpus(tmp_path / "s", sizes, seed=4, visual="shapes", audio="sounds")
    recs = list(read_jsonl(tmp_path / "s" / "train.jsonl"))
    r = next(r for r in recs if r.image and r.entities)
    img = np.asarray(Image.open(tmp_path / "s" / r.image).convert("RGB"))
    m = rle_decode(r.entities[0].grounding["image"]["mask_rle"])
    assert img[m].std(axis=0).max() < 20  # one flat colour: a shape, not a photograph
    ra = next(r for r in recs if r.audio and r.entities and r.entities[0].type == "person")
    w, sr = sf.read(tmp_path / "s" / ra.audio)
    s0, s1 = ra.entities[0].grounding["audio"]["spans"][0]
    seg = w[int(s0 * sr): int(s1 * sr)]
    # speech, not a tone: a tone's spectrum has one peak, a voice spreads its power over many frequencies
    power = np.abs(np.fft.rfft(seg)) ** 2
    assert power.max() / power.sum() < 0.05


def test_a_dev_split_can_show_the_held_out_pairs(tmp_path):
    from reamo.synth.generator import HELD_OUT_PAIRS, NAMES_TEST

    sizes = {"train": 20, "dev": 40, "test": 20}
    generate_corpus(tmp_path / "d", sizes, seed=6, held_out_in=("dev", "test"))
    pairs = lambda recs: {(e.type, r.extra["combo"]) for r in recs for e in r.entities}  # noqa: E731
    train = list(read_jsonl(tmp_path / "d" / "train.jsonl"))
    dev = list(read_jsonl(tmp_path / "d" / "dev.jsonl"))
    for p in HELD_OUT_PAIRS:
        assert p in pairs(dev) and p not in pairs(train)
    test_names = {n for v in NAMES_TEST.values() for n in v}
    assert not any(e.text in test_names for r in dev for e in r.entities)  # dev keeps the training names
    # the default keeps them out of dev
    generate_corpus(tmp_path / "e", sizes, seed=6)
    assert not any(p in pairs(read_jsonl(tmp_path / "e" / "dev.jsonl")) for p in HELD_OUT_PAIRS)
    with pytest.raises(ValueError, match="train"):
        generate_corpus(tmp_path / "f", sizes, seed=6, held_out_in=("train",))
