"""DCGAN (Radford et al. 2016) in the PyTorch-tutorial layout, dressed as a studio generator.

Generator: z [N, z_dim, 1, 1] -> transposed conv 4x4 (stride 1) to 4x4 px -> transposed convs
4x4 stride 2, each doubling the size, with batch norm and ReLU -> a last transposed conv to RGB
and tanh. Discriminator: the mirror image with convs, batch norm (not on the first layer) and
leaky ReLU 0.2, ending in one logit (no sigmoid: trained with ``BCEWithLogits``).

The generator speaks the interface the renderer and the rest of the studio use: ``mapping`` turns
z into "ws" ``[N, 1, z_dim]`` (z itself, one layer; truncation pulls it toward ``w_avg``, which
is zero - the mean of N(0, 1)), and ``synthesis(ws)`` draws the picture. So a DCGAN opens in
Explore, truncation, interpolation and export like any StyleGAN.

Which :class:`GeneratorConfig` fields mean what for ``kind == "dcgan"``:

* ``z_dim`` - length of z (the tutorial's ``nz``, 100); ``w_dim`` is forced to equal it.
* ``img_resolution`` - 64 or 128 (any power of two >= 8 builds; the trainer allows 64 / 128).
* ``img_channels`` - 3.
* ``channel_base`` - the tutorial's ``ngf``: feature maps of the last hidden layer (at half the
  output resolution). Each earlier layer doubles it, up to ``channel_max`` (``ngf * 8``, 512),
  so at 64 px the widths are ngf*8, ngf*4, ngf*2, ngf at 4, 8, 16, 32 px - the tutorial exactly.
* ``channels`` - explicit ``{resolution: feature maps}`` for 4 .. R/2; empty = the rule above.
* ``c_dim`` must be 0; mapping, noise and clamp settings are unused.

:class:`DcganDiscriminatorConfig` uses the same rule with ``channel_base`` = ``ndf``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from studio.gan.latents import truncate
from studio.gan.networks import ops
from studio.gan.networks.stylegan2 import MappedGenerator, StoredConfig

KIND = "dcgan"
INIT_STD = 0.02  # the tutorial's weights_init: N(0, 0.02) convs, N(1, 0.02) batch-norm scales


def dcgan_channels(resolution: int, base: int, cap: int) -> dict[int, int]:
    """Feature maps per hidden resolution 4 .. resolution/2: ``min(base * (R/2) / r, cap)``."""
    if resolution < 8 or 2 ** int(round(math.log2(resolution))) != resolution:
        raise ValueError(f"a DCGAN's resolution must be a power of two >= 8, got {resolution}")
    out, r = {}, 4
    while r < resolution:
        out[r] = max(1, min(base * (resolution // 2) // r, cap))
        r *= 2
    return out


def _init_weights(module: nn.Module) -> None:
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, INIT_STD)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, INIT_STD)
            nn.init.zeros_(m.bias)


class DcganMapping(nn.Module):
    """z -> ws [N, 1, z_dim] (the identity), with truncation toward ``w_avg`` (zeros)."""

    def __init__(self, z_dim: int):
        super().__init__()
        self.z_dim = self.w_dim = z_dim
        self.c_dim, self.num_ws = 0, 1
        self.register_buffer("w_avg", torch.zeros([z_dim]))

    def forward(self, z, c=None, truncation_psi: float = 1.0, truncation_cutoff: int | None = None,
                update_w_avg: bool = False) -> torch.Tensor:
        if z.ndim != 2 or z.shape[1] != self.z_dim:
            raise ValueError(f"z must be [N, {self.z_dim}], got {list(z.shape)}")
        ws = z.to(torch.float32).unsqueeze(1)
        if truncation_psi != 1:
            ws = truncate(ws, self.w_avg, truncation_psi, truncation_cutoff)
        return ws


class DcganSynthesis(nn.Module):
    """ws [N, 1, z_dim] -> images [N, C, R, R] in [-1, 1]. Noise arguments are accepted and ignored."""

    def __init__(self, z_dim: int, img_resolution: int, img_channels: int, channels: dict[int, int]):
        super().__init__()
        self.w_dim, self.num_ws = z_dim, 1
        self.img_resolution, self.img_channels = img_resolution, img_channels
        self.channels = {int(k): int(v) for k, v in channels.items()}
        layers: list[nn.Module] = [nn.ConvTranspose2d(z_dim, self.channels[4], 4, 1, 0, bias=False),
                                   nn.BatchNorm2d(self.channels[4]), nn.ReLU(True)]
        r = 8
        while r < img_resolution:
            layers += [nn.ConvTranspose2d(self.channels[r // 2], self.channels[r], 4, 2, 1, bias=False),
                       nn.BatchNorm2d(self.channels[r]), nn.ReLU(True)]
            r *= 2
        layers += [nn.ConvTranspose2d(self.channels[img_resolution // 2], img_channels, 4, 2, 1, bias=False),
                   nn.Tanh()]
        self.main = nn.Sequential(*layers)

    def preview_resolutions(self) -> list[int]:
        return [self.img_resolution]

    def forward(self, ws: torch.Tensor, noise_mode: str = "const", noise_generator=None, fused=None,
                max_resolution: int | None = None) -> torch.Tensor:
        ops.assert_shape(ws, [None, self.num_ws, self.w_dim], "ws")
        x = ws[:, 0].to(torch.float32).reshape(ws.shape[0], self.w_dim, 1, 1)
        return self.main(x)


class DcganGenerator(MappedGenerator):
    """The DCGAN generator with the studio's generator interface (see the module docstring)."""

    def __init__(self, config):
        super().__init__()
        if config.kind != KIND:
            raise ValueError(f"DcganGenerator needs a config of kind 'dcgan', got {config.kind!r}")
        if config.c_dim:
            raise ValueError("a DCGAN generator is unconditional (c_dim must be 0)")
        if config.w_dim != config.z_dim:
            raise ValueError(f"a DCGAN's w_dim must equal z_dim ({config.z_dim}), got {config.w_dim}")
        self.config = config
        self.z_dim = self.w_dim = config.z_dim
        self.c_dim, self.num_ws = 0, 1
        self.img_resolution, self.img_channels = config.img_resolution, config.img_channels
        channels = config.channels or dcgan_channels(config.img_resolution, config.channel_base, config.channel_max)
        self.mapping = DcganMapping(config.z_dim)
        self.synthesis = DcganSynthesis(config.z_dim, config.img_resolution, config.img_channels, channels)
        _init_weights(self)


