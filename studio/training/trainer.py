"""The trainer: one training run from setup to the last snapshot, and its front door :func:`train`.

A run is a :class:`Trainer` driven by :func:`train`. The trainer does what every GAN here needs,
whatever its objective: it opens the dataset (class-balanced minibatches for conditional runs),
starts fresh, continues a run exactly from a snapshot, or fine-tunes any loadable network
(transfer learning); it keeps G, D, ``G_ema`` and their optimisers, the ADA pipe, the counters,
``stats.jsonl``, snapshots with preview grids, and FD-CLIP / KID-CLIP at snapshots; and under
``torchrun`` it keeps the processes in step (:mod:`studio.training.distributed`).

What differs between kinds of GAN comes from two objects chosen from the options:

* the *family* - :class:`~studio.training.stylegan2.StyleGAN2Family`, or
  :class:`~studio.training.dcgan.DcganFamily` for ``--preset dcgan``: which networks, which Adam,
  EMA or a plain copy, which options are forced (see :class:`NetworkFamily`);
* the *loss* the family makes - :class:`~studio.training.losses.StyleGAN2Loss` or
  :class:`~studio.training.losses.DcganLoss`. :meth:`Trainer.step` walks the loss's phases
  (``Gmain``, ``Greg``, ``Dmain``, ...), stepping one optimiser after each.

Against a conditional generator that draws one picture per class, conditional batches are laid
out so that each of D's minibatch-std groups holds one class (:class:`_ClassGroupSampler`).

The same code runs for ``studio train`` (in process, with a progress bar), the worker process
the GUI starts (``python -m studio.training``), and - one process per device - under
``torchrun`` (gradients all-reduced by hand; rank 0 writes files and events).

Events (``event_fn(dict)``), each a JSON-safe dict with an ``"event"`` key:

* ``log``:      ``level`` ('info' | 'warning'), ``message``
* ``progress``: ``kimg``, ``total_kimg``, ``nimg``, ``step``, ``tick``, ``fraction``,
  ``images_per_s``, ``sec_per_kimg``, ``eta_s``, ``loss_G``, ``loss_D``, ``loss_r1``,
  ``loss_pl``, ``p``, ``rt``, ``tick_end`` (True at the end of a tick, else a between-tick update)
* ``preview``:  ``path``, ``kimg`` - a first preview grid a minute into the run (when ``grid`` > 0),
  long before the first snapshot
* ``snapshot``: ``path``, ``kimg``, ``nimg``, ``preview``, ``augment_preview`` (path or None),
  ``fingerprint``
* ``metric``:   ``kimg``, ``fd_clip``, ``kid_clip``, ``kid_clip_std`` - after a snapshot when
  ``options.metrics`` is on (also a line in ``RUN/metrics.jsonl``). Fréchet distance and kernel
  distance on CLIP image features of ``metric_images`` real and generated images: honestly named,
  these are *not* the Inception FID/KID of the papers. If the CLIP cannot be loaded, one
  ``log`` warning ("metrics skipped: ...") and no metrics for the rest of the run.
* ``done``:     ``reason`` ('finished' | 'stopped'), ``kimg``, ``nimg``, ``snapshot``, ``run_dir``;
  under torchrun also ``processes`` and ``ranks_in_sync`` (bool)

(``error`` is emitted by the worker when :func:`train` raises.)
"""

from __future__ import annotations

import copy
import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Protocol

import numpy as np
import torch
import torch.nn.functional as F

from studio.core.atomic import remove_stale_temps
from studio.data.dataset import open_dataset
from studio.gan.networks import Discriminator, Generator, generator_config_from_dict, make_discriminator, make_generator
from studio.imaging import sheets
from studio.imaging.metadata import save_png
from studio.training import distributed
from studio.training.augment import AdaController, AugmentPipe, augmentation_preview, gaussian_blur
from studio.training.dcgan import DcganFamily
from studio.training.losses import Loss, Minibatch
from studio.training.options import DCGAN_PRESETS, OPTIONS_FILE, TrainingError, TrainingOptions
from studio.training.runs import (METRICS_FILE, REQUESTED_OPTIONS_FILE, STATS_FILE, STOP_FILE, find_latest_snapshot,
                                  snapshot_name)
from studio.training.snapshots import (
    is_training_snapshot,
    join_state,
    load_optimizer_tensors,
    optimizer_tensors,
    split_state,
)
from studio.training.stylegan2 import StyleGAN2Family

EARLY_PREVIEW_S = 60.0      # a first preview grid this long after a run starts, before any snapshot
METRIC_SEED = 1234          # generated images for metrics: fixed latents from this seed
METRIC_BATCH = 32           # images rendered per G_ema call for metrics
PROGRESS_INTERVAL_S = 2.0   # between-tick progress events at most this often
NETWORKS = ("G", "D", "Dclip")   # what a loss phase names: the networks whose optimisers step

EventFn = Callable[[dict], None]
ProgressFn = Callable[[float, float], None]   # (kimg done, total kimg)
AbortFn = Callable[[], bool]


@dataclass
class TrainingResult:
    """What :func:`train` hands back."""

    run_dir: Path
    nimg: int
    reason: str                 # 'finished' | 'stopped'
    snapshot: Path | None

    @property
    def kimg(self) -> float:
        return self.nimg / 1000


class NetworkFamily(Protocol):
    """What the trainer asks of a family of networks (implemented by
    :class:`~studio.training.stylegan2.StyleGAN2Family` and :class:`~studio.training.dcgan.DcganFamily`)."""

    name: str
    summary_prefix: str                # starts the summary line of a run ('' or 'DCGAN ')
    generator_kinds: tuple[str, ...]   # generator kinds it continues (other networks are refused)

    def options(self, options: TrainingOptions) -> TrainingOptions:
        """The options as this family trains with them; raises TrainingError for impossible ones."""

    def mbstd_group(self, batch_gpu: int) -> int | None:
        """Images per minibatch-std group of D (None: D has none); raises for an unfit batch."""

    def check_resolution(self, resolution: int) -> None:
        """Raise TrainingError when the family cannot train at this (power-of-two) resolution."""

    def new_networks(self, options: TrainingOptions, resolution: int, c_dim: int,
                     mbstd_group: int | None) -> tuple[torch.nn.Module, torch.nn.Module]:
        """Fresh (G, D)."""

    def fresh_ema_rampup(self, options: TrainingOptions) -> float | None:
        """The EMA ramp-up of a fresh run (saved with the run's counters)."""

    def adopt_discriminator(self, D, G, path: Path, *, options: TrainingOptions, c_dim: int, resolution: int,
                            mbstd_group: int | None, batch_gpu: int,
                            log: Callable[[str, str], None]) -> torch.nn.Module:
        """The D a transfer from ``path`` starts with: its own D (a training copy) or a new one."""

    def optimizer(self, module: torch.nn.Module, lr: float, interval: int | None = None) -> torch.optim.Optimizer:
        """The optimiser of one network (``interval``: how often it is regularised lazily)."""

    def update_ema(self, G, G_ema, D, *, options: TrainingOptions, nimg: int, ema_rampup: float | None) -> None:
        """Bring G_ema up to date after a step."""

    def make_loss(self, G, D, *, options: TrainingOptions, device: torch.device, augment_pipe: AugmentPipe | None,
                  ada: AdaController | None, gamma: float, r1_interval: int | None, pl_interval: int | None,
                  clip_d) -> Loss:
        """The loss object, once the networks, augmentation and optimisers exist."""

    def recipe(self, options: TrainingOptions, gamma: float) -> str:
        """How it trains, for the summary line of a run (e.g. 'gamma 0.05, aug ada')."""


