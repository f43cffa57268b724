"""Procedural abstract paintings: small labelled, captioned datasets without downloading anything.

:func:`paint` makes one painting from a seed in one of six families of twentieth-century
abstraction (:data:`FAMILIES`):

* ``geometric`` - Kandinsky: circles, triangles, squares, arcs or bold lines over thin lines.
* ``grid`` - Mondrian: black lines dividing the canvas, a few cells in primaries.
* ``colour field`` - Rothko's soft stacked bands, or Noland-like vertical stripes.
* ``gestural`` - Kline / de Kooning broad brush strokes, or Pollock drips and spatters.
* ``radial`` - Delaunay / Noland concentric rings, or rays from a centre.
* ``biomorphic`` - Arp / Miro organic blobs with thin lines and dots.

A painting is composed in unit coordinates (so one seed gives the same composition at every
resolution), drawn as a map of palette indices at twice the resolution with hand-wobbled
edges, turned into colour, downsampled (antialiasing), and finished with painterly texture:
brush streaks in patches of different directions, mottled paint, canvas weave and grain.

Every painting carries its family, its attributes and a caption generated from them. The
caption's colours are *measured*: the dominant colour is the one covering the most canvas
among the foreground shapes (structure such as Mondrian's black lines excluded), so a CLIP
trained on the captions learns names that match the pixels. Captions use a small fixed
vocabulary (:func:`caption_vocabulary`) and one grammar per family, for instance
``"a geometric abstract painting with large orange triangles on a dark blue background"``.

:func:`write_dataset` writes a folder in the studio's prepared-dataset layout (the layout of
NVIDIA's dataset_tool plus ``studio-dataset.json`` and ``captions.jsonl``).
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from studio.imaging.metadata import save_png

__all__ = [
    "FAMILIES", "COLOR_NAMES", "SHAPE_NAMES", "FAMILY_SHAPES", "SIZE_WORDS", "Painting",
    "paint", "caption_for", "caption_vocabulary", "example_prompts", "write_dataset", "nearest_color_names",
]

FAMILIES: list[str] = ["geometric", "grid", "colour field", "gestural", "radial", "biomorphic"]
"""The painting families; a painting's label is its index in this list."""

COLOR_NAMES: dict[str, tuple[int, int, int]] = {
    "red": (196, 38, 34),
    "orange": (236, 124, 30),
    "yellow": (242, 204, 48),
    "green": (46, 138, 72),
    "blue": (36, 92, 196),
    "dark blue": (24, 36, 98),
    "purple": (112, 48, 138),
    "pink": (236, 134, 168),
    "brown": (112, 68, 36),
    "black": (22, 22, 24),
    "white": (240, 236, 224),
    "grey": (134, 134, 130),
}
"""The colour vocabulary: far enough apart (at least ~75 in RGB) for a small CLIP to tell apart."""

FAMILY_SHAPES: dict[str, list[str]] = {
    "geometric": ["circles", "triangles", "squares", "arcs", "lines"],
    "grid": ["rectangles"],
    "colour field": ["bands", "stripes"],
    "gestural": ["strokes", "drips"],
    "radial": ["rings", "rays"],
    "biomorphic": ["blobs"],
}
"""The main shape types each family paints."""

SHAPE_NAMES: list[str] = [shape for shapes in FAMILY_SHAPES.values() for shape in shapes]
"""Every main shape type (plural, as captions name them)."""

SIZE_WORDS: list[str] = ["large", "small"]
"""The size attribute's values; lines and strokes say "thick" / "thin" in captions instead."""

FAMILY_OPENINGS = {
    "geometric": "a geometric abstract painting",
    "grid": "a grid painting",
    "colour field": "a colour field painting",
    "gestural": "a gestural abstract painting",
    "radial": "a radial abstract painting",
    "biomorphic": "a biomorphic abstract painting",
}
_EXTRA_WORDS = ["a", "an", "of", "with", "on", "and", "background", "lines", "concentric", "organic",
                "thick", "thin"]

_NAMES = list(COLOR_NAMES)
_INDEX = {name: i for i, name in enumerate(_NAMES)}
_RGB = np.array([COLOR_NAMES[name] for name in _NAMES], dtype=np.float32)

# Palettes: colour families a painting's foreground is drawn from (the background is chosen apart).
_PALETTES: dict[str, list[str]] = {
    "primaries": ["red", "yellow", "blue", "black"],
    "warm": ["red", "orange", "yellow", "pink", "brown"],
    "cool": ["blue", "dark blue", "green", "purple", "white"],
    "earth": ["brown", "orange", "yellow", "black", "red"],
    "bauhaus": ["red", "yellow", "blue", "black", "white", "orange"],
    "garden": ["green", "yellow", "pink", "purple", "orange"],
    "night": ["yellow", "orange", "white", "pink", "red", "blue"],
}

SUPERSAMPLE = 2  # drawing resolution / output resolution (antialiasing by box downsampling)


@dataclass
class Painting:
    """One procedural painting.

    ``attributes`` holds what the caption is made from: ``family``, ``variant`` (the main
    shape), ``shape``, ``dominant_color``, ``second_color`` (or None), ``colors`` (foreground
    colour names by area), ``coverage`` (their fractions of the canvas), ``background_color``,
    ``size`` ("large", "small" or None), ``count`` (main shapes), ``palette``, ``seed``,
    ``attempt`` (which redraw was kept, see ``_compose``) and, for grids, ``line_color``.
    """

    image: Image.Image
    family: str
    caption: str
    attributes: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> int:
        """The family's index in :data:`FAMILIES` (the dataset's class label)."""
        return FAMILIES.index(self.family)


# --------------------------------------------------------------------------------------------
# Drawing in unit coordinates on a palette-index canvas