@dataclass
class DcganDiscriminatorConfig(StoredConfig):
    """``channel_base`` is ``ndf`` (feature maps of the first conv), doubling per layer up to ``channel_max``."""

    img_resolution: int = 64
    img_channels: int = 3
    channel_base: int = 64
    channel_max: int = 512
    channels: dict[int, int] = field(default_factory=dict)  # {resolution: feature maps}, empty = the rule
    c_dim: int = 0
    kind: str = KIND

    role = "DCGAN discriminator"

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "DcganDiscriminatorConfig":
        config = super().from_dict(d)
        if config.kind != KIND:
            raise ValueError(f"not a DCGAN discriminator config: kind {config.kind!r}")
        return config


class DcganDiscriminator(nn.Module):
    """image -> realness logit [N, 1] (no sigmoid). Blocks ``b{res}`` read ``res`` px features."""

    def __init__(self, config: DcganDiscriminatorConfig):
        super().__init__()
        if config.c_dim:
            raise ValueError("a DCGAN discriminator is unconditional (c_dim must be 0)")
        self.config = config
        self.c_dim, self.img_resolution, self.img_channels = 0, config.img_resolution, config.img_channels
        R = config.img_resolution
        # out[r] = feature maps of the conv that outputs r px; ndf at R/2, doubling toward 4 px
        out = config.channels or dcgan_channels(R, config.channel_base, config.channel_max)
        out = {int(k): int(v) for k, v in out.items()}
        self.block_resolutions = []
        r = R
        while r > 4:
            in_ch = config.img_channels if r == R else out[r]
            layers: list[nn.Module] = [nn.Conv2d(in_ch, out[r // 2], 4, 2, 1, bias=False)]
            if r != R:
                layers.append(nn.BatchNorm2d(out[r // 2]))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            setattr(self, f"b{r}", nn.Sequential(*layers))
            self.block_resolutions.append(r)
            r //= 2
        self.b4 = nn.Conv2d(out[4], 1, 4, 1, 0, bias=False)
        _init_weights(self)

    def forward(self, img: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        ops.assert_shape(img, [None, self.img_channels, self.img_resolution, self.img_resolution], "the image")
        x = img.to(torch.float32)
        for r in self.block_resolutions:
            x = getattr(self, f"b{r}")(x)
        return self.b4(x).reshape(img.shape[0], 1)


__all__ = ["DcganGenerator", "DcganDiscriminator", "DcganDiscriminatorConfig", "DcganMapping", "DcganSynthesis",
           "dcgan_channels", "KIND"]
