"""The DCGAN family as the trainer trains it: the PyTorch tutorial's recipe on the studio's trainer.

``--preset dcgan`` makes :class:`~studio.training.trainer.Trainer` ask :class:`DcganFamily`
instead of :class:`~studio.training.stylegan2.StyleGAN2Family` for its networks
(:mod:`studio.gan.networks.dcgan`, 64 or 128 px), optimisers (Adam with lr 2e-4 and betas
(0.5, 0.999)) and loss (:class:`~studio.training.losses.DcganLoss`: binary cross-entropy on logits,
D first, then G). :func:`dcgan_options` turns off what only StyleGAN2 has - R1, path length,
augmentation, style mixing, discriminator blur, the CLIP discriminator, mode seeking - and turns
on random horizontal flips of the reals; the options it forces are written to the run's
``training_options.json``. There is no EMA: ``G_ema`` (what a snapshot renders) is a plain copy
of ``G``, batch-norm running statistics included, after every step. Snapshots, resume, events,
stats and preview grids are the trainer's, the same for both families.
"""

from __future__ import annotations

import copy
from dataclasses import fields, replace
from pathlib import Path
from typing import Callable

import torch

from studio.gan.networks import GeneratorConfig, make_generator
from studio.gan.networks.dcgan import DcganDiscriminator, DcganDiscriminatorConfig
from studio.training import distributed
from studio.training.losses import DcganLoss
from studio.training.options import TrainingError, TrainingOptions

RESOLUTIONS = (64, 128)
LR = 2e-4
BETAS = (0.5, 0.999)
_DEFAULT_LR = next(f.default for f in fields(TrainingOptions) if f.name == "lr")


def dcgan_options(options: TrainingOptions) -> TrainingOptions:
    """The options as a DCGAN run uses them: the tutorial's lr unless one was chosen, mirror flips
    on, and the StyleGAN2-only regularisers, augmentation, style mixing, discriminator blur, CLIP
    discriminator and mode-seeking term off."""
    changes = dict(mirror=True, aug="noaug", p=0.0, gamma=0.0, pl_weight=0.0, style_mix=0.0, blur_sigma=0.0,
                   clip_d=0.0, mode_seeking=0.0, preset="dcgan")
    if options.lr == _DEFAULT_LR:
        changes["lr"] = LR
    return replace(options, **changes)


class DcganFamily:
    """DCGAN; see the module docstring (the methods are those of
    :class:`~studio.training.stylegan2.StyleGAN2Family`)."""

    name = "DCGAN"
    summary_prefix = "DCGAN "
    generator_kinds = ("dcgan",)

    def options(self, options: TrainingOptions) -> TrainingOptions:
        if options.cond:
            raise TrainingError("the DCGAN preset is unconditional: drop --cond")
        return dcgan_options(options)

    def mbstd_group(self, batch_gpu: int) -> None:
        return None   # no minibatch-stddev layer: any batch size works

    def check_resolution(self, resolution: int) -> None:
        if resolution not in RESOLUTIONS:
            raise TrainingError(
                f"DCGAN trains at 64 or 128 px, but the images are {resolution} px: pass --res 64 (or 128), "
                f"or prepare the dataset at that size (`studio prepare --res 64`)")

    @staticmethod
    def _new_discriminator(options: TrainingOptions, resolution: int) -> DcganDiscriminator:
        size = options.network_size()
        return DcganDiscriminator(DcganDiscriminatorConfig(
            img_resolution=resolution, channel_base=size["channel_base"], channel_max=size["channel_max"]))

    def new_networks(self, options: TrainingOptions, resolution: int, c_dim: int,
                     mbstd_group: int | None) -> tuple[torch.nn.Module, torch.nn.Module]:
        size = options.network_size()
        G = make_generator(GeneratorConfig(
            kind="dcgan", z_dim=size["z_dim"], w_dim=size["z_dim"], c_dim=0, img_resolution=resolution,
            img_channels=3, mapping_layers=0, channel_base=size["channel_base"], channel_max=size["channel_max"],
            use_noise=False,
        ))
        return G, self._new_discriminator(options, resolution)

    def fresh_ema_rampup(self, options: TrainingOptions) -> None:
        return None

    def adopt_discriminator(self, D, G, path: Path, *, options: TrainingOptions, c_dim: int, resolution: int,
                            mbstd_group: int | None, batch_gpu: int,
                            log: Callable[[str, str], None]) -> torch.nn.Module:
        if D is not None and getattr(D.config, "kind", None) == "dcgan":
            return copy.deepcopy(D).train().requires_grad_(True)
        log(f"'{path.name}' carries no DCGAN discriminator; training a new one from scratch", "warning")
        return self._new_discriminator(options, resolution)

    def optimizer(self, module: torch.nn.Module, lr: float, interval: int | None = None) -> torch.optim.Adam:
        return torch.optim.Adam(module.parameters(), lr=lr, betas=BETAS)

    def update_ema(self, G, G_ema, D, *, options: TrainingOptions, nimg: int, ema_rampup: float | None) -> None:
        """No EMA: G_ema becomes a copy of G (weights and batch-norm statistics)."""
        with torch.no_grad():
            for module in (G, D):   # batch-norm statistics differ per process: average them
                for b in module.buffers():
                    if b.is_floating_point():
                        distributed.average_(b)
            for p_ema, p in zip(G_ema.parameters(), G.parameters()):
                p_ema.copy_(p.detach())
            for b_ema, b in zip(G_ema.buffers(), G.buffers()):
                b_ema.copy_(b)

    def make_loss(self, G, D, *, options: TrainingOptions, device: torch.device, augment_pipe, ada,
                  gamma: float, r1_interval: int | None, pl_interval: int | None, clip_d) -> DcganLoss:
        return DcganLoss(G, D, device=device)   # (no augmentation, regularisers or CLIP discriminator)

    def recipe(self, options: TrainingOptions, gamma: float) -> str:
        return f"BCE, Adam lr {options.lr:g} betas {BETAS}, mirror flips"


__all__ = ["DcganFamily", "dcgan_options", "RESOLUTIONS", "LR", "BETAS"]
