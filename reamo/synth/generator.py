"""Corpus generation (see package docstring). Held out of training, for generalisation:
- names: test-split instances use names never seen in training (NAMES_TEST);
- (entity type x modality) pairs: in training, vehicles never appear in audio-only inputs and animals never
  in video-only inputs; the test split contains exactly those pairs (HELD_OUT_PAIRS)."""
from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from reamo.builders.schema_qa import with_schema_instructions
from reamo.records.masks import mask_to_box, rle_encode
from reamo.records import Argument, Entity, Event, Record, Relation, Span, write_jsonl

SR = 16000
TYPES = {  # type: (colour RGB, shape, tone Hz)
    "person": ((220, 60, 60), "disk", 440.0),
    "animal": ((60, 170, 60), "square", 880.0),
    "vehicle": ((60, 90, 220), "triangle", 1760.0),
}
SYLLABLES = ["ka", "lo", "mi", "ra", "ten", "vi", "do", "sa", "ne", "ru", "bel", "ta", "zo", "fi", "gar", "hu",
             "jo", "pe", "qui", "win", "xa", "yel", "cor", "dan"]


def _name_pool(seed: int, n: int, kind: str, seen: set) -> list[str]:
    """Capitalised two-/three-syllable names (vehicles: a word and a number), deterministic per seed, none
    of them in `seen` (which grows), so pools of different types never share a name."""
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < n:
        k = int(rng.integers(2, 4))
        name = "".join(rng.choice(SYLLABLES, k)).capitalize()
        if kind == "vehicle":
            name = f"{rng.choice(['Bus', 'Truck', 'Car', 'Van', 'Tram', 'Cab'])} {int(rng.integers(1, 1000))}"
        if name not in seen:
            seen.add(name)
            out.append(name)
    return out


# so many training names that a name rarely repeats in training: the model has to learn to copy names from the
# text rather than recall them; a disjoint pool of 30 per type for the test split
N_TRAIN_NAMES, N_TEST_NAMES = 2000, 30
_SEEN: set = set()
_POOLS = {t: _name_pool(17 + i, N_TRAIN_NAMES + N_TEST_NAMES, t, _SEEN) for i, t in enumerate(("person", "animal", "vehicle"))}
NAMES_TRAIN = {t: p[:N_TRAIN_NAMES] for t, p in _POOLS.items()}
NAMES_TEST = {t: p[N_TRAIN_NAMES:] for t, p in _POOLS.items()}
SPECIES = ["dog", "cat", "horse", "goat"]
RELATIONS = {("person", "animal"): "owns", ("person", "vehicle"): "drives", ("animal", "person"): "follows",
             ("vehicle", "person"): "carries"}
EVENTS = {"Movement:Transport": ["Agent", "Vehicle"], "Contact:Meet": ["Entity"]}
COMBOS = ["T", "I", "V", "A", "T+I", "T+V", "T+A", "I+A", "T+I+A", "V+A"]
HELD_OUT_PAIRS = [("vehicle", "A"), ("animal", "V")]
VISUAL = ("shapes", "photo")  # how images and videos look (see _World)
AUDIO = ("tones", "sounds")  # how entities sound
SIZES = {"smoke": {"train": 90, "dev": 10, "test": 30}, "default": {"train": 1500, "dev": 60, "test": 200}}
SCHEMAS = {"ner": {"entity_types": list(TYPES)}, "re": {"relation_types": sorted(set(RELATIONS.values()))},
           "ee": {"event_types": EVENTS}}


@dataclass
class CorpusInfo:
    root: str
    seed: int
    sizes: dict
    held_out: dict
    counts: dict = field(default_factory=dict)
    visual: str = "shapes"
    audio: str = "tones"


def _draw(img: np.ndarray, shape: str, cx: int, cy: int, r: int, colour, free: np.ndarray | None = None) -> np.ndarray:
    """Paint a shape where `free` (all pixels if None); returns its mask (what shows of it)."""
    h, w = img.shape[:2]
    yy, xx = np.mgrid[:h, :w]
    if shape == "disk":
        m = (xx - cx) ** 2 + (yy - cy) ** 2 <= r * r
    elif shape == "square":
        m = (abs(xx - cx) <= r) & (abs(yy - cy) <= r)
    else:
        m = (yy >= cy - r) & (yy <= cy + r) & (abs(xx - cx) <= (yy - (cy - r)) / 2)
    if free is not None:
        m &= free
    img[m] = colour
    return m


