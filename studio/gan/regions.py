"""Many latents on one canvas: region maps, their soft masks, and the layouts an artist starts from.

A region map is rows of digits (``Regions.labels`` in a recipe) stretched over the canvas. The
renderer needs, at every feature map's size, how much of each latent every pixel takes; those
masks come from the map made soft by a Gaussian of ``feather`` times the canvas' short side, then
averaged down to each size, so that they sum to 1 everywhere and the seams move smoothly.
"""

from __future__ import annotations

import re

import numpy as np
import torch
import torch.nn.functional as F

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


def soft_masks(labels: list[str], count: int, height: int, width: int, feather: float,
               wrap: bool = False) -> torch.Tensor:
    """[count, 1, height, width] float32 masks summing to 1: the region map stretched over the canvas,
    blurred by a Gaussian of ``feather`` x the short side (``wrap``: across the edges, for tiles)."""
    grid = torch.tensor([[int(ch) for ch in row] for row in labels])
    onehot = F.one_hot(grid, count).permute(2, 0, 1).float()[:, None]          # [K, 1, rows, cols]
    scale = min(1.0, 256 / max(height, width))                                   # blur at <= 256 px, then upsample
    h, w = max(1, round(height * scale)), max(1, round(width * scale))
    soft = F.interpolate(onehot, size=(h, w), mode="nearest")
    sigma = feather * min(h, w)
    if sigma >= 0.3:
        radius = min(int(3 * sigma), max(h, w) - 1)
        taps = torch.exp(-0.5 * (torch.arange(-radius, radius + 1, dtype=torch.float32) / sigma) ** 2)
        taps = taps / taps.sum()
        for dim in (3, 2):
            soft = _blur(soft, taps, dim, wrap)
    if (h, w) != (height, width):
        soft = F.interpolate(soft, size=(height, width), mode="bilinear", align_corners=False)
    return soft / soft.sum(dim=0, keepdim=True).clamp_min(1e-8)


def _blur(x: torch.Tensor, taps: torch.Tensor, dim: int, wrap: bool) -> torch.Tensor:
    """Convolve one spatial axis with ``taps``: the edges held (or, ``wrap``, continued from the other side
    as many times as the kernel needs)."""
    n, radius = x.shape[dim], (taps.shape[0] - 1) // 2
    kernel = taps.reshape(1, 1, 1, -1) if dim == 3 else taps.reshape(1, 1, -1, 1)
    if not wrap:
        return F.conv2d(F.pad(x, [radius, radius, 0, 0] if dim == 3 else [0, 0, radius, radius], mode="replicate"),
                        kernel)
    copies = -(-radius // n)
    tiled = torch.cat([x] * (2 * copies + 1), dim=dim)
    return F.conv2d(tiled, kernel).narrow(dim, copies * n - radius, n)


class MaskPyramid:
    """The soft masks at every feature map's size, computed once per size from the full canvas."""

    def __init__(self, full: torch.Tensor):
        self.full = full
        self._cache: dict[tuple[int, int], torch.Tensor] = {}

    def __call__(self, height: int, width: int) -> torch.Tensor:
        key = (height, width)
        if key not in self._cache:
            same = key == tuple(self.full.shape[-2:])
            self._cache[key] = self.full if same else F.interpolate(self.full, size=key, mode="area")
        return self._cache[key]
