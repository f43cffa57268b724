"""Region maps of a shared canvas as plain data (no torch: the window draws and paints them): the
layouts an artist starts from, maps read from painted masks, and the canvas shape a map suggests.

A map is rows of digits (``Regions.labels`` in a recipe) stretched over the canvas; digit n is the
canvas' n-th latent.
"""

from __future__ import annotations

import re
from typing import Sequence

import numpy as np

from studio.gan.recipe import MAX_LABEL_CELLS, MAX_REGIONS

#: the layouts the window and ``studio panorama --layout`` offer by name
LAYOUTS = ("columns", "rows", "grid")
_GRID = re.compile(r"^grid(\d+)x(\d+)$")


def layout_labels(layout: str, count: int) -> list[str]:
    """A region map for ``count`` latents: 'columns' (side by side), 'rows' (stacked), 'grid'
    (as square as they go) or 'gridRxC' (R rows of C; the latents repeat if there are fewer)."""
    if not 1 <= count <= MAX_REGIONS:
        raise ValueError(f"a canvas holds 1 to {MAX_REGIONS} latents, got {count}")
    name = layout.strip().lower()
    if name == "columns":
        return ["".join(str(i) for i in range(count))]
    if name == "rows":
        return [str(i) for i in range(count)]
    match = _GRID.match(name)
    if name == "grid" or match:
        if match:
            rows, cols = int(match.group(1)), int(match.group(2))
        else:
            cols = int(np.ceil(np.sqrt(count)))
            rows = int(np.ceil(count / cols))
        if not (1 <= rows <= MAX_LABEL_CELLS and 1 <= cols <= MAX_LABEL_CELLS):
            raise ValueError(f"a grid layout has 1 to {MAX_LABEL_CELLS} rows and columns, got {layout!r}")
        return ["".join(str((r * cols + c) % count) for c in range(cols)) for r in range(rows)]
    raise ValueError(f"a layout is columns, rows, grid or gridRxC (such as grid2x3), or a mask image; got {layout!r}")


def labels_from_image(pixels: np.ndarray, cells: int = 32) -> list[str]:
    """A painted mask (uint8 [H, W] or [H, W, C]) as a region map of at most ``cells`` cells a side:
    each distinct colour is a region, numbered from the top-left in reading order."""
    if pixels.ndim == 3 and pixels.shape[2] < 3:        # grey (and grey with alpha): the grey is the colour
        pixels = pixels[..., 0]
    if pixels.ndim == 3:
        pixels = pixels[..., :3]
        keys = (pixels[..., 0].astype(np.int64) << 16) | (pixels[..., 1].astype(np.int64) << 8) | pixels[..., 2]
    else:
        keys = pixels.astype(np.int64)
    h, w = keys.shape
    rows = max(1, min(cells, round(cells * h / max(h, w))))
    cols = max(1, min(cells, round(cells * w / max(h, w))))
    ys = ((np.arange(rows) + 0.5) * h / rows).astype(int)
    xs = ((np.arange(cols) + 0.5) * w / cols).astype(int)
    sampled = keys[np.ix_(ys, xs)]
    order: dict[int, int] = {}
    for key in sampled.flat:
        order.setdefault(int(key), len(order))
    if len(order) > MAX_REGIONS:
        raise ValueError(f"the mask has {len(order)} colours; paint it with at most {MAX_REGIONS}, one per region")
    return ["".join(str(order[int(k)]) for k in row) for row in sampled]


def suggested_canvas(labels: Sequence[str]) -> tuple[int, int] | None:
    """The native canvas (width, height quarters) whose shape matches the map's cells, one side 4 and
    the other at most 5 times it; None for a square map."""
    rows, cols = len(labels), len(labels[0])
    if rows == cols:
        return None
    if cols > rows:
        return min(20, round(4 * cols / rows)), 4
    return 4, min(20, round(4 * rows / cols))


def used_regions(labels: Sequence[str]) -> int:
    """How many latents a map paints (its highest digit + 1)."""
    return max(int(ch) for row in labels for ch in row) + 1
