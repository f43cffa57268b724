"""Aspect ratios and print sizes: the presets, "like a painting", and centimetres at a DPI.

Parsers take what an artist types (``16:9``, ``1.27``, ``sqrt2 (A-series)``, ``40x50cm``,
``16 x 20 in``) and raise ``ValueError`` with one line that says what would work.
"""

from __future__ import annotations

import math
import re

import numpy as np

ASPECT_PRESETS: dict[str, float] = {
    "1:1": 1.0,
    "1.27:1": 1.27,              # GANscapes: mean ratio of its ~5,300 impressionist landscapes
    "4:5": 1.25,
    "3:4": 4 / 3,
    "2:3": 1.5,
    "16:9": 16 / 9,
    "sqrt2 (A-series)": 2 ** 0.5,
}


MAX_SIDE = 100_000


MAX_ASPECT = 10.0


_CM_PER_INCH = 2.54


def round_half_up(x: float) -> int:
    """Round to the nearest integer, halves upwards (2.5 -> 3), unlike Python's round()."""
    return int(math.floor(x + 0.5))


_FRENCH_FORMATS: dict[str, tuple[tuple[int, int], ...]] = {
    # The French standard stretcher sizes ("toiles de format standard"), long x short side in
    # cm, numbers 1 to 120, as art-supply makers list them (lists differ by a centimetre here
    # and there). Colour merchants sold canvases in these sizes from the 19th century; much of
    # the WikiArt material the seed systems trained on was painted on them.
    "figure": ((22, 16), (24, 19), (27, 22), (33, 24), (35, 27), (41, 33), (46, 38), (55, 46),
               (61, 50), (65, 54), (73, 60), (81, 65), (92, 73), (100, 81), (116, 89), (130, 97),
               (146, 114), (162, 130), (195, 130)),
    "paysage": ((22, 14), (24, 16), (27, 19), (33, 22), (35, 24), (41, 27), (46, 33), (55, 38),
                (61, 46), (65, 50), (73, 54), (81, 60), (92, 65), (100, 73), (116, 81), (130, 89),
                (146, 97), (162, 114), (195, 114)),
    "marine": ((22, 12), (24, 14), (27, 16), (33, 19), (35, 22), (41, 24), (46, 27), (55, 33),
               (61, 38), (65, 46), (73, 50), (81, 54), (92, 60), (100, 65), (116, 73), (130, 81),
               (146, 89), (162, 97), (195, 97)),
}


# family: (probability, probability that a work of the family hangs in portrait orientation)
_PAINTING_FAMILIES: dict[str, tuple[float, float]] = {
    "square": (0.08, 0.5),
    "figure": (0.42, 0.65),
    "paysage": (0.30, 0.15),
    "marine": (0.15, 0.10),
    "panorama": (0.05, 0.05),
}


_PAINTING_JITTER = 0.03   # standard deviation of the log-ratio noise added to a format's ratio


def painting_aspect(rng: np.random.Generator | int | None = None) -> tuple[float, str]:
    """Sample an aspect ratio from an approximate distribution of real paintings' formats.

    Returns ``(ratio, orientation)``: the long:short ratio (in [1, 3]) and ``'landscape'`` or
    ``'portrait'``. ``rng`` is a numpy Generator, a seed (same seed, same answer) or None.

    MachineRay 2 did this with a table of the measured width/height ratios of its 850 training
    paintings, sampled by inverse-CDF interpolation. That table is not redistributed, and the
    studio ships no painting corpus, so this is an **approximation built from stated
    assumptions**, not a measurement:

    * 42 % "figure", 30 % "paysage", 15 % "marine": one of the 19 French standard canvas sizes
      of that family (``_FRENCH_FORMATS``; figure ratios 1.20-1.50, paysage 1.33-1.71, marine
      1.50-2.01), chosen uniformly;
    * 8 % near-square (ratio uniform in 1.00-1.05);
    * 5 % elongated / panoramic (log-uniform in 2-3);
    * each ratio is multiplied by ``exp(N(0, 0.03))`` (hand-built stretchers, cut-down canvases,
      cropped reproductions), folded back above 1 and clipped to [1, 3];
    * orientation: portrait with probability 0.65 for figure, 0.15 paysage, 0.10 marine,
      0.5 square, 0.05 panoramic (figures are mostly portraits, landscapes mostly wide).

    The family weights are the studio's guess, chosen so that the result looks like a general
    WikiArt mix: median ratio about 1.36, mean 1.42, 90 % between 1.04 and 2.04, portraits
    about 38 % (GANscapes measured a mean of 1.27 on impressionist landscapes alone). Treat it as "plausibly painting-like", not
    as statistics of any collection.
    """
    gen = np.random.default_rng(rng)
    names = list(_PAINTING_FAMILIES)
    weights = np.array([_PAINTING_FAMILIES[n][0] for n in names])
    family = names[int(gen.choice(len(names), p=weights / weights.sum()))]
    if family == "square":
        ratio = float(gen.uniform(1.0, 1.05))
    elif family == "panorama":
        ratio = float(math.exp(gen.uniform(math.log(2.0), math.log(3.0))))
    else:
        sizes = _FRENCH_FORMATS[family]
        long, short = sizes[int(gen.integers(len(sizes)))]
        ratio = long / short
    ratio *= float(math.exp(gen.normal(0.0, _PAINTING_JITTER)))
    if ratio < 1.0:
        ratio = 1.0 / ratio
    ratio = min(ratio, 3.0)
    portrait = gen.random() < _PAINTING_FAMILIES[family][1]
    return ratio, "portrait" if portrait else "landscape"


