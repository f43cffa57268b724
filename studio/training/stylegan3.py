"""The StyleGAN3 family: the StyleGAN2-ADA trainer with the StyleGAN3 generator (-T or -R).

What changes from :class:`~studio.training.stylegan2.StyleGAN2Family`, as the StyleGAN3 paper's
configurations set it: a 2-layer mapping network; no style-mixing regularisation and no path
length penalty; the discriminator without residual connections ('orig'); every image the
discriminator sees blurred by 10 px at the start, the blur fading to none over
``batch * 200 / 32`` kimg (unless the run sets its own ``blur_sigma``); the tracked input
magnitudes of the synthesis layers follow a half-life of 20 kimg; -R networks use 1x1
convolutions, radial filters and twice the channels. R1's gamma is the run's, as for StyleGAN2
(the heuristic 0.0002 * res^2 / batch unless given).

It trains fresh networks (``--preset stylegan3-t`` / ``stylegan3-r``) and continues any
StyleGAN3 network (NVIDIA pickles, studio files), with exact resume.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable

import torch

from studio.gan.networks import Discriminator, DiscriminatorConfig
from studio.gan.networks.stylegan3 import Stylegan3Config, Stylegan3Generator
from studio.training.options import TrainingOptions
from studio.training.stylegan2 import StyleGAN2Family

#: presets that train a fresh StyleGAN3 (their sizes are in studio.training.options.PRESETS)
STYLEGAN3_PRESETS = {"stylegan3-t": "t", "stylegan3-r": "r"}
BLUR_SIGMA = 10.0             # px of blur on D's images at the start ...
BLUR_FADE_IMAGES_PER_BATCH = 200 / 32  # ... gone after batch * 200 / 32 kimg


def magnitude_ema_beta(batch: int) -> float:
    """Decay of the synthesis layers' tracked input magnitude per step: a half-life of 20 kimg."""
    return 0.5 ** (batch / 20_000)


class Stylegan3Family(StyleGAN2Family):
    """StyleGAN3; see the module docstring."""

    name = "StyleGAN3"
    summary_prefix = "StyleGAN3 "
    generator_kinds = ("stylegan3",)

    def options(self, options: TrainingOptions) -> TrainingOptions:
        changes = dict(style_mix=0.0, pl_weight=0.0)
        if not options.blur_sigma:
            changes.update(blur_sigma=BLUR_SIGMA, blur_kimg=options.batch * BLUR_FADE_IMAGES_PER_BATCH)
        return dataclasses.replace(options, **changes)

    def new_networks(self, options: TrainingOptions, resolution: int, c_dim: int,
                     mbstd_group: int | None) -> tuple[torch.nn.Module, torch.nn.Module]:
        size = options.network_size()
        rotation = STYLEGAN3_PRESETS.get(options.preset) == "r"
        G = Stylegan3Generator(Stylegan3Config(
            z_dim=size["z_dim"], c_dim=c_dim, w_dim=size["w_dim"], img_resolution=resolution,
            mapping_layers=size["mapping_layers"], channel_base=size["channel_base"], channel_max=size["channel_max"],
            conv_kernel=1 if rotation else 3, use_radial_filters=rotation,
            magnitude_ema_beta=magnitude_ema_beta(options.batch),
        ))
        return G, self._discriminator(options, resolution, c_dim, mbstd_group)

    def adopt_discriminator(self, D, G, path: Path, *, options: TrainingOptions, c_dim: int, resolution: int,
                            mbstd_group: int | None, batch_gpu: int,
                            log: Callable[[str, str], None]) -> torch.nn.Module:
        if D is None:
            log(f"'{path.name}' carries no discriminator; training a new one from scratch", "warning")
            return self._discriminator(options, resolution, c_dim, mbstd_group)
        return super().adopt_discriminator(D, G, path, options=options, c_dim=c_dim, resolution=resolution,
                                           mbstd_group=mbstd_group, batch_gpu=batch_gpu, log=log)

    @staticmethod
    def _discriminator(options: TrainingOptions, resolution: int, c_dim: int, mbstd_group: int | None):
        size = options.network_size()
        return Discriminator(DiscriminatorConfig(
            c_dim=c_dim, img_resolution=resolution, architecture="orig", channel_base=size["channel_base"],
            channel_max=size["channel_max"], mbstd_group_size=mbstd_group,
        ))

    def recipe(self, options: TrainingOptions, gamma: float) -> str:
        return (f"gamma {gamma:.4g}, aug {options.aug}, D blur {options.blur_sigma:g} px fading over "
                f"{options.blur_kimg:g} kimg")


def resume_kind(options: TrainingOptions) -> str | None:
    """The generator kind of the network a run starts from or resumes (None for a fresh run), read
    without building it where the file says (studio files); a pickle is read once here."""
    from studio.gan.formats import detect_format, resolve_network_path
    from studio.training.runs import find_latest_snapshot

    if not options.resume:
        return None
    if options.resume == "latest":
        path = find_latest_snapshot(Path(options.run_dir).expanduser())
        if path is None:
            return None
    else:
        path = resolve_network_path(options.resume)
    try:
        fmt = detect_format(path)
    except Exception:
        return None                       # the trainer's own loading says what is wrong with it
    if fmt == "native":
        from safetensors import safe_open

        try:
            with safe_open(str(path), framework="pt") as f:
                return (f.metadata() or {}).get("kind")
        except Exception:
            return None
    if fmt == "nvidia-pkl":
        from studio.gan.formats.nvidia import is_stylegan3
        from studio.gan.formats.nvidia_pickle import PersistentModule, read_nvidia_pickle

        try:
            record = read_nvidia_pickle(path).get("G_ema")
        except Exception:
            return None
        return "stylegan3" if isinstance(record, PersistentModule) and is_stylegan3(record.state_dict()) else None
    return None


__all__ = ["Stylegan3Family", "STYLEGAN3_PRESETS", "resume_kind", "magnitude_ema_beta"]