def network_family(options: TrainingOptions) -> NetworkFamily:
    """The family that trains the options' preset, or continues the network the run starts from."""
    from studio.training.stylegan3 import STYLEGAN3_PRESETS, Stylegan3Family, resume_kind

    if options.preset in DCGAN_PRESETS:
        return DcganFamily()
    if options.preset in STYLEGAN3_PRESETS or resume_kind(options) == "stylegan3":
        return Stylegan3Family()
    return StyleGAN2Family()


# --------------------------------------------------------------------------------------------
# Small helpers


def image_grid(images: torch.Tensor, cols: int | None = None):
    """[N, C, H, W] float in about [-1, 1] (or uint8) -> one PIL image, row by row."""
    if images.dtype != torch.uint8:
        images = (images.detach().float().cpu() * 127.5 + 128).clamp(0, 255).to(torch.uint8)
    return sheets.image_grid(images.permute(0, 2, 3, 1).cpu().numpy(), cols)


class _InfiniteSampler(torch.utils.data.Sampler):
    """Endless shuffled indices; rank r of w takes every w-th index."""

    def __init__(self, size: int, seed: int, rank: int = 0, world: int = 1):
        self.size, self.seed, self.rank, self.world = size, seed, rank, world

    def __iter__(self):
        g = torch.Generator().manual_seed(self.seed)
        while True:
            for i in torch.randperm(self.size, generator=g)[self.rank::self.world].tolist():
                yield i


class _ClassGroupSampler(torch.utils.data.Sampler):
    """Endless indices, batch by batch, in which each minibatch-std group holds one class.

    The discriminator's minibatch standard deviation compares image i with images i + n/g,
    i + 2n/g, ... of a batch of n in groups of g. When those images share a class, a generator
    that draws one picture per class stands out; in groups that mix classes the variety between
    classes hides it. Classes are drawn in proportion to their images; each class's images are
    shuffled and cycled.
    """

    def __init__(self, classes: np.ndarray, batch: int, group: int, seed: int, rank: int = 0):
        self.classes, self.batch, self.group = np.asarray(classes), batch, group
        self.seed, self.rank = seed, rank

    def __iter__(self):
        rng = np.random.default_rng([self.seed, self.rank])
        kinds, counts = np.unique(self.classes, return_counts=True)
        pools = [np.flatnonzero(self.classes == k) for k in kinds]
        orders = [rng.permutation(pool) for pool in pools]
        taken = [0] * len(kinds)
        stride = self.batch // self.group
        while True:
            out = np.empty(self.batch, dtype=np.int64)
            for slot, k in enumerate(rng.choice(len(kinds), size=stride, p=counts / counts.sum())):
                for j in range(self.group):
                    if taken[k] == len(orders[k]):
                        orders[k], taken[k] = rng.permutation(pools[k]), 0
                    out[slot + j * stride] = orders[k][taken[k]]
                    taken[k] += 1
            yield from out.tolist()


# --------------------------------------------------------------------------------------------
# The trainer