_NAMED_RATIOS = {
    "square": 1.0,
    "sqrt2": 2 ** 0.5, "sqrt(2)": 2 ** 0.5, "√2": 2 ** 0.5, "a-series": 2 ** 0.5, "iso": 2 ** 0.5,
    "a": 2 ** 0.5,
    "golden": (1 + 5 ** 0.5) / 2, "phi": (1 + 5 ** 0.5) / 2,
}


_RATIO_TEXT = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*(?:[:x×/]\s*([0-9]*\.?[0-9]+))?\s*$", re.IGNORECASE)


def parse_aspect(text: str) -> float:
    """Read an aspect ratio and return it as a long:short ratio >= 1.

    Accepts a number (``"1.27"``), a pair in either order (``"1.27:1"``, ``"4:5"``, ``"16:9"``,
    ``"2x3"``, ``"16/9"``), a preset name of ``ASPECT_PRESETS``, ``"sqrt2"`` / ``"√2"`` /
    ``"a4"`` (any ISO A size: sqrt 2), ``"square"`` and ``"golden"``. Orientation is not part of
    the answer: ``"4:5"`` and ``"5:4"`` both give 1.25. Raises ValueError on anything else.
    """
    if not isinstance(text, str):
        raise ValueError(f"aspect ratio must be text like '4:5' or '1.27', got {text!r}")
    key = text.strip().lower()
    if text.strip() in ASPECT_PRESETS:
        return ASPECT_PRESETS[text.strip()]
    if key in _NAMED_RATIOS:
        return _NAMED_RATIOS[key]
    if re.fullmatch(r"a[0-9]{1,2}", key):
        return 2 ** 0.5
    match = _RATIO_TEXT.match(key)
    if match:
        a = float(match.group(1))
        b = float(match.group(2)) if match.group(2) is not None else 1.0
        if a > 0 and b > 0:
            ratio = max(a, b) / min(a, b)
            if ratio <= MAX_ASPECT:
                return ratio
            raise ValueError(f"aspect ratio {text!r} is {ratio:.3g}:1; the studio allows at most {MAX_ASPECT:g}:1")
    raise ValueError(
        f"cannot read aspect ratio {text!r}: use a ratio like '1.27', '1.27:1', '4:5' or '16:9', "
        f"'sqrt2' or 'a4', or one of {', '.join(ASPECT_PRESETS)}"
        + " (a random painting-like ratio is painting_aspect(), not a fixed ratio)"
    )


def aspect_orientation(text: str) -> str | None:
    """The orientation a written ratio names: ``"4:5"`` is portrait, ``"16:9"`` landscape; a bare
    number, a preset or a named ratio names none (None)."""
    match = _RATIO_TEXT.match(str(text).strip().lower())
    if not match or match.group(2) is None:
        return None
    width, height = float(match.group(1)), float(match.group(2))
    return None if width == height else ("portrait" if width < height else "landscape")


def print_orientation(width: float, height: float) -> str | None:
    """The orientation of a print size (None for a square)."""
    return None if width == height else ("portrait" if width < height else "landscape")


_PRINT_TEXT = re.compile(
    r"^\s*([0-9]*\.?[0-9]+)\s*[x×*]\s*([0-9]*\.?[0-9]+)\s*(cm|mm|in|inch|inches|\"|'')\s*$", re.IGNORECASE)


def parse_print_size(text: str) -> tuple[float, float, str]:
    """Read a print size ``"40x50cm"``, ``"16x20in"``, ``"40 x 50 cm"`` -> ``(width, height, unit)``.

    The unit comes back as ``'cm'`` or ``'in'``; millimetres are converted to cm
    (``"400x500mm"`` -> ``(40.0, 50.0, 'cm')``), and ``inch``, ``inches`` and ``"`` mean inches.
    The first number is the width. Raises ValueError on anything else.
    """
    match = _PRINT_TEXT.match(text) if isinstance(text, str) else None
    if not match:
        raise ValueError(f"cannot read print size {text!r}: use WIDTHxHEIGHT with a unit, e.g. '40x50cm' or '16x20in'")
    w, h, unit = float(match.group(1)), float(match.group(2)), match.group(3).lower()
    if w <= 0 or h <= 0:
        raise ValueError(f"print size {text!r} must have two positive sides")
    if unit == "mm":
        return w / 10, h / 10, "cm"
    return w, h, "cm" if unit == "cm" else "in"


def print_pixels(width: float, height: float, unit: str, dpi: float) -> tuple[int, int]:
    """Pixels for a print of ``width x height`` ``unit`` ('cm' or 'in') at ``dpi`` dots per inch.

    Each side is ``size_in_inches * dpi`` rounded half up (1 inch = 2.54 cm exactly):
    40 x 50 cm at 300 dpi is 4724.4 x 5905.5 -> 4724 x 5906; 16 x 20 in -> 4800 x 6000.
    """
    if unit not in ("cm", "in"):
        raise ValueError(f"print unit must be 'cm' or 'in', got {unit!r}")
    for name, value in (("width", width), ("height", height), ("dpi", dpi)):
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value) or value <= 0:
            raise ValueError(f"print {name} must be a positive number, got {value!r}")
    per_inch = dpi if unit == "in" else dpi / _CM_PER_INCH
    w, h = round_half_up(width * per_inch), round_half_up(height * per_inch)
    if max(w, h) > MAX_SIDE:
        raise ValueError(f"{width:g} x {height:g} {unit} at {dpi:g} dpi is {w} x {h} px; the studio exports at most {MAX_SIDE} px a side")
    return max(1, w), max(1, h)
