"""Objects and backgrounds cut from the real photographs that scikit-image, scikit-learn and matplotlib ship
(no download): the corpus's `photo` media paste these cut-outs, resized, flipped and shaded at random, onto
faded crops of real background photographs. The gold mask of an object is the cut-out's matte where it lands.

- person: the faces and shoulders of Eileen Collins (skimage astronaut), Grace Hopper (matplotlib), the
  cameraman (skimage camera) and 40 faces of Labeled Faces in the Wild (skimage lfw_subset);
- animal: Chelsea the cat (skimage chelsea), and the horse silhouette (skimage horse) filled with her fur;
- vehicle: the motorcycle of skimage's stereo pair, cut by its disparity map (the floor's disparity grows
  linearly with the row; what stands above it is the motorcycle), the space shuttle behind the astronaut, and
  the rocket on its launch pad (skimage rocket);
- backgrounds: scikit-learn's china.jpg and flower.jpg, skimage's coffee.

Mattes are ellipses inscribed in a hand-picked box unless a real silhouette exists (horse, motorcycle).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

# (source, box x0, y0, x1, y1 in source pixels): an ellipse inscribed in the box is the matte
_ELLIPSE_CUTS = {
    "person": [("astronaut", 135, 5, 320, 250), ("grace_hopper", 130, 10, 385, 340), ("camera", 90, 40, 330, 330)],
    "animal": [("chelsea", 20, 0, 420, 300), ("chelsea", 70, 20, 360, 290)],
    "vehicle": [("astronaut", 352, 0, 462, 275), ("rocket", 250, 110, 385, 425)],
}
FUR = [(5, 95, 150, 330), (170, 290, 300, 440)]  # chelsea's fur (y0, y1, x0, x1) that fills the horse
N_LFW_FACES = 40  # lfw_subset holds 100 faces, then 100 non-faces
# grass, gravel and brick (skimage) were tried: their texture hid the objects from the tiny random encoders (a linear
# probe of the image features told the types apart at 0.65-0.73 with them, 0.80-0.85 without, fade 0.7,
# objects 1.3 x larger; benchmarks/media_perception.py on the training items)
BACKGROUNDS = ("china", "flower", "coffee")
FADE = 0.7


class PhotoError(RuntimeError):
    """A source photograph could not be read (scikit-image / scikit-learn / matplotlib missing or broken)."""


@dataclass
class Cutout:
    rgb: np.ndarray  # H x W x 3 uint8
    matte: np.ndarray  # H x W bool
    source: str


def _photo(name: str) -> np.ndarray:
    """An RGB uint8 photograph by name, from the package that ships it."""
    try:
        if name in ("china", "flower"):
            from sklearn.datasets import load_sample_image

            img = load_sample_image(f"{name}.jpg")
        elif name == "grace_hopper":
            from matplotlib import cbook
            from PIL import Image

            img = np.asarray(Image.open(cbook.get_sample_data("grace_hopper.jpg")).convert("RGB"))
        else:
            import skimage.data

            img = getattr(skimage.data, name)()
    except (ImportError, OSError, AttributeError, ValueError) as e:
        raise PhotoError(f"cannot read the photograph {name!r} ({type(e).__name__}: {e}); the photo corpus needs "
                         "scikit-image, scikit-learn and matplotlib (scripts/install.sh installs them)") from None
    img = np.asarray(img)
    if img.dtype == bool:
        img = img.astype(np.uint8) * 255
    if img.ndim == 2:
        img = np.stack([img] * 3, -1)
    return np.ascontiguousarray(img[..., :3]).astype(np.uint8)


def _ellipse(h: int, w: int) -> np.ndarray:
    yy, xx = np.mgrid[:h, :w]
    return ((yy + 0.5 - h / 2) / (h / 2)) ** 2 + ((xx + 0.5 - w / 2) / (w / 2)) ** 2 <= 1.0


def _trim(rgb: np.ndarray, matte: np.ndarray, source: str) -> Cutout:
    ys, xs = np.nonzero(matte)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    return Cutout(rgb[y0:y1, x0:x1].copy(), matte[y0:y1, x0:x1].copy(), source)


def _motorcycle() -> Cutout:
    from scipy import ndimage as ndi
    import skimage.data

    left, _, disp = skimage.data.stereo_motorcycle()
    disp = np.where(np.isfinite(disp), disp, 0.0)
    rows = np.arange(disp.shape[0])[:, None]
    floor = 0.1795 * (rows - 250) + 14.1  # the floor's disparity, fitted on the image's left columns
    fg = (disp > floor + 5) & (disp > 38)
    fg[:, :90] = fg[:, 700:] = False  # the bench and the shelves at the sides
    fg[:60] = fg[455:] = False
    lab, n = ndi.label(fg)
    fg = lab == 1 + int(np.argmax(ndi.sum(fg, lab, range(1, n + 1))))
    fg = ndi.binary_opening(ndi.binary_fill_holes(ndi.binary_closing(fg, iterations=3)), iterations=2)
    return _trim(left, fg, "skimage stereo_motorcycle")


def _horse(fur: np.ndarray) -> Cutout:
    from PIL import Image

    matte = _photo("horse")[..., 0] < 128  # the silhouette is black on white
    h, w = matte.shape
    rgb = np.asarray(Image.fromarray(fur).resize((w, h), Image.BILINEAR))
    return _trim(rgb, matte, "skimage horse filled with chelsea's fur")


@lru_cache(maxsize=1)
def cutouts() -> dict[str, list[Cutout]]:
    """Every type's cut-outs (built once per process, deterministic)."""
    out: dict[str, list[Cutout]] = {t: [] for t in _ELLIPSE_CUTS}
    for typ, cuts in _ELLIPSE_CUTS.items():
        for name, x0, y0, x1, y1 in cuts:
            rgb = _photo(name)[y0:y1, x0:x1]
            out[typ].append(Cutout(rgb.copy(), _ellipse(*rgb.shape[:2]), name))
    import skimage.data

    faces = skimage.data.lfw_subset()[:N_LFW_FACES]
    for k, f in enumerate(faces):
        g = (np.clip(f, 0, 1) * 255).astype(np.uint8)
        out["person"].append(Cutout(np.stack([g] * 3, -1), _ellipse(*g.shape), f"lfw_subset face {k}"))
    for y0, y1, x0, x1 in FUR:
        out["animal"].append(_horse(_photo("chelsea")[y0:y1, x0:x1]))
    out["vehicle"].append(_motorcycle())
    return out