class Trainer:
    """One training run: networks, optimisers, counters. :func:`train` drives it.

    ``setup()`` builds or loads everything (fresh, transfer or exact resume), ``step()`` runs one
    minibatch of all the loss's phases, ``write_snapshot()`` writes the network file and previews.
    """

    def __init__(self, options: TrainingOptions, *, event_fn: EventFn | None = None):
        self.family = network_family(options)
        options = self.family.options(options)
        options.validate()
        self.options = options
        self.event_fn = event_fn
        self.run_dir = Path(options.run_dir).expanduser()
        self.rank, self.world = distributed.process_info()
        self.nimg = self.step_count = self.tick = 0
        self.fixed_label: torch.Tensor | None = None   # [1, c_dim] when every image is one class
        self.inherited_classes: dict[str, Any] = {}   # class names / keywords of the starting network
        self.train_seconds = 0.0              # training time of earlier sessions (from the snapshot)
        self.hardware: list[str] = []         # what every session trained on, e.g. "cpu (2 threads)"
        self._session_start = time.time()
        self.resumed_from: Path | None = None
        self.transfer_from: Path | None = None
        self.last_snapshot: Path | None = None
        self.pipe = self.controller = None
        self.loss: Loss | None = None
        self._stats_sums: dict[str, float] = {}
        self._stats_counts: dict[str, int] = {}
        self.last_losses: dict[str, float] = {}
        self.metrics_on = bool(options.metrics)
        self._metric_scorer = None            # the loaded CLIP, once per run
        self.clip_spec: str | None = None     # what it was loaded from
        self._metric_real_features: np.ndarray | None = None   # once per run
        self.clip_d = self.opt_Dc = None       # the CLIP discriminator (options.clip_d > 0)
        self._resume_tensors: dict[str, torch.Tensor] = {}

    # -- events ----------------------------------------------------------------------------

    def emit(self, event: str, **fields: Any) -> None:
        if self.rank == 0 and self.event_fn is not None:
            self.event_fn({"event": event, **fields})

    def log(self, message: str, level: str = "info") -> None:
        self.emit("log", level=level, message=message)

    # -- setup -----------------------------------------------------------------------------

    def setup(self) -> None:
        opts = self.options
        self.run_dir.mkdir(parents=True, exist_ok=True)
        from studio.core.device import pick_device

        device = pick_device(opts.device)
        if device.type == "cuda" and self.world > 1:
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", self.rank)))
            torch.cuda.set_device(device)
        self.device = device
        if self.world > 1 and opts.batch % self.world:
            raise TrainingError(f"batch {opts.batch} must be divisible by the number of processes ({self.world})")
        self.batch_gpu = opts.batch // self.world
        self.mbstd_group = self.family.mbstd_group(self.batch_gpu)
        if self.rank == 0:
            for stale in remove_stale_temps(self.run_dir, older_than_s=0):   # the run folder is this worker's
                self.log(f"removed a half-written file left by an interrupted run: {stale.name}", "warning")
            stop = self.run_dir / STOP_FILE
            if stop.exists():
                stop.unlink()

        self._open_data()
        self.gamma = opts.r1_gamma(self.resolution)
        resume_path = self._resume_path()
        torch.manual_seed(opts.seed)  # identical initial weights on every rank
        if resume_path is not None and is_training_snapshot(resume_path):
            self._load_snapshot(resume_path)
        else:
            if resume_path is not None:
                self._transfer(resume_path)
            else:
                self._fresh()
            self._make_optimizers()
            self._make_augment(opts.p, resuming=resume_path is not None)
        self._setup_clip_d(self._resume_tensors)
        self.loss = self.family.make_loss(
            self.G, self.D, options=opts, device=self.device, augment_pipe=self.pipe, ada=self.controller,
            gamma=self.gamma, r1_interval=self.d_reg_interval, pl_interval=self.g_reg_interval, clip_d=self.clip_d)
        self.loss.load_state_dict({k[5:]: v for k, v in self._resume_tensors.items() if k.startswith("loss.")})
        self._resume_tensors = {}
        self._start_loader()
        distributed.broadcast([self.G, self.D, self.G_ema] + ([self.clip_d] if self.clip_d is not None else []))
        torch.manual_seed(opts.seed * 1000 + self.rank + self.nimg)
        self.grid_z = torch.from_numpy(_grid_zs(opts.grid, self.G.z_dim)).to(self.device)
        self.grid_c = self._grid_labels(opts.grid)
        self.total_nimg = int(round(opts.kimg * 1000))
        if self.rank == 0:
            opts.save(self.run_dir / "training_options.json")
            if self.nimg == 0 and opts.grid > 0:
                self._write_reals()
        self.log(self._describe())

    def _describe(self) -> str:
        """The one-line summary logged when a run starts."""
        opts, sigma = self.options, self.blur_sigma()
        g_params = sum(p.numel() for p in self.G.parameters())
        d_params = sum(p.numel() for p in self.D.parameters())
        data = getattr(self.dataset, "summary", None) or f"{len(self.dataset)} images"
        return (f"{self.family.summary_prefix}{self.resolution}x{self.resolution} px, {data}"
                f"{f', {self.c_dim} classes' if self.c_dim else ''}; G {g_params:,} / D {d_params:,} parameters; "
                f"batch {opts.batch}, {self.family.recipe(opts, self.gamma)}, device {self.device}"
                f"{f' x {self.world} processes' if self.world > 1 else ''}"
                f"{f'; D blur {sigma:.2g} px, none from {opts.blur_kimg:g} kimg' if sigma else ''}"
                f"{f'; CLIP discriminator (weight {opts.clip_d:g}, {self.clip_spec})' if self.clip_d else ''}")

    def _check_kind(self, kind: str, name: str) -> None:
        """Refuse a network of an architecture this run's family does not train."""
        if kind not in self.family.generator_kinds:
            hint = ("train it with --preset dcgan" if kind == "dcgan" else
                    f"start from a {self.family.name} network")
            raise TrainingError(f"'{name}' is a {kind} network, which this trainer cannot continue: {hint}")

    def _open_data(self) -> None:
        opts = self.options
        try:
            self.dataset = open_dataset(opts.data, resolution=opts.res, use_labels=opts.cond)
        except (FileNotFoundError, OSError) as exc:
            raise TrainingError(f"cannot open the dataset {opts.data}: {exc}") from None
        if len(self.dataset) == 0:
            raise TrainingError(f"the dataset {opts.data} has no images")
        self.resolution = int(opts.res or self.dataset.resolution)
        if self.resolution != self.dataset.resolution:
            self.log(f"the dataset's {self.dataset.resolution} px images are resized to {self.resolution} px on the fly "
                     f"(preparing the dataset at {self.resolution} px is faster)")
        if self.resolution < 4 or self.resolution & (self.resolution - 1):
            raise TrainingError(f"the dataset's images are {self.resolution} px; training needs a power of two "
                                "(prepare it with `studio prepare --res 256`, or pass --res)")
        self.family.check_resolution(self.resolution)
        if opts.cond and not getattr(self.dataset, "has_labels", False):
            raise TrainingError(f"--cond needs class labels, but {opts.data} has none (a dataset.json with "
                                "'labels'; `studio prepare` writes it from sub-folders)")
        self.c_dim = int(self.dataset.label_dim) if opts.cond else 0

    def _start_loader(self) -> None:
        """Endless minibatches of the dataset. The order's seed takes in the images already
        trained on, so a resumed run goes on to other images than the ones it began with."""
        opts = self.options
        seed = opts.seed + self.nimg
        if self.class_groups:
            sampler = _ClassGroupSampler(self.dataset.class_indices(), self.batch_gpu, self.mbstd_group, seed, self.rank)
        else:
            sampler = _InfiniteSampler(len(self.dataset), seed, self.rank, self.world)
        loader = torch.utils.data.DataLoader(
            self.dataset, batch_size=self.batch_gpu, sampler=sampler, num_workers=opts.workers,
            pin_memory=self.device.type == "cuda", prefetch_factor=2 if opts.workers > 0 else None,
            persistent_workers=False,
        )
        self._data = iter(loader)

    def _resume_path(self) -> Path | None:
        opts = self.options
        if not opts.resume:
            return None
        if opts.resume == "latest":
            path = find_latest_snapshot(self.run_dir)
            if path is None:
                self.log(f"no snapshot in {self.run_dir} to resume from; starting a new run")
            return path
        path = Path(opts.resume).expanduser()
        if not path.is_file():
            raise TrainingError(f"cannot resume: {path} does not exist")
        return path

    def _fresh(self) -> None:
        G, D = self.family.new_networks(self.options, self.resolution, self.c_dim, self.mbstd_group)
        self.G, self.D = G.to(self.device), D.to(self.device)
        self.G_ema = copy.deepcopy(self.G).eval()
        self.ema_rampup = self.family.fresh_ema_rampup(self.options)

    def _check_network(self, G: Generator, D: Discriminator | None, name: str) -> None:
        """Refuse a starting network that cannot train on this dataset, saying why."""
        res = self.resolution
        if G.img_resolution != res:
            raise TrainingError(
                f"'{name}' makes {G.img_resolution}x{G.img_resolution} images but the dataset is {res}x{res}: "
                f"prepare the dataset at {G.img_resolution} px (`studio prepare --res {G.img_resolution}`), "
                f"train with --res {G.img_resolution}, or start from a {res} px network")
        if G.img_channels != 3:
            raise TrainingError(f"'{name}' makes {G.img_channels}-channel images; the trainer needs RGB (3)")
        if G.c_dim and not self.c_dim and not self.options.cond:
            self._adopt_fixed_class(G.c_dim, name)
        if G.c_dim != self.c_dim:
            if G.c_dim and not self.c_dim:
                hint = "train with --cond on a labelled dataset"
            elif self.c_dim and not G.c_dim:
                hint = "drop --cond or start from a conditional network"
            else:
                hint = "use a dataset with the same classes"
            raise TrainingError(f"'{name}' has {G.c_dim} classes but the training set has {self.c_dim}: {hint}")
        if D is not None:
            if D.img_resolution != res:
                raise TrainingError(f"the discriminator in '{name}' reads {D.img_resolution} px images, "
                                    f"the dataset is {res} px")
            if D.c_dim != self.c_dim:
                raise TrainingError(f"the discriminator in '{name}' has {D.c_dim} classes, the dataset "
                                    f"{self.c_dim}")

    def _adopt_fixed_class(self, c_dim: int, name: str) -> None:
        """Fine-tune a conditional network on images without (used) labels: all count as one class.

        A labelled dataset without --cond needs --as-class: its labels would otherwise be dropped
        silently.
        """
        labelled = bool(getattr(self.dataset, "carries_labels", False))
        if labelled and self.options.as_class is None:
            raise TrainingError(f"'{name}' is conditional and the dataset has labels: add --cond to train its "
                                "classes, or --as-class K to train every image as class K")
        k = self.options.as_class or 0
        if k >= c_dim:
            raise TrainingError(f"'{name}' has classes 0-{c_dim - 1}; --as-class {k} is not one of them")
        self.c_dim = c_dim
        self.fixed_label = F.one_hot(torch.tensor([k]), c_dim).to(self.device, torch.float32)
        why = "its labels are not used" if labelled else "the dataset has no labels"
        self.log(f"'{name}' is conditional and {why}: every image trains class {k} (--as-class chooses another)")

    def _transfer(self, path: Path) -> None:
        """Start from any loadable network (transfer learning): weights only, counters at 0."""
        from studio.gan.formats import load_network

        net = load_network(path, with_discriminator=True)
        self._check_kind(net.G.config.kind, path.name)
        if self.options.res is None and net.G.img_resolution != self.resolution:
            # fine-tuning on pictures of another size: train at the network's, resizing as they are read
            self.log(f"{path.name} makes {net.G.img_resolution} px images and the dataset's are {self.resolution} px: "
                     f"they are resized to {net.G.img_resolution} px as they are read (preparing the dataset at "
                     f"{net.G.img_resolution} px is faster)")
            self.resolution = net.G.img_resolution
            self.family.check_resolution(self.resolution)
            self.gamma = self.options.r1_gamma(self.resolution)
        self._check_network(net.G, net.D, path.name)
        self.G = copy.deepcopy(net.G).train().requires_grad_(True).to(self.device)
        self.G_ema = copy.deepcopy(net.G).eval().requires_grad_(False).to(self.device)
        self.D = self.family.adopt_discriminator(
            net.D, self.G, path, options=self.options, c_dim=self.c_dim, resolution=self.resolution,
            mbstd_group=self.mbstd_group, batch_gpu=self.batch_gpu, log=self.log).to(self.device)
        self.transfer_from = path
        self.inherited_classes = {"class_names": net.class_names, "class_keywords": net.class_keywords}
        self.ema_rampup = None
        self.log(f"transfer learning from {path.name}")

    def _load_snapshot(self, path: Path) -> None:
        """Exact resume: G, G_ema, D, optimisers, counters, ADA state."""
        from studio.gan.formats.native import read_native
        from studio.gan.formats.nvidia import load_state

        tensors, meta = read_native(path)
        state = json.loads(meta.get("training_state") or "{}")
        provenance = json.loads(meta.get("provenance") or "{}")
        self.inherited_classes = {k: provenance[k] for k in ("class_names", "class_keywords") if provenance.get(k)}
        g_cfg = generator_config_from_dict(json.loads(meta["generator_config"]))
        self._check_kind(g_cfg.kind, path.name)
        G, D = make_generator(g_cfg), make_discriminator(json.loads(meta["discriminator_config"]))
        G_ema = make_generator(g_cfg)
        load_state(G, {k[2:]: v for k, v in tensors.items() if k.startswith("G.")}, "generator")
        load_state(G_ema, {k[6:]: v for k, v in tensors.items() if k.startswith("G_ema.")}, "generator")
        load_state(D, {k[2:]: v for k, v in tensors.items() if k.startswith("D.")}, "discriminator")
        self._check_network(G, D, path.name)
        group = getattr(D.config, "mbstd_group_size", None)
        if self.batch_gpu % min(group or self.batch_gpu, self.batch_gpu):
            raise TrainingError(f"resume with a batch that is a multiple of {D.config.mbstd_group_size}")
        self.G, self.D, self.G_ema = G.to(self.device), D.to(self.device), G_ema.eval().to(self.device)
        self.nimg = int(state["nimg"])
        self.step_count = int(state.get("step", 0))
        self.tick = int(state.get("tick", 0))
        self.train_seconds = float(state["train_seconds"]) if "train_seconds" in state else self._seconds_from_stats()
        self.hardware = [str(h) for h in state.get("hardware", [])]
        self.ema_rampup = state.get("ema_rampup")
        transfer = state.get("transfer_from")
        self.transfer_from = Path(transfer) if transfer else None
        self._make_optimizers()
        restored = load_optimizer_tensors(self.opt_G, self.G, "optG", tensors)
        restored += load_optimizer_tensors(self.opt_D, self.D, "optD", tensors)
        if not restored and self.nimg:
            self.log(f"{path.name} keeps no optimiser state: Adam starts afresh")
        p = float(state.get("p", self.options.p))
        self._make_augment(p, resuming=True)
        if self.controller is not None and state.get("ada") is not None:
            self.controller.load_state_dict(join_state(state["ada"], tensors, "aug"))
            with torch.no_grad():
                self.pipe.p.copy_(torch.as_tensor(p, dtype=self.pipe.p.dtype))
        self.resumed_from = path
        self._resume_tensors = tensors
        self.log(f"resumed from {path.name} at {self.nimg / 1000:.3f} kimg (p = {p:.4f})")

    def _seconds_from_stats(self) -> float:
        """Training time up to ``self.nimg`` from stats.jsonl, for snapshots older than ``train_seconds``.

        Each process's lines count ``time_s`` from its own start (``timestamp - time_s``), so the
        longest ``time_s`` of every start, up to this snapshot, adds up.
        """
        sessions: dict[int, float] = {}
        try:
            lines = (self.run_dir / STATS_FILE).read_text(encoding="utf-8").splitlines()
        except OSError:
            return 0.0
        for line in lines:
            try:
                entry = json.loads(line)
                nimg, seconds, stamp = int(entry["nimg"]), float(entry["time_s"]), float(entry["timestamp"])
            except (ValueError, KeyError, TypeError):
                continue
            if nimg <= self.nimg:
                start = round(stamp - seconds)
                sessions[start] = max(sessions.get(start, 0.0), seconds)
        return sum(sessions.values())

    def _make_optimizers(self) -> None:
        opts = self.options
        self.G.train().requires_grad_(True)
        self.D.train().requires_grad_(True)
        self.G_ema.eval().requires_grad_(False)
        blocks = [f"b{r}." for r in self.D.block_resolutions[: self.options.freeze_d]]
        self.d_trainable = [p for n, p in self.D.named_parameters() if not n.startswith(tuple(blocks))]
        for n, p in self.D.named_parameters():
            if n.startswith(tuple(blocks)):
                p.requires_grad_(False)
        if blocks:
            self.log(f"FreezeD: the first {len(blocks)} discriminator blocks stay fixed")
        self.g_reg_interval = opts.pl_interval if opts.pl_weight > 0 else None
        self.d_reg_interval = opts.r1_interval if self.gamma > 0 else None
        self.opt_G = self.family.optimizer(self.G, opts.lr, self.g_reg_interval)
        self.opt_D = self.family.optimizer(self.D, opts.lr, self.d_reg_interval)

    def _make_augment(self, p: float, *, resuming: bool) -> None:
        opts = self.options
        ada_kimg = opts.ada_kimg if opts.ada_kimg is not None else (100 if resuming else 500)
        self.pipe = self.controller = None
        if opts.aug == "noaug":
            return
        self.pipe = AugmentPipe().to(self.device)
        with torch.no_grad():
            self.pipe.p.fill_(float(p))
        if opts.aug == "ada":
            self.controller = AdaController(self.pipe, target=opts.target, interval=opts.ada_interval, kimg=ada_kimg,
                                            batch_size=opts.batch, initial_p=p)

    def _setup_clip_d(self, tensors: dict[str, torch.Tensor]) -> None:
        """The CLIP discriminator and its optimiser when ``clip_d`` > 0; its head from a snapshot that has one."""
        if self.options.clip_d <= 0:
            return
        from studio.training.clip_disc import ClipDiscriminator, feature_dim

        try:
            scorer = self._load_clip()
        except Exception as exc:  # noqa: BLE001 - any failure to load is the user's to fix
            raise TrainingError(f"the CLIP discriminator needs a CLIP: {str(exc).strip() or type(exc).__name__}") from None
        self.clip_d = ClipDiscriminator(scorer, feature_dim(scorer), self.c_dim).to(self.device)
        self.opt_Dc = self.family.optimizer(self.clip_d, self.options.lr)
        head = {k[6:]: v for k, v in tensors.items() if k.startswith("Dclip.")}
        if head:
            try:
                self.clip_d.load_head_state(head)
            except ValueError as exc:
                raise TrainingError(f"{exc}; start a new run or leave out --clip-d") from None
            load_optimizer_tensors(self.opt_Dc, self.clip_d, "optDc", tensors)
        elif self.nimg:
            self.log("the CLIP discriminator starts fresh on this network")

    # -- data ------------------------------------------------------------------------------

    def _next_reals(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        images, labels = next(self._data)
        x = images.to(self.device, non_blocking=True).to(torch.float32) / 127.5 - 1
        if x.shape[1] == 1:
            x = x.repeat(1, 3, 1, 1)
        if x.shape[-1] != self.resolution or x.shape[-2] != self.resolution:
            x = F.interpolate(x, size=(self.resolution, self.resolution), mode="bilinear", antialias=True,
                              align_corners=False)
        if self.options.mirror:
            flip = torch.rand([x.shape[0], 1, 1, 1], device=x.device) < 0.5
            x = torch.where(flip, x.flip(3), x)
        if self.fixed_label is not None:
            return x, self.fixed_label.expand(x.shape[0], -1)
        c = labels.to(self.device, torch.float32) if self.c_dim else None
        return x, c

    def _grid_labels(self, n: int) -> torch.Tensor | None:
        if not self.c_dim:
            return None
        if self.fixed_label is not None:
            return self.fixed_label.expand(n, -1)
        cols = max(1, int(math.ceil(math.sqrt(n))))
        idx = torch.tensor([(i // cols) % self.c_dim for i in range(n)], dtype=torch.long)
        return F.one_hot(idx, self.c_dim).to(self.device, torch.float32)

    def _generator_labels(self, real_c: torch.Tensor | None) -> torch.Tensor | None:
        """Labels for G's images, distributed like the dataset's: the reals' labels, shuffled
        (kept in place when each minibatch-std group holds one class)."""
        if real_c is None:
            return None
        if self.class_groups:
            return real_c.clone()
        return real_c[torch.randperm(real_c.shape[0], device=self.device)]

    @property
    def class_groups(self) -> bool:
        """Whether each minibatch-std group holds one class (conditional StyleGAN2 training)."""
        return bool(self.options.cond and getattr(self.dataset, "has_labels", False) and self.mbstd_group)

    # -- one step --------------------------------------------------------------------------

    def blur_sigma(self) -> float:
        """Pixels of Gaussian blur on every image D sees now (the loss's schedule)."""
        return self.loss.blur_sigma(self.nimg)

    def _networks(self, name: str) -> tuple[torch.optim.Optimizer, list[torch.nn.Parameter]]:
        """(optimiser, trainable parameters) of 'G', 'D' or 'Dclip' (FreezeD's frozen blocks left out)."""
        if name == "G":
            return self.opt_G, list(self.G.parameters())
        if name == "D":
            return self.opt_D, self.d_trainable
        return self.opt_Dc, list(self.clip_d.parameters())

    def _set_grad(self, networks: tuple[str, ...]) -> None:
        """Gradients on for the named networks' trainable parameters, off for the others'."""
        self.G.requires_grad_("G" in networks)
        for p in self.d_trainable:
            p.requires_grad_("D" in networks)
        if self.clip_d is not None:
            self.clip_d.requires_grad_("Dclip" in networks)

    def _record(self, **values: torch.Tensor | float) -> None:
        for key, value in values.items():
            v = float(value)
            self.last_losses[key] = v
            self._stats_sums[key] = self._stats_sums.get(key, 0.0) + v
            self._stats_counts[key] = self._stats_counts.get(key, 0) + 1

    def step(self) -> None:
        """One minibatch: each phase of the loss with its optimiser, then EMA and ADA."""
        real, real_c = self._next_reals()
        batch: Minibatch = self.loss.minibatch(real, real_c, self._generator_labels(real_c), self.nimg)
        for phase in self.loss.phases:
            if phase.interval and self.step_count % phase.interval:
                continue   # a lazy regulariser's off step
            opt, params = self._networks(phase.opt)
            self._set_grad(phase.grads)
            opt.zero_grad(set_to_none=True)
            self._record(**self.loss.accumulate_gradients(phase.name, batch))
            distributed.average_gradients(params)
            opt.step()
        self._set_grad(NETWORKS)

        self.nimg += real.shape[0] * self.world
        self.step_count += 1
        self.family.update_ema(self.G, self.G_ema, self.D, options=self.options, nimg=self.nimg,
                               ema_rampup=self.ema_rampup)
        if self.controller is not None:
            self.controller.step()

    def ranks_in_sync(self) -> bool:
        """True when every process holds the same G, G_ema and D (always True for one process)."""
        return distributed.in_sync([self.G, self.G_ema, self.D])

    @property
    def p(self) -> float:
        return float(self.pipe.p) if self.pipe is not None else 0.0

    @property
    def rt(self) -> float | None:
        rt = getattr(self.controller, "rt", None) if self.controller is not None else None
        return float(rt) if rt is not None else None

    # -- stats -----------------------------------------------------------------------------

    def take_tick_stats(self) -> dict[str, float]:
        """Mean of each recorded value since the last call."""
        out = {k: self._stats_sums[k] / self._stats_counts[k] for k in self._stats_sums}
        self._stats_sums, self._stats_counts = {}, {}
        return out

    # -- snapshots and previews ------------------------------------------------------------

    @torch.no_grad()
    def write_preview(self) -> Path:
        """``preview-KKKKKK.png``: the fixed seeds as G_ema draws them now (eval mode, const noise, so
        writing one changes nothing in training)."""
        path = self.run_dir / f"preview-{self.nimg // 1000:06d}.png"
        with torch.no_grad():
            save_png(path, self.render_grid())
        return path

    def render_grid(self):
        """The preview grid: G_ema on the fixed seeds 0..grid-1 (const noise, no truncation)."""
        images = []
        for i in range(0, self.grid_z.shape[0], 8):
            c = self.grid_c[i:i + 8] if self.grid_c is not None else None
            images.append(self.G_ema(self.grid_z[i:i + 8], c, noise_mode="const").cpu())
        return image_grid(torch.cat(images))

    def _write_reals(self) -> None:
        n = min(self.options.grid, len(self.dataset))
        reals = torch.stack([self.dataset[i][0] for i in range(n)])
        save_png(self.run_dir / "reals.png", image_grid(reals))

    def training_state(self) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
        """(JSON counters, tensors) that a snapshot needs to resume exactly."""
        state: dict[str, Any] = {
            "kimg": self.nimg / 1000, "nimg": self.nimg, "step": self.step_count, "tick": self.tick,
            "p": self.p, "rt": self.rt, "aug": self.options.aug, "ema_rampup": self.ema_rampup,
            "train_seconds": round(self.train_seconds + time.time() - self._session_start, 1),
            "hardware": self.hardware + [h for h in [self._hardware_now()] if h not in self.hardware],
            "transfer_from": str(self.transfer_from) if self.transfer_from else None,
            "options": self.options.to_dict(),
        }
        tensors = {f"G.{k}": v for k, v in self.G.state_dict().items()}
        tensors.update(optimizer_tensors(self.opt_G, self.G, "optG"))
        tensors.update(optimizer_tensors(self.opt_D, self.D, "optD"))
        tensors.update({f"loss.{k}": v for k, v in self.loss.state_dict().items()})
        if self.clip_d is not None:
            tensors.update({f"Dclip.{k}": v for k, v in self.clip_d.head_state().items()})
            tensors.update(optimizer_tensors(self.opt_Dc, self.clip_d, "optDc"))
        if self.controller is not None:
            plain, ada_tensors = split_state(self.controller.state_dict(), "aug")
            state["ada"] = plain
            tensors.update(ada_tensors)
        return state, tensors

    def _hardware_now(self) -> str:
        if self.device.type == "cuda":
            name = torch.cuda.get_device_name(self.device)
            return f"{self.world} x {name}" if self.world > 1 else name
        if self.device.type == "cpu":
            threads = torch.get_num_threads()
            return f"cpu ({threads} thread{'s' if threads != 1 else ''})"
        return self.device.type

    def write_snapshot(self) -> Path | None:
        """Write ``network-snapshot-KKKKKK.safetensors`` and its preview grids; emit ``snapshot``.

        A disk that refuses the write (full, read-only) costs this snapshot only: the file is
        written atomically, so nothing half-written appears, the previous snapshot stays the
        last good one, a warning says so, and training goes on. Returns the last good snapshot.
        """
        from studio.gan.formats.native import save_native

        state, tensors = self.training_state()
        path = self.run_dir / snapshot_name(self.nimg)
        provenance = {"source_format": "studio-training", "data": str(self.options.data),
                      "run_dir": str(self.run_dir)}
        if self.transfer_from is not None:
            provenance["transfer_from"] = str(self.transfer_from)
        names = getattr(self.dataset, "label_names", None) if self.c_dim and self.fixed_label is None else None
        if names and len(names) == self.c_dim:
            provenance["class_names"] = [str(n) for n in names]  # shown by Explore, accepted by --class
        elif self.c_dim:   # the starting network's classes (a fine-tune of the default model keeps its families)
            provenance.update({k: v for k, v in self.inherited_classes.items() if v})
        try:
            fp = save_native(path, self.G_ema, self.D, provenance=provenance, training_state=state,
                             extra_tensors=tensors)
        except OSError as exc:
            kept = (f"the last good snapshot is still {self.last_snapshot.name}" if self.last_snapshot
                    else "no snapshot has been written yet")
            self.log(f"could not write {path.name} ({exc.strerror or exc}); {kept}; training goes on and "
                     "tries again at the next snapshot", "warning")
            return self.last_snapshot
        kimg_tag = f"{self.nimg // 1000:06d}"
        preview = augment = None
        if self.options.grid > 0:
            preview = self.write_preview()
            if self.pipe is not None:
                try:
                    n = min(self.options.grid, len(self.dataset), 8)
                    reals = torch.stack([self.dataset[i][0] for i in range(n)]).to(self.device)
                    reals = gaussian_blur(reals.to(torch.float32) / 127.5 - 1, self.blur_sigma())
                    image = image_grid(augmentation_preview(self.pipe, reals, max(self.p, 0.0)).clamp(-1, 1))
                    augment = self.run_dir / f"augment-{kimg_tag}.png"
                    save_png(augment, image)
                except Exception as exc:  # noqa: BLE001 - a preview never stops training
                    self.log(f"augmentation preview failed: {exc}", "warning")
        self.last_snapshot = path
        self.emit("snapshot", path=str(path), kimg=self.nimg / 1000, nimg=self.nimg,
                  preview=str(preview) if preview else None, augment_preview=str(augment) if augment else None,
                  fingerprint=fp)
        if self.metrics_on:
            self.compute_metrics()
        return path

    # -- metrics ---------------------------------------------------------------------------

    def _skip_metrics(self, reason: str) -> None:
        self.metrics_on = False
        self._metric_scorer = None
        self.log(f"metrics skipped: {reason}", "warning")

    def _load_clip(self):
        """The run's CLIP (``clip`` / ``clip_config``, else the user's settings), loaded once; raises."""
        if self._metric_scorer is not None:
            return self._metric_scorer
        opts = self.options
        spec, config = opts.clip, opts.clip_config
        if spec is None:
            from studio.core.settings import load_settings

            settings = load_settings()
            spec = settings.clip or "default"
            if config is None:
                config = settings.clip_config
        from studio.clip.model import load_clip

        self.clip_spec = str(spec)
        self._metric_scorer = load_clip(str(spec), self.device, config=config)
        return self._metric_scorer

    def _metric_scorer_or_none(self):
        """The CLIP for metrics (shared with the CLIP discriminator); None, after one warning, when it cannot be loaded."""
        try:
            return self._load_clip()
        except Exception as exc:  # noqa: BLE001 - metrics never stop training
            self._skip_metrics(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)
            return None

    def _metric_count(self) -> int:
        return max(2, int(self.options.metric_images))

    def _real_metric_batches(self):
        """Real images as float [n, 3, H, W] in [-1, 1]: a fixed random subset of the dataset."""
        n = min(self._metric_count(), len(self.dataset))
        order = np.random.default_rng(METRIC_SEED).permutation(len(self.dataset))[:n]
        for start in range(0, n, METRIC_BATCH):
            images = torch.stack([self.dataset[int(i)][0] for i in order[start:start + METRIC_BATCH]])
            x = images.to(self.device).to(torch.float32) / 127.5 - 1
            if x.shape[1] == 1:
                x = x.repeat(1, 3, 1, 1)
            yield x

    def _metric_labels(self, n: int) -> torch.Tensor | None:
        """Labels for generated images, drawn from the dataset's labels (its class distribution)."""
        if not self.c_dim:
            return None
        if self.fixed_label is not None:
            return self.fixed_label.expand(n, -1)
        idx = np.random.default_rng(METRIC_SEED + 1).integers(0, len(self.dataset), size=n)
        get_label = getattr(self.dataset, "get_label", None)
        labels = [get_label(int(i)) if get_label is not None else self.dataset[int(i)][1] for i in idx]
        return torch.stack([torch.as_tensor(np.asarray(lb), dtype=torch.float32) for lb in labels]).to(self.device)

    def _fake_metric_batches(self):
        """G_ema images (fixed latents, const noise, no truncation) as float [n, 3, H, W]."""
        n = self._metric_count()
        gen = torch.Generator().manual_seed(METRIC_SEED)
        z_all = torch.randn([n, self.G_ema.z_dim], generator=gen)
        c_all = self._metric_labels(n)
        for start in range(0, n, METRIC_BATCH):
            z = z_all[start:start + METRIC_BATCH].to(self.device)
            c = c_all[start:start + METRIC_BATCH] if c_all is not None else None
            with torch.no_grad():   # not around the yield: grad mode must not leak to the caller
                images = self.G_ema(z, c, noise_mode="const")
            yield images

    def compute_metrics(self) -> dict[str, Any] | None:
        """FD-CLIP and KID-CLIP of G_ema now: a ``metrics.jsonl`` line and a ``metric`` event.

        Returns the line, or None when metrics are off or failed (a warning says why; training
        goes on either way).
        """
        from studio.training.metrics import compute_features, fd_clip, kid

        if not self.metrics_on:
            return None
        scorer = self._metric_scorer_or_none()
        if scorer is None:
            return None
        try:
            if self._metric_real_features is None:
                self._metric_real_features = compute_features(scorer, self._real_metric_batches(),
                                                              self._metric_count())
            reals = self._metric_real_features
            n = self._metric_count()
            fakes = compute_features(scorer, self._fake_metric_batches(), n)
            # the same numbers as metrics.clip_metrics, with the real features cached per run
            subset = min(1000, max(2, min(fakes.shape[0], reals.shape[0]) // 2))
            kid_mean, kid_std = kid(reals, fakes, subsets=50, subset_size=subset)
            values = {"fd_clip": fd_clip(reals, fakes), "kid_clip": kid_mean, "kid_clip_std": kid_std}
        except Exception as exc:  # noqa: BLE001 - metrics never stop training
            self._skip_metrics(f"{type(exc).__name__}: {exc}")
            return None
        values = {k: float(v) for k, v in values.items()}
        line = {"kimg": self.nimg / 1000, **values, "clip": self.clip_spec, "images": n,
                "real_images": int(reals.shape[0])}
        with open(self.run_dir / METRICS_FILE, "a", encoding="utf-8") as f:
            f.write(json.dumps(line) + "\n")
        self.emit("metric", kimg=self.nimg / 1000, **values)
        return line


def _grid_zs(n: int, z_dim: int) -> np.ndarray:
    from studio.gan.latents import zs_from_seeds

    return zs_from_seeds(list(range(n)), z_dim)


# --------------------------------------------------------------------------------------------
# The front door


#: What a run folder holds before its first step: removing these removes nothing of the artist's.
_BEFORE_FIRST_STEP = {OPTIONS_FILE, REQUESTED_OPTIONS_FILE, STOP_FILE}


def _remove_if_unused(run_dir: Path) -> None:
    """Delete a run folder that holds nothing but what the studio wrote before training began."""
    try:
        names = {entry.name for entry in run_dir.iterdir()}
        if names <= _BEFORE_FIRST_STEP:
            for name in names:
                (run_dir / name).unlink()
            run_dir.rmdir()
    except OSError:
        pass


def train(
    options: TrainingOptions,
    *,
    progress_fn: ProgressFn | None = None,
    abort_fn: AbortFn | None = None,
    event_fn: EventFn | None = None,
) -> TrainingResult:
    """Train until ``options.kimg``, a ``RUN/STOP`` file, or ``abort_fn()`` returns True.

    A stop finishes the current step and writes a snapshot. Returns where the run ended. Raises
    :class:`TrainingError` (or another ``StudioError``) with a clear message when it cannot
    start; see the module docstring for the events.
    """
    trainer = Trainer(options, event_fn=event_fn)
    try:
        trainer.setup()
    except BaseException:
        _remove_if_unused(trainer.run_dir)     # a run that never started leaves no empty folder behind
        raise
    opts = trainer.options
    run_dir = trainer.run_dir
    stats_path = run_dir / STATS_FILE
    tick_nimg = max(int(opts.tick_kimg * 1000), 1)
    stop_file = run_dir / STOP_FILE
    start_nimg = trainer.nimg
    tick_start_nimg, tick_start_time = trainer.nimg, time.time()
    run_start = time.time()
    early_preview = opts.grid > 0
    last_progress = 0.0
    reason = "finished"

    def progress_event(tick_end: bool, stats: dict[str, float]) -> dict[str, Any]:
        now = time.time()
        done = trainer.nimg - tick_start_nimg
        elapsed = max(now - tick_start_time, 1e-9)
        ips = done / elapsed if done else 0.0
        overall = (trainer.nimg - start_nimg) / max(now - run_start, 1e-9)
        remaining = max(trainer.total_nimg - trainer.nimg, 0)
        losses = stats if tick_end else trainer.last_losses
        return dict(
            kimg=trainer.nimg / 1000, total_kimg=opts.kimg, nimg=trainer.nimg, step=trainer.step_count,
            tick=trainer.tick, fraction=min(trainer.nimg / max(trainer.total_nimg, 1), 1.0),
            images_per_s=ips, sec_per_kimg=1000 / ips if ips else None,
            eta_s=remaining / overall if overall > 0 else None,
            loss_G=losses.get("loss_G"), loss_D=losses.get("loss_D"), loss_r1=losses.get("loss_r1"),
            loss_pl=losses.get("loss_pl"), p=trainer.p, rt=trainer.rt, tick_end=tick_end,
        )

    while True:
        if trainer.nimg >= trainer.total_nimg:
            break
        trainer.step()
        if progress_fn is not None:
            progress_fn(trainer.nimg / 1000, opts.kimg)
        if early_preview and trainer.rank == 0 and time.time() - run_start >= EARLY_PREVIEW_S:
            early_preview = False             # the artist sees something within a minute, not at the first snapshot
            trainer.emit("preview", path=str(trainer.write_preview()), kimg=trainer.nimg / 1000)
        stop = bool(abort_fn and abort_fn()) or stop_file.exists()
        if trainer.world > 1:
            flag = torch.tensor([float(stop)], device=trainer.device)
            torch.distributed.all_reduce(flag)
            stop = bool(flag.item() > 0)
        finished = trainer.nimg >= trainer.total_nimg
        tick_end = finished or stop or trainer.nimg >= tick_start_nimg + tick_nimg
        now = time.time()
        if not tick_end:
            if now - last_progress >= PROGRESS_INTERVAL_S:
                last_progress = now
                trainer.emit("progress", **progress_event(False, {}))
            continue
        trainer.tick += 1
        stats = trainer.take_tick_stats()
        info = progress_event(True, stats)
        if trainer.rank == 0:
            line = {"tick": trainer.tick, "kimg": info["kimg"], "nimg": trainer.nimg, "step": trainer.step_count,
                    "time_s": now - run_start, "sec_per_kimg": info["sec_per_kimg"],
                    "images_per_s": info["images_per_s"], "p": info["p"], "rt": info["rt"],
                    "timestamp": now, **stats}
            with open(stats_path, "a", encoding="utf-8") as f:
                f.write(json.dumps(line) + "\n")
        trainer.emit("progress", **info)
        last_progress = now
        if finished or stop or trainer.tick % opts.snap == 0:
            if trainer.world > 1:
                in_sync = trainer.ranks_in_sync()
                if not in_sync:
                    trainer.log("the training processes have drifted apart (their weights differ)", "warning")
            if trainer.rank == 0:
                trainer.write_snapshot()
            if trainer.world > 1:
                torch.distributed.barrier()
        tick_start_nimg, tick_start_time = trainer.nimg, time.time()
        if stop:
            reason = "stopped"
            break

    if trainer.last_snapshot is None and trainer.rank == 0 and trainer.step_count > 0 and trainer.nimg > start_nimg:
        trainer.write_snapshot()
    if trainer.rank == 0 and stop_file.exists():
        stop_file.unlink()
    extra = {"processes": trainer.world, "ranks_in_sync": trainer.ranks_in_sync()} if trainer.world > 1 else {}
    trainer.emit("done", reason=reason, kimg=trainer.nimg / 1000, nimg=trainer.nimg,
                 snapshot=str(trainer.last_snapshot) if trainer.last_snapshot else None, run_dir=str(run_dir), **extra)
    return TrainingResult(run_dir, trainer.nimg, reason, trainer.last_snapshot)


__all__ = ["train", "Trainer", "TrainingResult", "NetworkFamily", "network_family", "image_grid"]
