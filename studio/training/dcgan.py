"""DCGAN training (the PyTorch tutorial's recipe) on the studio's training loop.

:class:`DcganTrainer` is a :class:`~studio.training.loop.Trainer` whose networks are
:mod:`studio.gan.networks.dcgan`'s and whose step is the tutorial's: binary cross-entropy on
logits (D: real = 1, fake = 0; G: non-saturating, fake labelled real), Adam with lr 2e-4 and
betas (0.5, 0.999), random horizontal flips of the reals, 64 or 128 px. No R1, path length,
augmentation, style mixing or EMA: ``G_ema`` (what a snapshot renders) is a plain copy of ``G``,
batch-norm running statistics included, after every step. Snapshots, resume, events, stats and
preview grids are the StyleGAN2 trainer's, unchanged.

``Trainer(options)`` with ``options.preset == "dcgan"`` builds this class (``studio train
--preset dcgan``); the options it forces are written to the run's ``training_options.json``.
"""

from __future__ import annotations

import copy
from dataclasses import fields, replace
from pathlib import Path

import torch
import torch.nn.functional as F

from studio.gan.networks import GeneratorConfig, make_generator
from studio.gan.networks.dcgan import DcganDiscriminator, DcganDiscriminatorConfig
from studio.training.loop import Trainer, TrainingError
from studio.training.options import TrainingOptions

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


class DcganTrainer(Trainer):
    """One DCGAN training run; see the module docstring."""

    generator_kinds = ("dcgan",)

    def __init__(self, options: TrainingOptions, *, event_fn=None):
        if options.cond:
            raise TrainingError("the DCGAN preset is unconditional: drop --cond")
        super().__init__(dcgan_options(options), event_fn=event_fn)

    # -- setup -----------------------------------------------------------------------------

    def _check_batch(self) -> None:
        self.mbstd_group = None   # no minibatch-stddev layer: any batch size works

    def _open_data(self) -> None:
        super()._open_data()
        if self.resolution not in RESOLUTIONS:
            raise TrainingError(
                f"DCGAN trains at 64 or 128 px, but the images are {self.resolution} px: pass --res 64 (or 128), "
                f"or prepare the dataset at that size (`studio prepare --res 64`)")

    def _sizes(self) -> dict[str, int]:
        return self.options.network_size()

    def _new_discriminator(self) -> DcganDiscriminator:
        size = self._sizes()
        return DcganDiscriminator(DcganDiscriminatorConfig(
            img_resolution=self.resolution, channel_base=size["channel_base"], channel_max=size["channel_max"]))

    def _fresh(self) -> None:
        size = self._sizes()
        g_cfg = GeneratorConfig(
            kind="dcgan", z_dim=size["z_dim"], w_dim=size["z_dim"], c_dim=0, img_resolution=self.resolution,
            img_channels=3, mapping_layers=0, channel_base=size["channel_base"], channel_max=size["channel_max"],
            use_noise=False,
        )
        self.G = make_generator(g_cfg).to(self.device)
        self.D = self._new_discriminator().to(self.device)
        self.G_ema = copy.deepcopy(self.G).eval()
        self.ema_rampup = None

    def _adopt_discriminator(self, D, path: Path):
        if D is not None and getattr(D.config, "kind", None) == "dcgan":
            return copy.deepcopy(D).train().requires_grad_(True)
        self.log(f"'{path.name}' carries no DCGAN discriminator; training a new one from scratch", "warning")
        return self._new_discriminator()

    def _make_optimizers(self) -> None:
        super()._make_optimizers()   # train / eval modes, FreezeD, d_trainable
        self.g_reg_interval = self.d_reg_interval = None
        lr = self.options.lr
        self.opt_G = torch.optim.Adam(self.G.parameters(), lr=lr, betas=BETAS)
        self.opt_D = torch.optim.Adam(self.D.parameters(), lr=lr, betas=BETAS)

    def _make_augment(self, p: float, *, resuming: bool) -> None:
        self.pipe = self.controller = None

    def _describe(self) -> str:
        opts = self.options
        g_params = sum(p.numel() for p in self.G.parameters())
        d_params = sum(p.numel() for p in self.D.parameters())
        return (f"DCGAN {self.resolution}x{self.resolution} px, {len(self.dataset)} images; "
                f"G {g_params:,} / D {d_params:,} parameters; batch {opts.batch}, BCE, Adam lr {opts.lr:g} "
                f"betas {BETAS}, mirror flips, device {self.device}"
                f"{f' x {self.world} processes' if self.world > 1 else ''}")

    # -- one step --------------------------------------------------------------------------

    def step(self) -> None:
        """One minibatch, as the tutorial: D on reals (1) and fakes (0), then G (fakes as 1)."""
        real, _ = self._next_reals()
        n = real.shape[0]
        ones = torch.ones([n, 1], device=self.device)
        zeros = torch.zeros([n, 1], device=self.device)

        self._set_grad(True, True)
        fake = self.G(torch.randn([n, self.G.z_dim], device=self.device), None)

        # D: maximise log D(x) + log(1 - D(G(z))).
        self.opt_D.zero_grad(set_to_none=True)
        real_logits = self.D(real)
        loss_Dreal = F.binary_cross_entropy_with_logits(real_logits, ones)
        fake_logits = self.D(fake.detach())
        loss_Dfake = F.binary_cross_entropy_with_logits(fake_logits, zeros)
        (loss_Dreal + loss_Dfake).backward()
        self._reduce_grads(self.d_trainable)
        self.opt_D.step()

        # G: maximise log D(G(z)) (the non-saturating loss), through the updated D.
        self._set_grad(True, False)
        self.opt_G.zero_grad(set_to_none=True)
        gen_logits = self.D(fake)
        loss_G = F.binary_cross_entropy_with_logits(gen_logits, ones)
        loss_G.backward()
        self._reduce_grads(self.G.parameters())
        self.opt_G.step()
        self._set_grad(True, True)

        self._record(loss_G=loss_G.detach(), loss_D=(loss_Dreal + loss_Dfake).detach(),
                     loss_D_real=loss_Dreal.detach(), loss_D_fake=loss_Dfake.detach(),
                     D_real=real_logits.detach().mean(), D_fake=fake_logits.detach().mean())
        self.nimg += n * self.world
        self.step_count += 1
        self._update_ema()

    def _update_ema(self) -> None:
        """No EMA: G_ema becomes a copy of G (weights and batch-norm statistics)."""
        with torch.no_grad():
            if self.world > 1:   # batch-norm statistics differ per process: average them
                for module in (self.G, self.D):
                    for b in module.buffers():
                        if b.is_floating_point():
                            torch.distributed.all_reduce(b)
                            b /= self.world
            for p_ema, p in zip(self.G_ema.parameters(), self.G.parameters()):
                p_ema.copy_(p.detach())
            for b_ema, b in zip(self.G_ema.buffers(), self.G.buffers()):
                b_ema.copy_(b)


__all__ = ["DcganTrainer", "dcgan_options", "RESOLUTIONS", "LR", "BETAS"]