class _World:
    """Writes each record's media. `visual` (images, video): "shapes" (a coloured disk, square or triangle per
    type on a plain background) or "photo" (objects cut from real photographs on faded background photographs,
    reamo.synth.photos). `audio`: "tones" (a tone per type) or "sounds" (speech by espeak-ng, synthesised calls
    and engines, reamo.synth.sounds)."""

    def __init__(self, root: Path, rng: np.random.Generator, visual: str = "shapes", audio: str = "tones"):
        if visual not in VISUAL:
            raise ValueError(f"corpus visual media must be one of {list(VISUAL)}, got {visual!r}")
        if audio not in AUDIO:
            raise ValueError(f"corpus audio must be one of {list(AUDIO)}, got {audio!r}")
        self.root, self.rng, self.visual, self.audio_kind = root, rng, visual, audio
        self.sounds = None
        if audio == "sounds":
            from reamo.synth.sounds import SoundBank

            self.sounds = SoundBank()
        for d in ("images", "audio", "video"):
            (root / d).mkdir(parents=True, exist_ok=True)

    def _background(self, size: int, noise: int = 8) -> np.ndarray:
        if self.visual == "photo":
            from reamo.synth.photos import background

            return background(self.rng, size, size)
        bg = np.full((size, size, 3), 235, np.uint8)
        return bg + self.rng.integers(-noise, noise, (size, size, 3)).astype(np.uint8) if noise else bg

    def _object(self, typ: str, radius: int, shade=None):
        """A painter of one object of `typ` about 2 x radius across: paint(img, cx, cy, free) -> its mask. A shape
        takes the type's colour, or `shade`."""
        if self.visual == "photo":
            from reamo.synth.photos import paste, sample_cutout

            cut = sample_cutout(self.rng, typ, 2 * radius + 3)
            return lambda img, cx, cy, free: paste(img, cut, cx, cy, free)
        colour, shape, _ = TYPES[typ]
        colour = colour if shade is None else shade
        return lambda img, cx, cy, free: _draw(img, shape, cx, cy, radius, colour, free)

    def image(self, name: str, ents: list[tuple[str, str]], size: int = 96):
        img = self._background(size)
        slots = self.rng.permutation([(24, 28), (70, 30), (30, 70), (70, 72)])[: len(ents)]
        groundings = []
        occupied = np.zeros((size, size), bool)
        for (typ, _), (cx, cy) in zip(ents, slots):
            if self.visual == "photo":  # photo objects are larger than the shapes: the encoders see them in clutter
                paint = self._object(typ, int(self.rng.integers(14, 20)))
            else:  # a shade of the type's colour, drawn before the radius
                shade = np.clip(np.array(TYPES[typ][0]) + self.rng.integers(-25, 25, 3), 0, 255)
                paint = self._object(typ, int(self.rng.integers(11, 17)), shade)
            m = paint(img, int(cx), int(cy), ~occupied)
            occupied |= m
            groundings.append({"box": mask_to_box(m), "mask_rle": rle_encode(m)})
        from PIL import Image

        Image.fromarray(img).save(self.root / "images" / f"{name}.png")
        return f"images/{name}.png", groundings

    def audio(self, name: str, ents: list[tuple[str, str]]):
        import soundfile as sf

        groundings, t = [], 0.4
        if self.audio_kind == "sounds":
            from reamo.synth.sounds import room_noise

            sounds = [self.sounds.sound(typ, self.rng) for typ, _ in ents]
            gaps = [float(self.rng.uniform(0.3, 0.5)) for _ in ents]
            dur = 0.4 + sum(len(w) / SR + g for w, g in zip(sounds, gaps)) + 0.4
            wave = room_noise(self.rng, int(dur * SR))
            for w, gap in zip(sounds, gaps):
                a = int(t * SR)
                wave[a:a + len(w)] += w[: len(wave) - a]
                groundings.append({"spans": [[round(t, 3), round(t + len(w) / SR, 3)]]})
                t += len(w) / SR + gap
        else:
            dur = 1.0 + 1.2 * len(ents)
            wave = self.rng.normal(0, 0.01, int(dur * SR)).astype(np.float32)
            for typ, _ in ents:
                length = float(self.rng.uniform(0.5, 0.8))
                a, b = int(t * SR), int((t + length) * SR)
                tt = np.arange(b - a) / SR
                f = TYPES[typ][2]
                wave[a:b] += (0.4 * np.sin(2 * np.pi * f * tt) * np.sin(np.pi * tt / length)).astype(np.float32)
                groundings.append({"spans": [[round(t, 3), round(t + length, 3)]]})
                t += length + float(self.rng.uniform(0.3, 0.5))
        sf.write(self.root / "audio" / f"{name}.wav", wave, SR)
        return f"audio/{name}.wav", groundings

    def video(self, name: str, ents: list[tuple[str, str]], frames: int = 12, fps: float = 6.0, size: int = 64):
        import av

        tracks = []
        for typ, _ in ents:
            start = int(self.rng.integers(0, frames // 3))
            end = int(self.rng.integers(2 * frames // 3, frames + 1))
            y0 = int(self.rng.integers(16, size - 16))
            r = int(self.rng.integers(8, 11)) + (3 if self.visual == "photo" else 0)
            tracks.append((typ, start, end, y0, self._object(typ, r)))
        bg = self._background(size, noise=0)
        path = self.root / "video" / f"{name}.mp4"
        per_ent = [[] for _ in ents]
        with av.open(str(path), "w") as out:
            st = out.add_stream("mpeg4", rate=int(fps))
            st.width = st.height = size
            st.pix_fmt = "yuv420p"
            st.bit_rate = 2_000_000
            for f in range(frames):
                img = bg.copy()
                occupied = np.zeros((size, size), bool)
                for k, (typ, a, b, y0, paint) in enumerate(tracks):
                    if a <= f < b:
                        cx = int(10 + (size - 20) * (f - a) / max(1, b - a - 1))
                        # photo: an earlier object stays in front and a later one's mask is what shows of it;
                        # shapes keep the rule of the corpora the README's figures come from (a later shape is
                        # painted over an earlier one, and both masks are whole)
                        m = paint(img, cx, y0, ~occupied if self.visual == "photo" else None)
                        occupied |= m
                        per_ent[k].append({"t": round(f / fps, 4), "box": mask_to_box(m), "mask_rle": rle_encode(m)})
                for pkt in st.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                    out.mux(pkt)
            for pkt in st.encode():
                out.mux(pkt)
        groundings = [{"span": [a / fps, b / fps], "frames": per_ent[k]} for k, (_, a, b, _, _) in enumerate(tracks)]
        return f"video/{name}.mp4", groundings


def _pick_entities(rng, names, k, allowed_types, first=None):
    # the entities of one input have different types: then an instruction's phrase (a name, or "the person")
    # tells which object, sound or track it means, and a head that ignores it cannot score
    types = [str(t) for t in rng.choice(allowed_types, k, replace=False)]
    if first is not None and first not in types:  # a held-out (type, modality) item must show its type
        types[0] = first
    out, used = [], set()
    for t in types:
        n = str(rng.choice([x for x in names[t] if x not in used] or names[t]))
        used.add(n)
        out.append((t, n))
    return out


def _text_for(task, ents, rng):
    """A sentence mentioning the entities; returns the text and the character span of each entity's name."""
    if task == "ner":
        templates = ["{a} was seen near the station.", "Yesterday {a} met {b}.", "{a} and {b} waited in the rain.",
                     "Everyone watched {a} closely.", "Near the river, {b} passed {a}."]
        tpl = str(rng.choice([t for t in templates if ("{b}" in t) == (len(ents) > 1)]))
    elif task == "re":
        tpl = {"owns": "{a} owns {b}.", "drives": "{a} drives {b} every day.", "follows": "{a} follows {b} home.",
               "carries": "{a} carries {b} to town."}[RELATIONS[(ents[0][0], ents[1][0])]]
    else:
        tpl = "{a} rode {b} downtown." if ents[1][0] == "vehicle" else "{a} met {b} at noon."
    # Animals are introduced by their species ("the dog Rufijo"): person and animal names are drawn from the
    # same syllables, so without a cue the type of an unseen name could not be read from a text-only input.
    text, spans = "", {}
    for piece in re.split(r"(\{a\}|\{b\})", tpl):
        if piece in ("{a}", "{b}"):
            k = 0 if piece == "{a}" else 1
            typ, name = ents[k]
            mention = f"the {rng.choice(SPECIES)} {name}" if typ == "animal" else name
            spans[k] = (len(text) + len(mention) - len(name), len(text) + len(mention))
            text += mention
        else:
            text += piece
    return text[0].upper() + text[1:], [spans[k] for k in sorted(spans)]


def _record(rid, task, combo, rng, world, names, allowed, held_out=None):
    mods = combo.split("+")
    if task == "re":
        # Media show which things are there, not who follows or carries whom: without text, only the pairs
        # whose relation the types decide (a person owns an animal, drives a vehicle)
        pairs = list(RELATIONS) if "T" in mods else [("person", "animal"), ("person", "vehicle")]
        pair = pairs[int(rng.integers(len(pairs)))]
        if not all(t in allowed for t in pair):
            pair = next(p for p in pairs if all(t in allowed for t in p))
        ents = [(pair[0], str(rng.choice(names[pair[0]]))), (pair[1], str(rng.choice([n for n in names[pair[1]]])))]
    elif task == "ee":
        # transport: a person rides a vehicle; meeting: a person meets an animal (types differ, as above)
        others = [t for t in ("vehicle", "animal") if t in allowed]
        second = others[0] if len(others) == 1 else ("vehicle" if rng.random() < 0.5 else "animal")
        ents = [("person", str(rng.choice(names["person"]))), (second, str(rng.choice(names[second])))]
    else:
        ents = _pick_entities(rng, names, int(rng.integers(1, 3)), allowed, held_out)
    text, spans = _text_for(task, ents, rng) if "T" in mods else (None, [])
    # media-only inputs name entities by a canonical phrase, "the <type>" (the media cannot give a name)
    labels = [n if text else f"the {t}" for t, n in ents]
    rec = Record(rid, task, text, schema=SCHEMAS[task])
    g = {}
    if "I" in mods:
        rec.image, gi = world.image(rid, ents)
        g["image"] = gi
    if "A" in mods:
        rec.audio, ga = world.audio(rid, ents)
        g["audio"] = ga
    if "V" in mods:
        rec.video, gv = world.video(rid, ents)
        g["video"] = gv
    entities = []
    for k, ((t, _), lab) in enumerate(zip(ents, labels)):
        s, e = spans[k] if text else (None, None)
        entities.append(Entity(lab, t, s, e, {m: g[m][k] for m in g}))
    if task == "ner":
        rec.entities = entities
    elif task == "re":
        rec.entities = entities
        rec.relations = [Relation(0, 1, RELATIONS[(ents[0][0], ents[1][0])])]
    else:
        trig = "rode" if ents[1][0] == "vehicle" else "met"
        typ = "Movement:Transport" if trig == "rode" else "Contact:Meet"
        ts = text.index(trig) if text else None
        roles = ["Agent", "Vehicle"] if trig == "rode" else ["Entity", "Entity"]
        rec.events = [Event(typ, Span(trig if text else typ.split(":")[1].lower(), ts, None if ts is None else ts + len(trig)),
                            [Argument(r, e.text, e.start, e.end, e.grounding) for r, e in zip(roles, entities)])]
    rec.extra["combo"] = combo
    rec.extra["caption"] = " and ".join(f"a {t}" for t, _ in ents)
    rec.extra["scene_graph"] = {  # the types the input shows (benchmarks read "objects"), kept as it was
        "objects": [t for t, _ in ents], "attributes": [f"{TYPES[t][1]} {t}" for t, _ in ents],
        "actions": [ev.trigger.text for ev in rec.events], "relations": [r.type for r in rec.relations],
        "scene": "plain background"}
    rec.extra["scene_graphs"] = {MEDIUM[m]: _scene_graph(MEDIUM[m], rec, [t for t, _ in ents], world)
                                 for m in mods if m in MEDIUM}
    return rec


MEDIUM = {"I": "image", "A": "audio", "V": "video"}
COLOUR_NAMES = {"person": "red", "animal": "green", "vehicle": "blue"}
PITCH_NAMES = {"person": "low", "animal": "middle", "vehicle": "high"}
SOUND_NAMES = {"person": "a voice speaking", "animal": "an animal call", "vehicle": "an engine"}


def _scene_graph(medium: str, rec: Record, types: list[str], world: "_World") -> dict:
    """MS-PIT's visual event schema of one medium of a record, as that medium shows the scene: its objects (the
    entities' types), their look or sound, the event as the action, its participants (and a relation's ends) as
    relations, and the scene."""
    if medium == "audio":
        look = {t: f"{PITCH_NAMES[t]} {TYPES[t][2]:.0f} Hz tone" if world.audio_kind == "tones" else SOUND_NAMES[t]
                for t in types}
        scene = ("tones one after another over quiet noise" if world.audio_kind == "tones"
                 else "sounds one after another in a room")
    else:
        look = {t: f"{COLOUR_NAMES[t]} {TYPES[t][1]}" if world.visual == "shapes" else f"photographed {t}"
                for t in types}
        bg = "a plain background" if world.visual == "shapes" else "a faded photograph"
        scene = f"a still image on {bg}" if medium == "image" else f"a short video on {bg}, objects moving left to right"
    relations = [f"{types[0]} {r.type} {types[1]}" for r in rec.relations]  # a relation joins the two entities
    for ev in rec.events:
        of = {a.text: t for a, t in zip(ev.arguments, types)}
        relations += [f"{of[a.text]} is the {a.role} of {ev.trigger.text}" for a in ev.arguments]
    return {"objects": list(types), "attributes": [f"{t}: {look[t]}" for t in types],
            "actions": [f"{ev.trigger.text} ({ev.type})" for ev in rec.events], "relations": relations,
            "scene": scene}


def generate_corpus(out_dir, size="default", seed: int = 0, visual: str = "shapes", audio: str = "tones",
                    held_out_in: tuple[str, ...] = ("test",)) -> CorpusInfo:
    """Write the corpus (splits, per-phase files, media, corpus.json) under `out_dir`. `size`: a name in SIZES
    or {split: count}; `visual`: "shapes" or "photo", `audio`: "tones" or "sounds" (see _World). `held_out_in`:
    the splits that show the held-out (type, combination) pairs (test only by default; ("dev", "test") gives a
    dev split that can measure the transfer to them, with training names). "train" is refused."""
    if "train" in held_out_in:
        raise ValueError("held_out_in cannot hold 'train': the held-out pairs would be trained on")
    root = Path(out_dir)
    root.mkdir(parents=True, exist_ok=True)
    sizes = SIZES[size] if isinstance(size, str) else dict(size)
    rng = np.random.default_rng(seed)
    world = _World(root, rng, visual, audio)
    splits = {}
    for split, n in sizes.items():
        names = NAMES_TEST if split == "test" else NAMES_TRAIN
        recs = []
        for i in range(n):
            combo, task = COMBOS[i % len(COMBOS)], ("ner", "re", "ee")[(i // len(COMBOS)) % 3]
            allowed = list(TYPES)
            if split not in held_out_in:  # held-out (type, modality) pairs never appear in training inputs
                allowed = [t for t in allowed if (t, combo) not in HELD_OUT_PAIRS]
            held = None
            if split in held_out_in and (i // len(COMBOS)) % 2 == 0 and combo in ("A", "V"):
                held = next(t for t, c in HELD_OUT_PAIRS if c == combo)
                allowed = [held, "person"]
            recs.append(_record(f"{split}-{i:05d}", task, combo, rng, world, names, allowed, held))
        splits[split] = recs
        write_jsonl(root / f"{split}.jsonl", recs)
    train = splits["train"]
    write_jsonl(root / "phase1_uie.jsonl", [r for r in train if r.text])
    # MS-PIT stage 1a: the phase-1 records, the text event ones with their event-schema instructions
    write_jsonl(root / "mspit_1a_schema_text.jsonl", [with_schema_instructions(r, seed) for r in train if r.text])
    write_jsonl(root / "phase2_alignment.jsonl", [r for r in train if r.modalities != ("text",)])
    write_jsonl(root / "phase3_grounding.jsonl", [r for r in train if len(r.modalities) > (1 if r.text else 0)])
    write_jsonl(root / "phase4_meta.jsonl", train)
    info = CorpusInfo(str(root), seed, sizes, {"names": NAMES_TEST, "type_modality": HELD_OUT_PAIRS,
                                               "in_splits": list(held_out_in)},
                      {s: len(v) for s, v in splits.items()}, visual, audio)
    (root / "corpus.json").write_text(json.dumps(asdict(info), indent=1))
    return info

