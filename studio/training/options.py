"""Training options: one dataclass, written to ``RUN/training_options.json``.

The same :class:`TrainingOptions` drives ``studio train``, the worker process
(``python -m studio.training``) and the GUI's Train tab. Everything a run needs is here, so a
run folder can always be resumed from its own ``training_options.json``. When a run cannot start
or go on, the trainer raises :class:`TrainingError` (defined here, where every training module can
reach it) with what to do.

Units:

* ``kimg`` - thousands of real images shown to the discriminator (the papers' unit).
* a *tick* is ``tick_kimg`` kimg: a ``progress`` event, a ``stats.jsonl`` line.
* ``snap`` - a snapshot (network file + preview grid) every ``snap`` ticks, and always at the
  end or on a graceful stop. With the defaults (4 kimg ticks, snap 10) that is every 40 kimg.
* ``metrics`` - at each snapshot, FD-CLIP and KID-CLIP between ``metric_images`` real and
  generated images, on CLIP image features (honestly named: not the Inception FID/KID).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from studio.core.atomic import atomic_write_text
from studio.core.errors import StudioError

OPTIONS_FILE = "training_options.json"
AUG_MODES = ("ada", "noaug", "fixed")

#: Network sizes. ``channel_base`` / ``channel_max`` give ``min(base / res, max)`` feature maps
#: per resolution; ``mapping_layers`` / ``w_dim`` / ``z_dim`` size the mapping network.
#: ``small`` is for quick tests; ``default-abstract`` is the bundled default model's size, chosen so
#: that it trains on a two-core CPU at 128 px (about 16 images/s): its channels sit where a
#: painting's composition is decided (256 at 4 px down to 8 at 128 px), which trains three times
#: faster than 128 channels up to 32 px, and its fp16 weights with the discriminator are 9.7 MB;
#: ``auto`` and ``paper256`` follow the StyleGAN2-ADA paper's configurations and want a GPU. ``dcgan`` is not a StyleGAN2 size but a different network: the DCGAN of
#: the PyTorch tutorial (BCE loss, Adam 2e-4 / beta1 0.5, mirror flips, 64 or 128 px) for quick
#: sketches on tiny datasets.
PRESETS: dict[str, dict[str, Any]] = {
    "small": dict(channel_base=4096, channel_max=128, mapping_layers=2, w_dim=256, z_dim=256),
    "default-abstract": dict(channel_base=1024, channel_max=256, mapping_layers=4, w_dim=256, z_dim=256),
    "auto": dict(channel_base=16384, channel_max=512, mapping_layers=2, w_dim=512, z_dim=512),
    "paper256": dict(channel_base=16384, channel_max=512, mapping_layers=8, w_dim=512, z_dim=512),
    # DCGAN (the PyTorch tutorial): channel_base = ngf = ndf, channel_max = ngf * 8, z of 100; see
    # studio.gan.networks.dcgan. Trained as studio.training.dcgan describes, at 64 or 128 px.
    "dcgan": dict(channel_base=64, channel_max=512, mapping_layers=0, w_dim=100, z_dim=100),
    # StyleGAN3 (studio.training.stylegan3), a quarter of the paper's channels so that 64-256 px trains
    # on a CPU; -R doubles them, as the paper does
    "stylegan3-t": dict(channel_base=8192, channel_max=256, mapping_layers=2, w_dim=256, z_dim=256),
    "stylegan3-r": dict(channel_base=16384, channel_max=512, mapping_layers=2, w_dim=256, z_dim=256),
}
DCGAN_PRESETS = ("dcgan",)   # presets trained as DCGAN (studio.training.dcgan) instead of StyleGAN2-ADA


class TrainingError(StudioError):
    """A run cannot start or go on; the message says why and what to do."""


@dataclass
class TrainingOptions:
    """Everything one training run needs (see the module docstring for units)."""

    data: str = ""                      # prepared dataset folder (``studio prepare``)
    run_dir: str = ""                   # this run's folder (snapshots, stats, previews)
    resume: str | None = None           # 'latest' (newest snapshot in run_dir) or a network file
    kimg: float = 1000.0                # total length of the run, in kimg
    batch: int = 16                     # images per step
    gamma: float | None = None          # R1 weight; None = auto: 0.0002 * res^2 / batch
    aug: str = "ada"                    # 'ada' (adaptive p), 'fixed' (p stays), 'noaug'
    target: float = 0.6                 # ADA target for E[sign(D(real))]; MachineRay 2 used 0.7
    p: float = 0.0                      # initial augmentation probability (GANscapes' fix)
    ada_kimg: float | None = None       # kimg for p to move by 1; None = 500 (100 when resuming)
    ada_interval: int = 4               # steps between p updates
    mirror: bool = False                # random x-flips of the real images
    cond: bool = False                  # conditional training from the dataset's labels
    as_class: int | None = None         # fine-tuning a conditional network on unlabelled images:
                                        # they all count as this class (None = 0)
    tick_kimg: float = 4.0              # kimg per tick (progress event, stats line)
    snap: int = 10                      # snapshot every N ticks (and at the end / on stop)
    res: int | None = None              # training resolution; None = the dataset's
    preset: str = "default-abstract"    # network size, see PRESETS
    lr: float = 0.0025                  # Adam learning rate of G and D
    pl_weight: float = 0.0              # path-length regularisation weight (0 = off; paper: 2)
    style_mix: float = 0.9              # style-mixing regularisation probability
    ema_kimg: float | None = None       # G_ema half-life in kimg; None = batch * 10 / 32
    ema_rampup: float | None = 0.05     # EMA ramp-up (fresh runs only); None = off
    freeze_d: int = 0                   # freeze the first N discriminator blocks (FreezeD)
    blur_sigma: float = 0.0             # blur what D sees by this many pixels at kimg 0 (0 = off) ...
    blur_kimg: float = 100.0            # ... fading linearly to none at this kimg (StyleGAN3)
    clip_d: float = 0.0                 # weight of a second discriminator on the CLIP's features (0 = off)
    mode_seeking: float = 0.0           # weight of MSGAN's mode-seeking term against collapse (0 = off)
    r1_interval: int = 16               # lazy R1: every N steps
    pl_interval: int = 4                # lazy path length: every N steps
    seed: int = 0                       # random seed of the run
    device: str = "auto"                # auto, cpu, cuda, mps
    workers: int = 2                    # data-loading processes (0 = in the training process)
    grid: int = 16                      # images in the preview grid (fixed seeds 0..grid-1)
    # metrics at snapshots: FD-CLIP and KID-CLIP (CLIP features, not Inception FID)
    metrics: bool = True                # compute them at each snapshot (skipped if no CLIP loads)
    metric_images: int = 256           # generated and real images used
    clip: str | None = None             # the CLIP for metrics; None = the user's settings
    clip_config: str | None = None      # that CLIP's architecture; None = the user's settings
    # network size; None = from the preset
    channel_base: int | None = None
    channel_max: int | None = None
    mapping_layers: int | None = None
    w_dim: int | None = None
    z_dim: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # free-form notes kept with the run

    def validate(self) -> None:
        """Raise ValueError with a one-line reason for an impossible setting."""
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f"{f.name} must be a finite number, got {value}")
        if self.aug not in AUG_MODES:
            raise ValueError(f"aug must be one of {', '.join(AUG_MODES)}, got {self.aug!r}")
        if self.preset not in PRESETS:
            raise ValueError(f"unknown preset {self.preset!r}; known: {', '.join(PRESETS)}")
        if self.batch < 1:
            raise ValueError(f"batch must be at least 1, got {self.batch}")
        if not self.kimg > 0:
            raise ValueError(f"kimg must be positive, got {self.kimg:g}")
        if not 0 <= self.p <= 1:
            raise ValueError(f"p must be between 0 and 1, got {self.p:g}")
        if not 0 <= self.target <= 1:
            raise ValueError(f"the ADA target must be between 0 and 1, got {self.target:g}")
        if self.gamma is not None and self.gamma < 0:
            raise ValueError(f"gamma must be >= 0, got {self.gamma:g}")
        if self.res is not None and (self.res < 4 or self.res & (self.res - 1)):
            raise ValueError(f"res must be a power of two >= 4, got {self.res}")
        if self.snap < 1 or not self.tick_kimg > 0:
            raise ValueError("snap must be >= 1 tick and tick_kimg positive")
        if self.freeze_d < 0:
            raise ValueError(f"freeze_d must be >= 0, got {self.freeze_d}")
        if self.blur_sigma < 0 or self.blur_kimg < 0:
            raise ValueError("blur_sigma and blur_kimg must be >= 0")
        if self.clip_d < 0:
            raise ValueError(f"clip_d is a loss weight, 0 or more, got {self.clip_d:g}")
        if self.mode_seeking < 0:
            raise ValueError(f"mode_seeking is a loss weight, 0 or more, got {self.mode_seeking:g}")
        if self.as_class is not None and self.as_class < 0:
            raise ValueError(f"as_class must be a class number (0 or more), got {self.as_class}")
        if self.metric_images < 2:
            raise ValueError(f"metric_images must be at least 2, got {self.metric_images}")
        if not 0 <= self.style_mix <= 1:
            raise ValueError(f"style_mix must be between 0 and 1, got {self.style_mix:g}")

    # -- derived values ------------------------------------------------------------------

    def r1_gamma(self, resolution: int) -> float:
        """The R1 weight: the option, or the paper's heuristic 0.0002 * res^2 / batch."""
        return self.gamma if self.gamma is not None else 0.0002 * resolution ** 2 / self.batch

    def ema_nimg(self) -> float:
        """G_ema half-life in images."""
        kimg = self.ema_kimg if self.ema_kimg is not None else self.batch * 10 / 32
        return kimg * 1000

    def network_size(self) -> dict[str, int]:
        """channel_base, channel_max, mapping_layers, w_dim, z_dim from the preset and overrides."""
        size = dict(PRESETS[self.preset])
        for key in size:
            value = getattr(self, key)
            if value is not None:
                size[key] = int(value)
        return size

    # -- JSON ----------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TrainingOptions":
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown training options: {', '.join(sorted(unknown))}")
        return cls(**d)

    def save(self, path: str | Path | None = None) -> Path:
        """Write the options as JSON (atomically); default ``RUN/training_options.json``."""
        target = Path(path) if path is not None else Path(self.run_dir) / OPTIONS_FILE
        atomic_write_text(target, json.dumps(self.to_dict(), indent=2) + "\n")
        return target

    @classmethod
    def load(cls, path: str | Path) -> "TrainingOptions":
        path = Path(path)
        if path.is_dir():
            path = path / OPTIONS_FILE
        try:
            return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            raise ValueError(f"no training options at {path}") from None
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path} is not valid JSON: {exc}") from None


__all__ = ["TrainingOptions", "TrainingError", "PRESETS", "DCGAN_PRESETS", "AUG_MODES", "OPTIONS_FILE"]