@lru_cache(maxsize=1)
def backgrounds() -> list[np.ndarray]:
    return [_photo(n) for n in BACKGROUNDS]


def _resize(a: np.ndarray, h: int, w: int) -> np.ndarray:
    from PIL import Image

    if a.dtype == bool:
        return np.asarray(Image.fromarray(a.astype(np.uint8) * 255).resize((w, h), Image.BILINEAR)) >= 128
    return np.asarray(Image.fromarray(a).resize((w, h), Image.BILINEAR))


def background(rng: np.random.Generator, h: int, w: int, fade: float = FADE) -> np.ndarray:
    """A random crop of a background photograph, resized to h x w and faded towards light grey by `fade`
    (objects stand in front of it as in a photograph with a shallow depth of field)."""
    src = backgrounds()[int(rng.integers(len(backgrounds())))]
    side = int(rng.integers(min(src.shape[:2]) // 3, min(src.shape[:2]) + 1))
    y, x = int(rng.integers(0, src.shape[0] - side + 1)), int(rng.integers(0, src.shape[1] - side + 1))
    crop = _resize(np.ascontiguousarray(src[y:y + side, x:x + side]), h, w).astype(np.float32)
    return np.clip(crop * (1 - fade) + 215 * fade, 0, 255).astype(np.uint8)


def sample_cutout(rng: np.random.Generator, typ: str, size: int) -> Cutout:
    """One of the type's cut-outs, its longer side resized to about `size` pixels (up to 1.2 x for an
    elongated one, so that a motorcycle or a rocket does not end up a sliver), flipped left-right at random and
    shaded (brightness x0.8-1.2). A person is an LFW face half of the time, one of the three portraits
    otherwise (40 small grey faces would otherwise be nearly every person)."""
    pool = cutouts()[typ]
    if typ == "person":
        named = len(_ELLIPSE_CUTS["person"])
        pool = pool[named:] if rng.random() < 0.5 else pool[:named]
    c = pool[int(rng.integers(len(pool)))]
    h, w = c.matte.shape
    s = size * min(1.2, (max(h, w) / min(h, w)) ** 0.5) / max(h, w)  # elongated objects a little longer
    nh, nw = max(3, round(h * s)), max(3, round(w * s))
    rgb, matte = _resize(c.rgb, nh, nw), _resize(c.matte, nh, nw)
    if rng.random() < 0.5:
        rgb, matte = rgb[:, ::-1], matte[:, ::-1]
    rgb = np.clip(rgb.astype(np.float32) * float(rng.uniform(0.8, 1.2)), 0, 255).astype(np.uint8)
    return Cutout(np.ascontiguousarray(rgb), np.ascontiguousarray(matte), c.source)


def paste(img: np.ndarray, cut: Cutout, cx: int, cy: int, free: np.ndarray | None = None) -> np.ndarray:
    """Paste `cut` centred at (cx, cy), clipped to the image, only where `free` (pixels no earlier object
    holds); returns the object's mask in image coordinates (what shows of it)."""
    H, W = img.shape[:2]
    h, w = cut.matte.shape
    y0, x0 = cy - h // 2, cx - w // 2
    ys, xs = slice(max(0, y0), min(H, y0 + h)), slice(max(0, x0), min(W, x0 + w))
    sub = cut.matte[ys.start - y0: ys.stop - y0, xs.start - x0: xs.stop - x0]
    m = np.zeros((H, W), bool)
    m[ys, xs] = sub
    if free is not None:
        m &= free
    img[m] = cut.rgb[ys.start - y0: ys.stop - y0, xs.start - x0: xs.stop - x0][m[ys, xs]]
    return m
