"""SWAGAN: StyleGAN2 whose skip path works in the Haar-wavelet domain (the MAGnet models).

The synthesis blocks are StyleGAN2's 'skip' blocks running at half the output resolution;
each ToRGB emits the four Haar sub-bands of RGB (12 channels), the running image is brought
to the next resolution by inverse wavelet -> FIR upsample -> wavelet, and the final image is
the inverse wavelet transform of the last sub-bands. Layouts follow rosinality's SWAGAN.
"""

from __future__ import annotations

import math

import torch

from studio.gan.networks import ops
from studio.gan.networks.stylegan2 import Generator, SynthesisBlock, SynthesisNetwork

SUBBANDS = 4


def haar_filters() -> dict[str, torch.Tensor]:
    """The four 2x2 Haar analysis filters: low/high along rows x low/high along columns."""
    low = torch.tensor([1.0, 1.0]) / math.sqrt(2)
    high = torch.tensor([-1.0, 1.0]) / math.sqrt(2)
    return {
        "ll": torch.outer(low, low),
        "lh": torch.outer(high, low),
        "hl": torch.outer(low, high),
        "hh": torch.outer(high, high),
    }


_HAAR = haar_filters()
_SIGNS = {"ll": 1.0, "lh": -1.0, "hl": -1.0, "hh": 1.0}  # synthesis filters of the inverse transform


def haar_dwt(x: torch.Tensor) -> torch.Tensor:
    """[N, C, H, W] -> [N, 4C, H/2, W/2]: sub-bands ll, lh, hl, hh, each with C channels."""
    return torch.cat([ops.upfirdn2d(x, _HAAR[b], down=2) for b in ("ll", "lh", "hl", "hh")], dim=1)


def haar_idwt(x: torch.Tensor) -> torch.Tensor:
    """Inverse of ``haar_dwt``: [N, 4C, H, W] -> [N, C, 2H, 2W]."""
    bands = x.chunk(SUBBANDS, dim=1)
    out = None
    for band, name in zip(bands, ("ll", "lh", "hl", "hh")):
        y = ops.upfirdn2d(band, _HAAR[name] * _SIGNS[name], up=2, padding=(1, 0, 1, 0))
        out = y if out is None else out + y
    return out


class SwaganSynthesisBlock(SynthesisBlock):
    def upsample_image(self, img: torch.Tensor) -> torch.Tensor:
        return haar_dwt(ops.upsample2d_any(haar_idwt(img), self.resample_filter))


class SwaganSynthesisNetwork(SynthesisNetwork):
    """ws -> image at ``img_resolution``; the blocks run at half of it, in wavelet space."""

    block_class = SwaganSynthesisBlock

    def __init__(self, w_dim: int, img_resolution: int, img_channels: int, **kwargs):
        kwargs["architecture"] = "skip"
        super().__init__(w_dim, img_resolution // 2, img_channels * SUBBANDS, **kwargs)
        self.img_resolution, self.img_channels = img_resolution, img_channels

    def preview_resolutions(self) -> list[int]:
        return [2 * r for r in self.block_resolutions]

    def forward(self, ws, noise_mode="const", noise_generator=None, fused=None, max_resolution=None):
        half = max_resolution // 2 if max_resolution is not None else None
        return haar_idwt(super().forward(ws, noise_mode, noise_generator, fused, max_resolution=half))

    def forward_regions(self, ws, masks, blend, noise_mode="const", noise_seed=None):
        """Regions as StyleGAN2's, in the wavelet domain at half the size (``blend`` in output px)."""
        if blend // 2 not in self.block_resolutions:
            raise ValueError(f"blend at one of {self.preview_resolutions()} px, got {blend}")
        return haar_idwt(super().forward_regions(ws, masks, blend // 2, noise_mode, noise_seed))


class SwaganGenerator(Generator):
    synthesis_class = SwaganSynthesisNetwork
