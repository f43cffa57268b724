"""Many latents on one canvas: the soft masks of a region map (the maps themselves, and the layouts
an artist starts from, are :mod:`studio.gan.region_maps`).

A region map is rows of digits (``Regions.labels`` in a recipe) stretched over the canvas. The
renderer needs, at every feature map's size, how much of each latent every pixel takes; those
masks come from the map made soft by a Gaussian of ``feather`` times the canvas' short side, then
averaged down to each size, so that they sum to 1 everywhere and the seams move smoothly.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


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
