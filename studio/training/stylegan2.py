"""The StyleGAN2 family as the trainer trains it: networks, Adam, EMA, and the loss that goes with them.

:class:`~studio.training.trainer.Trainer` is the same for every family; what differs is asked of
a *family* object. This one (the default, for every preset but ``dcgan``; DCGAN's is in
:mod:`studio.training.dcgan`) builds fresh StyleGAN2 networks (:mod:`studio.gan.networks`: a
``skip`` generator, a ``resnet`` discriminator whose minibatch-std groups hold 4 images), adopts
the discriminator of a network a run starts from, makes StyleGAN2's Adam (beta1 = 0, corrected
for lazy regularisation), keeps ``G_ema`` as a moving average of G, and trains with
:class:`~studio.training.losses.StyleGAN2Loss`.

It continues ``stylegan2`` and ``swagan`` networks (studio files, NVIDIA pickles, ...).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Callable

import torch

from studio.gan.networks import Discriminator, DiscriminatorConfig, GeneratorConfig, make_generator
from studio.training import distributed
from studio.training.losses import ModeSeeking, StyleGAN2Loss
from studio.training.options import TrainingError, TrainingOptions

MBSTD_GROUP = 4   # images per minibatch-std group of a fresh discriminator


class StyleGAN2Family:
    """StyleGAN2-ADA; see the module docstring."""

    name = "StyleGAN2"
    summary_prefix = ""   # the summary line of a run says what it trains only when it is not StyleGAN2
    generator_kinds = ("stylegan2", "swagan")

    def options(self, options: TrainingOptions) -> TrainingOptions:
        return options

    def mbstd_group(self, batch_gpu: int) -> int:
        group = min(MBSTD_GROUP, batch_gpu)
        if batch_gpu % group:
            raise TrainingError(f"batch per device ({batch_gpu}) must be a multiple of 4 (the discriminator "
                                "compares images in groups of 4); try --batch 4, 8, 16 or 32")
        return group

    def check_resolution(self, resolution: int) -> None:
        pass   # any power of two

    def new_networks(self, options: TrainingOptions, resolution: int, c_dim: int,
                     mbstd_group: int | None) -> tuple[torch.nn.Module, torch.nn.Module]:
        size = options.network_size()
        G = make_generator(GeneratorConfig(
            z_dim=size["z_dim"], c_dim=c_dim, w_dim=size["w_dim"], img_resolution=resolution,
            mapping_layers=size["mapping_layers"], channel_base=size["channel_base"],
            channel_max=size["channel_max"], architecture="skip",
        ))
        D = Discriminator(DiscriminatorConfig(
            c_dim=c_dim, img_resolution=resolution, architecture="resnet",
            channel_base=size["channel_base"], channel_max=size["channel_max"], mbstd_group_size=mbstd_group,
        ))
        return G, D

    def fresh_ema_rampup(self, options: TrainingOptions) -> float | None:
        return options.ema_rampup

    def adopt_discriminator(self, D, G, path: Path, *, options: TrainingOptions, c_dim: int, resolution: int,
                            mbstd_group: int | None, batch_gpu: int,
                            log: Callable[[str, str], None]) -> torch.nn.Module:
        """The discriminator a transfer starts from: the file's own, or a new one sized like G."""
        if D is None:
            log(f"'{path.name}' carries no discriminator; training a new one from scratch", "warning")
            ch = {int(k): int(v) for k, v in G.synthesis.channels.items()}
            return Discriminator(DiscriminatorConfig(c_dim=c_dim, img_resolution=resolution,
                                                     channels=ch, mbstd_group_size=mbstd_group))
        if D.config.mbstd_group_size is not None and batch_gpu % min(D.config.mbstd_group_size, batch_gpu):
            raise TrainingError(f"the discriminator in '{path.name}' compares images in groups of "
                                f"{D.config.mbstd_group_size}: use a batch that is a multiple of it")
        return copy.deepcopy(D).train().requires_grad_(True)

    def optimizer(self, module: torch.nn.Module, lr: float, interval: int | None = None) -> torch.optim.Adam:
        """StyleGAN2's Adam (beta1 0, beta2 0.99); for a network regularised lazily every ``interval``
        steps, lr and betas are corrected by ``ratio = interval / (interval + 1)``."""
        ratio = interval / (interval + 1) if interval else 1.0
        return torch.optim.Adam(module.parameters(), lr=lr * ratio, betas=(0.0, 0.99 ** ratio), eps=1e-8)

    def update_ema(self, G, G_ema, D, *, options: TrainingOptions, nimg: int, ema_rampup: float | None) -> None:
        """G_ema moves towards G with a half-life of ``ema_kimg`` (shorter early on with a ramp-up)."""
        ema_nimg = options.ema_nimg()
        if ema_rampup:
            ema_nimg = min(ema_nimg, nimg * ema_rampup)
        beta = 0.5 ** (options.batch / max(ema_nimg, 1e-8))
        with torch.no_grad():
            distributed.average_(G.mapping.w_avg)
            for p_ema, p in zip(G_ema.parameters(), G.parameters()):
                p_ema.copy_(p.detach().lerp(p_ema, beta))
            for b_ema, b in zip(G_ema.buffers(), G.buffers()):
                b_ema.copy_(b)

    def make_loss(self, G, D, *, options: TrainingOptions, device: torch.device, augment_pipe, ada,
                  gamma: float, r1_interval: int | None, pl_interval: int | None, clip_d) -> StyleGAN2Loss:
        return StyleGAN2Loss(
            G, D, device=device, augment_pipe=augment_pipe, ada=ada, style_mix=options.style_mix,
            gamma=gamma, r1_interval=r1_interval, pl_weight=options.pl_weight, pl_interval=pl_interval,
            blur_sigma=options.blur_sigma, blur_kimg=options.blur_kimg,
            mode_seeking=ModeSeeking(options.mode_seeking) if options.mode_seeking > 0 else None,
            clip_d=clip_d, clip_d_weight=options.clip_d,
        )

    def recipe(self, options: TrainingOptions, gamma: float) -> str:
        """How it trains, for the summary line of a run."""
        return f"gamma {gamma:.4g}, aug {options.aug}"


__all__ = ["StyleGAN2Family", "MBSTD_GROUP"]