class _Canvas:
    """A square map of palette indices drawn in unit coordinates, with hand-painted edges.

    ``rng`` drives the composition and must consume the same numbers at every resolution;
    ``jit`` is for resolution-dependent detail (edge jitter, spatter) and may consume any.
    """

    def __init__(self, size: int, background: str, rng: np.random.Generator, jit: np.random.Generator):
        self.size = size
        self.rng = rng
        self.jit = jit
        self.image = Image.new("L", (size, size), _INDEX[background])
        self.draw = ImageDraw.Draw(self.image)

    def fill(self, color: str) -> None:
        """Paint the whole canvas (the background)."""
        self.draw.rectangle([0, 0, self.size, self.size], fill=_INDEX[color])

    # -- geometry helpers --------------------------------------------------------------------

    def _wobble(self, pts: np.ndarray, amount: float, closed: bool = True) -> np.ndarray:
        """Densify a polygon (unit coordinates) and bend it with smooth and fine noise (pixels out)."""
        S = self.size
        px = pts * S
        step = max(2.0, S / 96)
        starts = px if closed else px[:-1]
        ends = np.roll(px, -1, axis=0) if closed else px[1:]
        counts = np.maximum(1, (np.linalg.norm(ends - starts, axis=1) / step).astype(np.int64))
        seg = np.repeat(np.arange(len(starts)), counts)
        first = np.repeat(np.cumsum(counts) - counts, counts)
        frac = ((np.arange(len(seg)) - first) / counts[seg])[:, None]
        dense = starts[seg] + (ends[seg] - starts[seg]) * frac
        if not closed:
            dense = np.concatenate([dense, px[-1:]])
        amp = self.rng.uniform(0.3, 1.0, size=(2, 4)) / np.arange(1, 5) * amount * S
        phase = self.rng.uniform(0, 2 * math.pi, size=(2, 4))
        t = np.linspace(0, 2 * math.pi, len(dense), endpoint=False)[:, None]
        harmonics = np.arange(2, 6)
        dx = (amp[0] * np.sin(harmonics * t + phase[0])).sum(axis=1)
        dy = (amp[1] * np.sin(harmonics * t + phase[1])).sum(axis=1)
        fine = self.jit.normal(0, 0.25 * amount * S + 0.15, size=dense.shape)
        return dense + np.stack([dx, dy], axis=1) + fine

    def polygon(self, pts: Sequence[Sequence[float]] | np.ndarray, color: str, wobble: float = 0.004) -> None:
        """Fill a polygon given in unit coordinates."""
        pts = np.asarray(pts, dtype=np.float64)
        out = self._wobble(pts, wobble) if wobble > 0 else pts * self.size
        self.draw.polygon(out.ravel().tolist(), fill=_INDEX[color])

    def ellipse(self, cx: float, cy: float, rx: float, ry: float | None = None, color: str = "black",
                wobble: float = 0.004, angle: float = 0.0) -> None:
        """Fill an ellipse (a circle when ``ry`` is None), as a wobbly polygon."""
        ry = rx if ry is None else ry
        n = int(np.clip(2 * math.pi * max(rx, ry) * self.size / 2.5, 16, 240))
        t = np.linspace(0, 2 * math.pi, n, endpoint=False)
        x, y = rx * np.cos(t), ry * np.sin(t)
        c, s = math.cos(angle), math.sin(angle)
        pts = np.stack([cx + c * x - s * y, cy + s * x + c * y], axis=1)
        self.polygon(pts, color, wobble)

    def blob(self, cx: float, cy: float, r: float, color: str, lumpiness: float = 0.22) -> None:
        """An organic closed shape: a circle whose radius varies smoothly with the angle."""
        k = np.arange(2, 6)
        amp = self.rng.uniform(0.2, 1.0, size=4) * lumpiness / np.sqrt(k - 1)
        phase = self.rng.uniform(0, 2 * math.pi, size=4)
        stretch, angle = self.rng.uniform(0.7, 1.3), self.rng.uniform(0, math.pi)
        n = int(np.clip(2 * math.pi * r * self.size / 2.5, 24, 240))
        t = np.linspace(0, 2 * math.pi, n, endpoint=False)
        radius = r * (1 + (amp * np.sin(np.outer(t, k) + phase)).sum(axis=1))
        x, y = radius * np.cos(t) * stretch, radius * np.sin(t) / stretch
        c, s = math.cos(angle), math.sin(angle)
        self.polygon(np.stack([cx + c * x - s * y, cy + s * x + c * y], axis=1), color, wobble=0.002)

    def annulus_sector(self, cx: float, cy: float, r: float, width: float, start: float, span: float,
                       color: str) -> None:
        """A thick arc: the part of a ring between two angles (radians)."""
        n = int(np.clip(span * r * self.size / 2.5, 12, 240))
        t = np.linspace(start, start + span, n)
        outer = np.stack([cx + (r + width / 2) * np.cos(t), cy + (r + width / 2) * np.sin(t)], axis=1)
        inner = np.stack([cx + (r - width / 2) * np.cos(t), cy + (r - width / 2) * np.sin(t)], axis=1)
        self.polygon(np.concatenate([outer, inner[::-1]]), color, wobble=0.003)

    def bar(self, x0: float, y0: float, x1: float, y1: float, width: float, color: str, wobble: float = 0.003) -> None:
        """A straight thick line from (x0, y0) to (x1, y1)."""
        dx, dy = x1 - x0, y1 - y0
        length = math.hypot(dx, dy) or 1.0
        nx, ny = -dy / length * width / 2, dx / length * width / 2
        self.polygon([(x0 + nx, y0 + ny), (x1 + nx, y1 + ny), (x1 - nx, y1 - ny), (x0 - nx, y0 - ny)], color, wobble)

    def curve(self, points: np.ndarray, width: float, color: str) -> None:
        """A thin line through unit-coordinate points, ``width`` in unit coordinates."""
        px = points * self.size + self.jit.normal(0, 0.3, size=points.shape)
        thinnest = 1.5 * SUPERSAMPLE   # at least 1.5 output pixels, or thin lines blur into other colours
        self.draw.line(px.ravel().tolist(), fill=_INDEX[color], width=round(max(thinnest, width * self.size)),
                       joint="curve")

    def stroke(self, path: np.ndarray, widths: np.ndarray, color: str, dry: str | None = None) -> None:
        """A brush stroke: a band of varying width along ``path``, optionally with dry-brush streaks.

        ``dry`` names the colour showing through the bristle gaps near the end of the stroke.
        """
        d = np.gradient(path, axis=0)
        d /= np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-9)
        normal = np.stack([-d[:, 1], d[:, 0]], axis=1)
        left = (path + normal * widths[:, None] / 2) * self.size
        right = (path - normal * widths[:, None] / 2) * self.size
        left += self.jit.normal(0, 0.35, size=left.shape)
        right += self.jit.normal(0, 0.35, size=right.shape)
        fill = _INDEX[color]
        for i in range(len(path) - 1):
            self.draw.polygon([tuple(left[i]), tuple(left[i + 1]), tuple(right[i + 1]), tuple(right[i])], fill=fill)
        if dry is not None:
            n = len(path)
            for _ in range(int(self.rng.integers(2, 6))):
                offset = self.rng.uniform(-0.42, 0.42)
                start = int(self.rng.integers(n // 3, n - 3))
                pts = (path[start:] + normal[start:] * (widths[start:, None] * offset)) * self.size
                gap = max(1, round(self.size * float(widths.mean()) * self.rng.uniform(0.03, 0.08)))
                self.draw.line([tuple(p) for p in pts], fill=_INDEX[dry], width=gap)

    def indices(self) -> np.ndarray:
        return np.asarray(self.image)


def _pick(rng: np.random.Generator, items: Sequence[str], exclude: Iterable[str] = ()) -> str:
    """One of ``items`` not in ``exclude`` (uniformly)."""
    banned = set(exclude)
    choices = [item for item in items if item not in banned]
    return choices[int(rng.integers(len(choices)))]


def _weighted(rng: np.random.Generator, options: dict[str, float]) -> str:
    names = list(options)
    p = np.array([options[n] for n in names], dtype=np.float64)
    return names[int(rng.choice(len(names), p=p / p.sum()))]


def _colours(rng: np.random.Generator, background: str, n: int, palette: str | None = None) -> tuple[str, list[str]]:
    """A palette name and ``n`` distinct foreground colours from it (topped up from all colours)."""
    palette = palette or _pick(rng, list(_PALETTES))
    pool = [c for c in _PALETTES[palette] if c != background]
    order = rng.permutation(len(pool))
    chosen = [pool[i] for i in order[:n]]
    while len(chosen) < n:
        chosen.append(_pick(rng, _NAMES, exclude=chosen + [background]))
    return palette, chosen


def _smooth_path(rng: np.random.Generator, start: np.ndarray, length: float, points: int = 24,
                 bend: float = 2.5) -> np.ndarray:
    """A smoothly curving path in unit coordinates (heading drifts with random curvature)."""
    heading = rng.uniform(0, 2 * math.pi)
    curvature = rng.normal(0, bend, size=3)
    t = np.linspace(0, 1, points)
    angles = heading + curvature[0] * t + curvature[1] * t ** 2 + curvature[2] * np.sin(3 * t)
    steps = np.stack([np.cos(angles), np.sin(angles)], axis=1) * (length / (points - 1))
    return start + np.concatenate([[np.zeros(2)], np.cumsum(steps[:-1], axis=0)])


# --------------------------------------------------------------------------------------------
# The families. Each draws on the canvas and returns its attributes (before measuring colour).


def _geometric(cv: _Canvas) -> dict[str, Any]:
    rng = cv.rng
    background = _weighted(rng, {"white": 4, "black": 2, "dark blue": 2, "grey": 1, "yellow": 1, "brown": 1})
    cv.fill(background)
    palette, colours = _colours(rng, background, 4)
    main, others = colours[0], colours[1:]
    shape = _pick(rng, FAMILY_SHAPES["geometric"])
    size = _pick(rng, SIZE_WORDS)
    large = size == "large"
    count = int(rng.integers(2, 5) if large else rng.integers(6, 12))
    line_colour = "white" if background in ("black", "dark blue", "brown") else "black"
    if main == line_colour:
        line_colour = _pick(rng, ["red", "yellow", "blue"], exclude=[background])

    # Thin Kandinsky lines behind and a couple of smaller accents in other colours.
    for _ in range(int(rng.integers(2, 6))):
        x0, y0, x1, y1 = rng.uniform(0.05, 0.95, size=4)
        cv.bar(x0, y0, x1, y1, rng.uniform(0.005, 0.012), line_colour, wobble=0.001)

    placed: list[tuple[float, float, float]] = []

    def place(r: float, n: int) -> list[tuple[float, float]]:
        """Centres for ``n`` shapes of radius ``r``, each the candidate least crowded by earlier ones."""
        centres = []
        for _ in range(n):
            candidates = rng.uniform(0.1 + r * 0.6, 0.9 - r * 0.6, size=(12, 2))
            if placed:
                others = np.array(placed)
                gaps = np.linalg.norm(candidates[:, None, :] - others[None, :, :2], axis=-1) - others[None, :, 2]
                best = candidates[int(gaps.min(axis=1).argmax())]
            else:
                best = candidates[0]
            placed.append((float(best[0]), float(best[1]), r))
            centres.append((float(best[0]), float(best[1])))
        return centres

    def draw(kind: str, cx: float, cy: float, r: float, colour: str) -> None:
        angle = rng.uniform(0, 2 * math.pi)
        if kind == "circles":
            cv.ellipse(cx, cy, r, color=colour, wobble=0.003)
        elif kind == "triangles":
            a = angle + np.array([0, 2 * math.pi / 3, 4 * math.pi / 3]) + rng.uniform(-0.25, 0.25, size=3)
            cv.polygon(np.stack([cx + r * 1.25 * np.cos(a), cy + r * 1.25 * np.sin(a)], axis=1), colour)
        elif kind == "squares":
            a = angle * 0.15 + np.arange(4) * math.pi / 2 + math.pi / 4
            cv.polygon(np.stack([cx + r * 1.2 * np.cos(a), cy + r * 1.2 * np.sin(a)], axis=1), colour)
        elif kind == "arcs":
            cv.annulus_sector(cx, cy, r, r * rng.uniform(0.28, 0.45), angle, rng.uniform(1.6, 3.8), colour)
        else:  # lines: bold bars
            half = r * rng.uniform(1.6, 2.4)
            dx, dy = math.cos(angle) * half, math.sin(angle) * half
            cv.bar(cx - dx, cy - dy, cx + dx, cy + dy, r * rng.uniform(0.28, 0.4), colour)

    base = rng.uniform(0.12, 0.18) if large else rng.uniform(0.05, 0.08)
    accents = int(rng.integers(1, 4))
    for (cx, cy), colour in zip(place(base * 0.6, accents), others * 2):
        draw(shape, cx, cy, base * rng.uniform(0.4, 0.65), colour)
    for cx, cy in place(base, count):
        draw(shape, cx, cy, base * rng.uniform(0.8, 1.15), main)
    return {"shape": shape, "size": size, "count": count, "background_color": background, "palette": palette,
            "intended_color": main, "structure": [line_colour]}


def _grid(cv: _Canvas) -> dict[str, Any]:
    rng = cv.rng
    background = _weighted(rng, {"white": 8, "grey": 1, "yellow": 1})
    cv.fill(background)
    palette = _weighted(rng, {"primaries": 6, "bauhaus": 1, "warm": 1, "cool": 1, "garden": 1})
    _, colours = _colours(rng, background, 3, palette)
    line_colour = "black" if background != "black" else "white"
    colours = [c for c in colours if c != line_colour] or ["red"]
    while len(colours) < 3:
        colours.append(_pick(rng, ["red", "yellow", "blue", "orange", "green"], exclude=colours + [background]))

    cells = [(-0.05, -0.05, 1.05, 1.05)]
    for _ in range(int(rng.integers(4, 9))):
        areas = [(x1 - x0) * (y1 - y0) for x0, y0, x1, y1 in cells]
        i = int(rng.choice(len(cells), p=np.array(areas) / sum(areas)))
        x0, y0, x1, y1 = cells.pop(i)
        vertical = (x1 - x0) > (y1 - y0) if rng.uniform() < 0.7 else rng.uniform() < 0.5
        f = rng.uniform(0.28, 0.72)
        if vertical:
            xm = x0 + (x1 - x0) * f
            cells += [(x0, y0, xm, y1), (xm, y0, x1, y1)]
        else:
            ym = y0 + (y1 - y0) * f
            cells += [(x0, y0, x1, ym), (x0, ym, x1, y1)]
    visible = [max(0.0, min(x1, 1) - max(x0, 0)) * max(0.0, min(y1, 1) - max(y0, 0)) for x0, y0, x1, y1 in cells]
    order = np.argsort(visible)[::-1]
    fills = [background] * len(cells)
    fills[order[int(rng.integers(0, 2))]] = colours[0]    # one of the two largest cells: the main colour
    rest = [i for i in order[2:] if fills[i] == background]
    for k, i in enumerate(rng.permutation(rest)[: int(rng.integers(1, 4))]):
        fills[i] = colours[1 + k % 2]
    lw = rng.uniform(0.016, 0.03)
    cv.draw.rectangle([0, 0, cv.size, cv.size], fill=_INDEX[line_colour])
    for (x0, y0, x1, y1), colour in zip(cells, fills):
        cv.polygon([(x0 + lw / 2, y0 + lw / 2), (x1 - lw / 2, y0 + lw / 2), (x1 - lw / 2, y1 - lw / 2),
                    (x0 + lw / 2, y1 - lw / 2)], colour, wobble=0.0015)
    return {"shape": "rectangles", "size": None, "count": sum(f != background for f in fills),
            "background_color": background, "palette": palette, "intended_color": colours[0],
            "structure": [line_colour]}


def _colour_field(cv: _Canvas) -> dict[str, Any]:
    rng = cv.rng
    background = _weighted(rng, {"red": 2, "brown": 2, "dark blue": 2, "black": 2, "purple": 1, "orange": 1,
                                 "grey": 1, "white": 1, "green": 1})
    cv.fill(background)
    palette, colours = _colours(rng, background, 3)
    shape = _pick(rng, FAMILY_SHAPES["colour field"])
    if shape == "bands":
        n = int(rng.integers(2, 4))
        margin = rng.uniform(0.06, 0.1)
        gap = rng.uniform(0.035, 0.06)
        weights = rng.uniform(0.5, 1.0, size=n)
        big = int(rng.integers(n))
        weights[big] += rng.uniform(0.8, 1.4)   # one band dominates, as in Rothko
        heights = weights / weights.sum() * (1 - 2 * margin - gap * (n - 1))
        band_colours = [colours[1 + (i % 2)] for i in range(n)]
        band_colours[big] = colours[0]
        for i in range(n):
            if i != big and i > 0 and band_colours[i] == band_colours[i - 1]:
                band_colours[i] = colours[2] if band_colours[i] == colours[1] else colours[1]
        y = margin
        side = margin * rng.uniform(0.8, 1.2)
        for h, colour in zip(heights, band_colours):
            cv.polygon([(side, y), (1 - side, y), (1 - side, y + h), (side, y + h)], colour, wobble=0.012)
            y += h + gap
        count = n
    else:
        n = int(rng.integers(5, 10))
        weights = rng.uniform(0.4, 1.0, size=n)
        is_main = np.arange(n) % 2 == int(rng.integers(2))
        weights[is_main] *= 1.8
        margin = rng.uniform(0.0, 0.08)
        widths = weights / weights.sum() * (1 - 2 * margin) * rng.uniform(0.8, 0.95)
        gap = (1 - 2 * margin - widths.sum()) / max(n - 1, 1)
        x = margin
        for i, w in enumerate(widths):
            colour = colours[0] if is_main[i] else colours[1 + (i // 2) % 2]
            cv.polygon([(x, -0.02), (x + w, -0.02), (x + w, 1.02), (x, 1.02)], colour, wobble=0.006)
            x += w + gap
        count = n
    return {"shape": shape, "size": None, "count": count, "background_color": background, "palette": palette,
            "intended_color": colours[0], "structure": [], "soft": shape == "bands"}


def _gestural(cv: _Canvas) -> dict[str, Any]:
    rng = cv.rng
    background = _weighted(rng, {"white": 6, "yellow": 1, "grey": 1, "black": 1, "pink": 1})
    cv.fill(background)
    palette, colours = _colours(rng, background, 3)
    shape = _pick(rng, FAMILY_SHAPES["gestural"])
    if rng.uniform() < 0.35 and background != "black":
        colours[0] = "black"   # Kline
        colours[1:] = [c for c in colours[1:] if c != "black"] or ["red"]
        while len(colours) < 3:
            colours.append(_pick(rng, _NAMES, exclude=colours + [background]))
    main, others = colours[0], colours[1:]
    if shape == "strokes":
        size = _pick(rng, SIZE_WORDS)
        count = int(rng.integers(3, 6) if size == "large" else rng.integers(7, 13))
        width = rng.uniform(0.09, 0.14) if size == "large" else rng.uniform(0.035, 0.055)
        plan = [(others[i % len(others)], 0.55) for i in range(int(rng.integers(1, 4)))] + [(main, 1.0)] * count
        for colour, scale in plan:
            start = rng.uniform(0.1, 0.9, size=2)
            path = _smooth_path(rng, start, rng.uniform(0.45, 0.9) * (0.7 + 0.3 * scale), points=28, bend=1.6)
            path += start - path.mean(axis=0)   # centred on its start point, so strokes stay on the canvas
            t = np.linspace(0, 1, len(path))
            w = width * scale * rng.uniform(0.8, 1.2) * (0.55 + 0.45 * np.sin(math.pi * np.clip(t * 1.2, 0, 1)))
            w *= 1 + 0.12 * np.sin(t * rng.uniform(6, 14) + rng.uniform(0, 6))
            cv.stroke(path, w, colour, dry=background)
    else:
        size = None
        count = int(rng.integers(14, 26))
        plan = [(others[i % len(others)], 0.6) for i in range(int(rng.integers(4, 9)))] + [(main, 1.0)] * count
        order = rng.permutation(len(plan))
        for k in order:
            colour, scale = plan[k]
            start = rng.uniform(-0.1, 1.1, size=2)
            path = _smooth_path(rng, start, rng.uniform(0.5, 1.3), points=40, bend=3.5)
            cv.curve(path, rng.uniform(0.01, 0.024) * scale, colour)
            for _ in range(int(rng.integers(1, 4))):   # spatters
                cx, cy = path[int(rng.integers(len(path)))] + rng.normal(0, 0.03, size=2)
                cv.ellipse(cx, cy, rng.uniform(0.006, 0.018) * scale, color=colour, wobble=0.002)
    return {"shape": shape, "size": size, "count": count, "background_color": background, "palette": palette,
            "intended_color": main, "structure": []}


def _radial(cv: _Canvas) -> dict[str, Any]:
    rng = cv.rng
    background = _weighted(rng, {"dark blue": 3, "black": 2, "white": 3, "grey": 1, "brown": 1, "yellow": 1})
    cv.fill(background)
    palette, colours = _colours(rng, background, 3)
    main = colours[0]
    shape = _pick(rng, FAMILY_SHAPES["radial"])
    if shape == "rings":
        targets = 1 if rng.uniform() < 0.6 else int(rng.integers(2, 4))
        count = 0
        for k in range(targets):
            r = rng.uniform(0.32, 0.46) if targets == 1 else rng.uniform(0.16, 0.3)
            cx, cy = (rng.uniform(0.4, 0.6, size=2) if targets == 1 else rng.uniform(0.2, 0.8, size=2))
            rings = int(rng.integers(3, 7))
            widths = np.where(np.arange(rings) % 2 == 0, 1.7, 1.0) * rng.uniform(0.8, 1.2, size=rings)
            widths = widths / widths.sum() * r
            radius = r
            for i in range(rings):
                colour = main if i % 2 == 0 else colours[1 + (i // 2) % 2]
                cv.ellipse(cx, cy, radius, color=colour, wobble=0.002)
                radius -= widths[i]
            count += (rings + 1) // 2
    else:
        cx, cy = rng.uniform(0.2, 0.8, size=2) if rng.uniform() < 0.7 else rng.uniform(-0.1, 1.1, size=2)
        count = int(rng.integers(6, 14))
        period = 2 * math.pi / count
        duty = rng.uniform(0.45, 0.6)
        start = rng.uniform(0, period)
        reach = 1.6
        for i in range(count):
            a0 = start + i * period
            a1 = a0 + period * duty
            colour = main if i % 3 != 2 else colours[1]
            cv.polygon([(cx, cy), (cx + reach * math.cos(a0), cy + reach * math.sin(a0)),
                        (cx + reach * math.cos(a1), cy + reach * math.sin(a1))], colour, wobble=0.003)
        cv.ellipse(cx, cy, rng.uniform(0.04, 0.1), color=colours[2], wobble=0.002)
    return {"shape": shape, "size": None, "count": count, "background_color": background, "palette": palette,
            "intended_color": main, "structure": []}


def _biomorphic(cv: _Canvas) -> dict[str, Any]:
    rng = cv.rng
    background = _weighted(rng, {"white": 4, "yellow": 1, "grey": 1, "dark blue": 1, "brown": 1, "black": 1})
    cv.fill(background)
    palette, colours = _colours(rng, background, 3)
    main, others = colours[0], colours[1:]
    size = _pick(rng, SIZE_WORDS)
    count = int(rng.integers(2, 4) if size == "large" else rng.integers(5, 10))
    base = rng.uniform(0.15, 0.22) if size == "large" else rng.uniform(0.06, 0.09)
    line_colour = "black" if background not in ("black", "dark blue", "brown") else "white"
    if line_colour == main:
        line_colour = _pick(rng, ["red", "yellow", "blue", "white", "black"], exclude=[main, background])
    for i in range(int(rng.integers(1, 3))):
        cx, cy = rng.uniform(0.15, 0.85, size=2)
        cv.blob(cx, cy, base * rng.uniform(0.4, 0.6), others[i % len(others)])
    for cx, cy in rng.uniform(0.1 + base * 0.5, 0.9 - base * 0.5, size=(count, 2)):
        cv.blob(cx, cy, base * rng.uniform(0.8, 1.2), main)
    for _ in range(int(rng.integers(1, 4))):   # Miro's lines and dots
        path = _smooth_path(rng, rng.uniform(0.1, 0.9, size=2), rng.uniform(0.3, 0.7), points=30, bend=5.0)
        cv.curve(path, rng.uniform(0.005, 0.009), line_colour)
        end = path[-1]
        cv.ellipse(float(end[0]), float(end[1]), rng.uniform(0.012, 0.025), color=line_colour, wobble=0.001)
    return {"shape": "blobs", "size": size, "count": count, "background_color": background, "palette": palette,
            "intended_color": main, "structure": []}


_COMPOSERS: dict[str, Callable[[_Canvas], dict[str, Any]]] = {
    "geometric": _geometric, "grid": _grid, "colour field": _colour_field, "gestural": _gestural,
    "radial": _radial, "biomorphic": _biomorphic,
}


# --------------------------------------------------------------------------------------------
# Colour, texture, captions


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def _size_word(size: str | None, shape: str) -> str:
    if size is None:
        return ""
    if shape in ("lines", "strokes"):
        return {"large": "thick", "small": "thin"}[size]
    return size


def caption_for(family: str, *, shape: str, dominant_color: str, background_color: str,
                second_color: str | None = None, size: str | None = None, line_color: str = "black") -> str:
    """The caption the grammar writes for these attributes (spaces normalised), e.g. for
    zero-shot prompts: ``caption_for("radial", shape="rays", dominant_color="blue", ...)``."""
    colours = [dominant_color] + ([second_color] if second_color else [])
    a = {"shape": shape, "dominant_color": dominant_color, "second_color": second_color,
         "background_color": background_color, "colors": colours, "line_color": line_color, "size": size}
    return " ".join(_caption(family, a).split())


def _caption(family: str, a: dict[str, Any]) -> str:
    """The caption for a painting's attributes (one grammar per family, dominant colour first)."""
    shape, c1, c2, bg = a["shape"], a["dominant_color"], a["second_color"], a["background_color"]
    on = f"on {_article(bg)} {bg} background"
    pair = f"{c1} and {c2}" if c2 else c1
    opening = FAMILY_OPENINGS[family]
    if family == "grid":
        colours = a["colors"][:3]
        listed = colours[0] if len(colours) == 1 else ", ".join(colours[:-1]) + " and " + colours[-1]
        line = a["line_color"]
        return f"{opening} of {listed} rectangles with {line} lines {on}"
    if family == "colour field" or (family == "radial" and shape == "rays"):
        return f"{opening} of {pair} {shape} {on}"
    if family == "radial":
        return f"{opening} of concentric {pair} rings {on}"
    if family == "gestural" and shape == "drips":
        return f"{opening} of {c1} drips {on}"
    size = _size_word(a["size"], shape)
    if family == "gestural":
        return f"{opening} of {size} {c1} strokes {on}"
    if family == "biomorphic":
        return f"{opening} with {size} organic {c1} blobs {on}"
    return f"{opening} with {size} {c1} {shape} {on}"


def caption_vocabulary() -> list[str]:
    """Every word a caption can contain (colour names split into words), sorted."""
    words = set(_EXTRA_WORDS) | set(SHAPE_NAMES) | set(SIZE_WORDS)
    for name in COLOR_NAMES:
        words.update(name.split())
    for opening in FAMILY_OPENINGS.values():
        words.update(opening.split())
    return sorted(words)


def example_prompts(per_family: int = 3, start_seed: int = 3_000_000) -> list[str]:
    """Prompts in the captions' words, for a CLIP trained on them: per family, one short prompt
    ("a radial abstract painting of blue rings") and the captions of ``per_family`` paintings."""
    colours = list(COLOR_NAMES)
    prompts = []
    for k, family in enumerate(FAMILIES):
        shape = FAMILY_SHAPES[family][0]
        prompts.append(f"{FAMILY_OPENINGS[family]} of {colours[(3 * k + 1) % len(colours)]} {shape}")
        prompts += [paint(start_seed + per_family * k + i, 64, family).caption for i in range(per_family)]
    return prompts


def _measure(indices: np.ndarray, background: str, structure: Sequence[str]) -> tuple[list[str], list[float]]:
    """Foreground colours ordered by the canvas fraction they cover (background and structure left out)."""
    counts = np.bincount(indices.ravel(), minlength=len(_NAMES))[: len(_NAMES)] / indices.size
    skip = {_INDEX[background], *(_INDEX[s] for s in structure)}
    order = [i for i in np.argsort(-counts, kind="stable") if i not in skip and counts[i] > 0.002]
    return [_NAMES[i] for i in order], [round(float(counts[i]), 4) for i in order]


def _resize_noise(noise: np.ndarray, size: int, resample: int = Image.BICUBIC) -> np.ndarray:
    return np.asarray(Image.fromarray(noise.astype(np.float32), mode="F").resize((size, size), resample))


def _texture(rgb: np.ndarray, tex: np.random.Generator, strength: float = 1.0) -> np.ndarray:
    """Painterly finish on a float HxWx3 image: brush streaks, mottled paint, canvas weave and grain."""
    n = rgb.shape[0]
    coarse = max(2, n // 10)
    # brush streaks: noise stretched along one axis, in patches of horizontal / vertical / diagonal work
    fine = max(4, n * 2 // 3)
    vertical = _resize_noise(tex.normal(size=(coarse, fine)), n, Image.BILINEAR)
    horizontal = _resize_noise(tex.normal(size=(fine, coarse)), n, Image.BILINEAR)
    mask = np.clip(_resize_noise(tex.normal(size=(3, 3)), n) * 1.5 + 0.5, 0, 1)
    streaks = vertical * mask + horizontal * (1 - mask)
    # impasto: light from the top left on the streak relief
    relief = streaks - np.roll(np.roll(streaks, 1, axis=0), 1, axis=1)
    mottle = _resize_noise(tex.normal(size=(5, 5)), n)
    tint = np.stack([_resize_noise(tex.normal(size=(4, 4)), n) for _ in range(3)], axis=-1)
    y, x = np.mgrid[0:n, 0:n]
    period = 2.6 if n >= 96 else 2.1
    weave = np.sin(x * (2 * math.pi / period)) * np.sin(y * (2 * math.pi / period))
    grain = tex.normal(size=(n, n))
    lum = 1 + strength * (0.03 * streaks + 0.025 * relief + 0.035 * mottle + 0.02 * weave + 0.015 * grain)
    out = rgb * lum[..., None] + strength * 5.0 * tint
    return np.clip(out, 0, 255)


_PROBE_SIZE = 128   # compositions are judged at this canvas size, so every resolution picks the same
_MAX_RATIO = 0.7    # the dominant colour covers at least 1/0.7 of the runner-up's area ...
_MIN_COVER = 0.03   # ... and at least 3% of the canvas, or the composition is drawn again
_ATTEMPTS = 4


def _compose(seed: int, family: str, size: int) -> tuple[_Canvas, dict[str, Any], tuple[list[str], list[float]]]:
    """Draw the family's composition for ``seed`` on a ``size`` canvas.

    Returns the canvas, the composer's attributes and the foreground colours with their
    coverage, measured on the probe canvas (so captions are the same at every resolution).

    A composition whose dominant colour is not clearly dominant (see ``_MAX_RATIO``,
    ``_MIN_COVER``) is redrawn from the next random stream, up to ``_ATTEMPTS`` times (the
    clearest is kept). The choice is made on a fixed-size probe canvas, so it does not depend
    on the output resolution.
    """
    fam = FAMILIES.index(family)
    composer = _COMPOSERS[family]

    def draw(attempt: int, canvas_size: int) -> tuple[_Canvas, dict[str, Any]]:
        key = [seed, fam, 0] + ([attempt] if attempt else [])
        canvas = _Canvas(canvas_size, "white", np.random.default_rng(key),
                         np.random.default_rng([seed, fam, 1, attempt, canvas_size]))
        return canvas, composer(canvas)   # each composer paints its own background first

    best: tuple[float, int] | None = None
    probes: dict[int, tuple[_Canvas, dict[str, Any], tuple[list[str], list[float]]]] = {}
    for attempt in range(_ATTEMPTS):
        canvas, attributes = draw(attempt, _PROBE_SIZE)
        measured = _measure(canvas.indices(), attributes["background_color"], attributes["structure"])
        probes[attempt] = (canvas, attributes, measured)
        coverage = measured[1]
        if not coverage:
            score = 2.0
        else:
            ratio = coverage[1] / coverage[0] if len(coverage) > 1 else 0.0
            score = ratio + (1.0 if coverage[0] < _MIN_COVER else 0.0)
        if best is None or score < best[0]:
            best = (score, attempt)
        if score <= _MAX_RATIO:
            break
    assert best is not None
    chosen = best[1]
    canvas, attributes, measured = probes[chosen]
    if size != _PROBE_SIZE:
        canvas, attributes = draw(chosen, size)
    attributes["attempt"] = chosen
    return canvas, attributes, measured


def paint(seed: int, resolution: int = 128, family: str | None = None) -> Painting:
    """Paint the abstract painting of ``seed`` at ``resolution`` x ``resolution`` pixels.

    Deterministic: the same seed and family give identical pixels at a given resolution, and
    the same composition and caption at every resolution. ``family`` None takes the family
    from the seed (``FAMILIES[seed % len(FAMILIES)]``, so consecutive seeds cycle through them).
    """
    seed = int(seed)
    if seed < 0:
        raise ValueError(f"seed must be 0 or more, got {seed}")
    resolution = int(resolution)
    if resolution < 8:
        raise ValueError(f"resolution must be at least 8 pixels, got {resolution}")
    if family is None:
        family = FAMILIES[seed % len(FAMILIES)]
    elif family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; choose from {', '.join(FAMILIES)}")
    fam = FAMILIES.index(family)
    tex = np.random.default_rng([seed, fam, 2, resolution])
    size = resolution * SUPERSAMPLE
    canvas, attributes, (colours, coverage) = _compose(seed, family, size)
    del attributes["structure"]
    rng = canvas.rng
    indices = canvas.indices()
    intended = attributes.pop("intended_color")
    if not colours:   # shapes hidden entirely (cannot happen with the compositions above; be safe)
        colours, coverage = [intended], [0.0]
    soft = attributes.pop("soft", False)

    lut = _RGB * rng.uniform(0.96, 1.04, size=(len(_NAMES), 1)) + rng.uniform(-5, 5, size=(len(_NAMES), 3))
    lut = np.clip(lut, 0, 255).astype(np.uint8)
    big = Image.fromarray(lut[indices], mode="RGB")
    if soft:
        big = big.filter(ImageFilter.GaussianBlur(radius=size * 0.008))
    small = big.reduce(SUPERSAMPLE) if SUPERSAMPLE > 1 else big
    rgb = _texture(np.asarray(small, dtype=np.float32), tex)
    image = Image.fromarray(rgb.round().astype(np.uint8), mode="RGB")

    attributes.update({
        "family": family,
        "variant": attributes["shape"],
        "dominant_color": colours[0],
        "second_color": colours[1] if len(colours) > 1 else None,
        "colors": colours,
        "coverage": coverage,
        "seed": seed,
    })
    if family == "grid":
        attributes["line_color"] = "black" if attributes["background_color"] != "black" else "white"
    caption = _caption(family, attributes)
    return Painting(image=image, family=family, caption=caption, attributes=attributes)


def nearest_color_names(image: Image.Image | np.ndarray) -> np.ndarray:
    """Index into ``list(COLOR_NAMES)`` of the nearest palette colour, per pixel (H x W)."""
    pixels = np.asarray(image, dtype=np.float32)[..., :3]
    d = ((pixels[..., None, :] - _RGB) ** 2).sum(axis=-1)
    return d.argmin(axis=-1)


# --------------------------------------------------------------------------------------------
# Datasets


def _remove_old_images(folder: Path) -> None:
    """Delete the numbered images of an earlier dataset in ``folder`` (and nothing else)."""
    for sub in folder.iterdir():
        if sub.is_dir() and re.fullmatch(r"\d{5}", sub.name):
            for image in sub.iterdir():
                if re.fullmatch(r"\.?img\d{8}\.png(\.tmp)?", image.name):
                    image.unlink()


def _paint_one(job: tuple[Path, int, int, int, str | None]) -> tuple[str, int, str]:
    """Paint and save image ``i`` of a dataset; returns (file name, label, captions.jsonl line)."""
    folder, i, seed, resolution, family = job
    painting = paint(seed, resolution, family)
    name = f"{i // 1000:05d}/img{i:08d}.png"
    target = folder / name
    target.parent.mkdir(exist_ok=True)
    save_png(target, painting.image, compress_level=3, durable=False)  # fsync per image would crawl
    line = json.dumps({"file": name, "caption": painting.caption, "family": painting.family,
                       "attributes": painting.attributes})
    return name, painting.label, line


def write_dataset(out: str | os.PathLike[str], count: int, resolution: int, *, start_seed: int = 0,
                  families: Sequence[str] | None = None,
                  progress: Callable[[int, int], None] | None = None, workers: int | None = None) -> Path:
    """Write ``count`` procedural paintings as a prepared dataset in ``out``; returns the folder.

    Layout (NVIDIA dataset_tool's plus the studio's files): ``00000/img00000000.png`` (1000
    images per subfolder), ``dataset.json`` with ``{"labels": [[file, family_index], ...]}``,
    ``studio-dataset.json`` (version, resolution, count, label names ...) and ``captions.jsonl``
    with one ``{"file", "caption", "family", "attributes"}`` per line. Image ``i`` is
    ``paint(start_seed + i)``; with ``families`` the family cycles through those instead.
    ``progress(done, total)`` is called after each image. Numbered images of an earlier
    dataset in ``out`` are deleted first, so the folder holds exactly this dataset. ``workers``
    processes paint in parallel (default 1); the files are the same either way.
    """
    from studio.core.atomic import atomic_write_text

    count, resolution, start_seed = int(count), int(resolution), int(start_seed)
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    if start_seed < 0:
        raise ValueError(f"start seed must be 0 or more, got {start_seed}")
    chosen = list(families) if families else None
    for name in chosen or []:
        if name not in FAMILIES:
            raise ValueError(f"unknown family {name!r}; choose from {', '.join(FAMILIES)}")
    folder = Path(out).expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    _remove_old_images(folder)
    labels: list[list[Any]] = []
    lines: list[str] = []
    jobs = [(folder, i, start_seed + i, resolution, chosen[i % len(chosen)] if chosen else None)
            for i in range(count)]
    workers = max(1, min(int(workers or 1), count))
    if workers == 1:
        rows: Iterable[tuple[str, int, str]] = map(_paint_one, jobs)
        pool = None
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        # spawn, not fork: the caller may hold threads (torch, Qt) that a fork would copy mid-state
        pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
        rows = pool.map(_paint_one, jobs, chunksize=max(1, min(64, count // (4 * workers))))
    try:
        for i, (name, label, line) in enumerate(rows):
            labels.append([name, label])
            lines.append(line)
            if progress is not None:
                progress(i + 1, count)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    atomic_write_text(folder / "captions.jsonl", "\n".join(lines) + "\n")
    atomic_write_text(folder / "dataset.json", json.dumps({"labels": labels}) + "\n")
    meta = {
        "version": 1, "resolution": resolution, "count": count, "crop": "procedural", "aspect_ratio": None,
        "label_names": list(FAMILIES), "source": "procedural",
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    atomic_write_text(folder / "studio-dataset.json", json.dumps(meta, indent=2) + "\n")
    return folder
