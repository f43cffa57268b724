"""The StyleGAN2-ADA training loop, as a class with hooks and one front door, :func:`train`.

Objective (Karras et al. 2020, "Training Generative Adversarial Networks with Limited Data",
on top of StyleGAN2): non-saturating logistic loss; lazy R1 on real images every
``r1_interval`` steps, weighted ``gamma / 2 * interval``; optional lazy path-length
regularisation; style-mixing regularisation; a generator EMA (``G_ema``, what one renders);
Adam with beta1 = 0 whose learning rate and betas are corrected for lazy regularisation
(``ratio = interval / (interval + 1)``: ``lr * ratio``, ``beta ** ratio``); adaptive
discriminator augmentation whose probability p follows the sign of D on real images.

Against a conditional generator that draws one picture per class: conditional batches are laid
out so that each of D's minibatch-std groups holds one class (:class:`_ClassGroupSampler`), and
``mode_seeking`` adds MSGAN's term on pairs of latents of one class (:func:`mode_seeking_loss`).

``Trainer(options)`` with the ``dcgan`` preset builds :class:`studio.training.dcgan.DcganTrainer`
instead: the PyTorch tutorial's DCGAN recipe on the same snapshots, resume, events and previews.

The same code runs for ``studio train`` (in process, with a progress bar), the worker process
the GUI starts (``python -m studio.training``), and - one process per device - under
``torchrun`` (gradients all-reduced by hand; rank 0 writes files and events).

Events (``event_fn(dict)``), each a JSON-safe dict with an ``"event"`` key:

* ``log``:      ``level`` ('info' | 'warning'), ``message``
* ``progress``: ``kimg``, ``total_kimg``, ``nimg``, ``step``, ``tick``, ``fraction``,
  ``images_per_s``, ``sec_per_kimg``, ``eta_s``, ``loss_G``, ``loss_D``, ``loss_r1``,
  ``loss_pl``, ``p``, ``rt``, ``tick_end`` (True at the end of a tick, else a between-tick update)
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
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F

from studio.core.atomic import atomic_path
from studio.core.errors import StudioError
from studio.gan.networks import (Discriminator, DiscriminatorConfig, Generator, GeneratorConfig, make_discriminator,
                                    make_generator)
from studio.data.dataset import ImageFolderDataset
from studio.imaging import sheets
from studio.training.augment import AdaController, AugmentPipe, augmentation_preview, blur_sigma_at, gaussian_blur
from studio.training.options import DCGAN_PRESETS, TrainingOptions
from studio.training.snapshots import (find_latest_snapshot, join_state, load_optimizer_tensors, optimizer_tensors,
                                       remove_stale_temp_files, snapshot_name, split_state)

STOP_FILE = "STOP"
STATS_FILE = "stats.jsonl"
METRICS_FILE = "metrics.jsonl"
METRIC_SEED = 1234          # generated images for metrics: fixed latents from this seed
METRIC_BATCH = 32           # images rendered per G_ema call for metrics
PROGRESS_INTERVAL_S = 2.0   # between-tick progress events at most this often

EventFn = Callable[[dict], None]
ProgressFn = Callable[[float, float], None]   # (kimg done, total kimg)
AbortFn = Callable[[], bool]


class TrainingError(StudioError):
    """A run cannot start or go on; the message says why and what to do."""


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


# --------------------------------------------------------------------------------------------
# Small helpers


def image_grid(images: torch.Tensor, cols: int | None = None):
    """[N, C, H, W] float in about [-1, 1] (or uint8) -> one PIL image, row by row."""
    if images.dtype != torch.uint8:
        images = (images.detach().float().cpu() * 127.5 + 128).clamp(0, 255).to(torch.uint8)
    return sheets.image_grid(images.permute(0, 2, 3, 1).cpu().numpy(), cols)


def mode_seeking_loss(img1: torch.Tensor, img2: torch.Tensor, z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
    """MSGAN's mode-seeking term (Mao et al. 2019) for pairs of images of the same class.

    The loss is ``1 / (d_img / d_z + eps)``: it grows when two latents far apart give images close
    together, the signature of mode collapse. ``d_z`` is the mean absolute difference of the
    latents and ``d_img`` that of the images averaged down to 32 px, so that pixel noise counts
    for nothing. (Measuring layout apart from colour - luminance at 8 or 16 px - was tried on the
    default model: it pushed the generator to scatter random dark masses or to mottle the
    background, and FD-CLIP rose; this plain version lowered it.)
    """
    if img1.shape[-1] > 32:
        img1, img2 = F.adaptive_avg_pool2d(img1, 32), F.adaptive_avg_pool2d(img2, 32)
    ratio = (img1 - img2).abs().mean() / (z1 - z2).abs().mean()
    return 1 / (ratio + 1e-5)


def _save_png(path: Path, image) -> None:
    with atomic_path(path) as tmp:
        image.save(tmp, format="PNG")


def _dist_info() -> tuple[int, int]:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


def is_training_snapshot(path: str | Path) -> bool:
    """True for a studio file written by this trainer (it carries G, optimiser state, counters)."""
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            keys = list(f.keys())
    except Exception:  # noqa: BLE001 - any unreadable file is simply not a snapshot
        return False
    state = json.loads(meta.get("training_state") or "{}")
    return "nimg" in state and any(k.startswith("G.") for k in keys)


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
    minibatch of all phases, ``write_snapshot()`` writes the network file and previews.
    """

    #: generator kinds this trainer trains (a snapshot or network of another kind is refused)
    generator_kinds = ("stylegan2", "swagan")

    def __new__(cls, options: TrainingOptions, *args: Any, **kwargs: Any):
        """``Trainer(options)`` with a DCGAN preset builds a :class:`~studio.training.dcgan.DcganTrainer`."""
        if cls is Trainer and getattr(options, "preset", None) in DCGAN_PRESETS:
            from studio.training.dcgan import DcganTrainer

            cls = DcganTrainer
        return super().__new__(cls)

    def __init__(self, options: TrainingOptions, *, event_fn: EventFn | None = None):
        options.validate()
        self.options = options
        self.event_fn = event_fn
        self.run_dir = Path(options.run_dir).expanduser()
        self.rank, self.world = _dist_info()
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
        self._stats_sums: dict[str, float] = {}
        self._stats_counts: dict[str, int] = {}
        self.last_losses: dict[str, float] = {}
        self.metrics_on = bool(options.metrics)
        self._metric_scorer = None            # the loaded CLIP, once per run
        self._metric_clip_spec: str | None = None
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
        self._check_batch()
        if self.rank == 0:
            for stale in remove_stale_temp_files(self.run_dir):
                self.log(f"removed a half-written file left by an interrupted run: {stale.name}", "warning")
            stop = self.run_dir / STOP_FILE
            if stop.exists():
                stop.unlink()

        self._open_data()
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
            self.pl_mean = torch.zeros([], device=self.device)
        self._setup_clip_d(self._resume_tensors)
        self._resume_tensors = {}
        self._broadcast_initial()
        torch.manual_seed(opts.seed * 1000 + self.rank + self.nimg)
        self.gamma = opts.r1_gamma(self.resolution)
        self.grid_z = torch.from_numpy(_grid_zs(opts.grid, self.G.z_dim)).to(self.device)
        self.grid_c = self._grid_labels(opts.grid)
        self.total_nimg = int(round(opts.kimg * 1000))
        if self.rank == 0:
            opts.save(self.run_dir / "training_options.json")
            if self.nimg == 0 and opts.grid > 0:
                self._write_reals()
        self.log(self._describe())

    def _check_batch(self) -> None:
        self.mbstd_group = min(4, self.batch_gpu)
        if self.batch_gpu % self.mbstd_group:
            raise TrainingError(f"batch per device ({self.batch_gpu}) must be a multiple of 4 (the discriminator "
                                "compares images in groups of 4); try --batch 4, 8, 16 or 32")

    def _describe(self) -> str:
        """The one-line summary logged when a run starts."""
        opts = self.options
        g_params = sum(p.numel() for p in self.G.parameters())
        d_params = sum(p.numel() for p in self.D.parameters())
        return (f"{self.resolution}x{self.resolution} px, {len(self.dataset)} images"
                f"{f', {self.c_dim} classes' if self.c_dim else ''}; G {g_params:,} / D {d_params:,} parameters; "
                f"batch {opts.batch}, gamma {self.gamma:.4g}, aug {opts.aug}, device {self.device}"
                f"{f' x {self.world} processes' if self.world > 1 else ''}"
                f"{f'; D blur {self.blur_sigma():.2g} px, none from {opts.blur_kimg:g} kimg' if self.blur_sigma() else ''}"
                f"{f'; CLIP discriminator (weight {opts.clip_d:g}, {self._metric_clip_spec})' if self.clip_d else ''}")

    def _check_kind(self, kind: str, name: str) -> None:
        """Refuse a network of an architecture this trainer does not train."""
        if kind not in self.generator_kinds:
            hint = "train it with --preset dcgan" if kind == "dcgan" else "start from a StyleGAN2 network"
            raise TrainingError(f"'{name}' is a {kind} network, which this trainer cannot continue: {hint}")

    def _open_data(self) -> None:
        opts = self.options
        try:
            self.dataset = ImageFolderDataset(opts.data, resolution=None, use_labels=opts.cond, xflip=False)
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
        if opts.cond and not getattr(self.dataset, "has_labels", False):
            raise TrainingError(f"--cond needs class labels, but {opts.data} has none (a dataset.json with "
                                "'labels'; `studio prepare` writes it from sub-folders)")
        self.c_dim = int(self.dataset.label_dim) if opts.cond else 0
        if self.class_groups:
            classes = np.array([int(self.dataset.get_label(i).argmax()) for i in range(len(self.dataset))])
            sampler = _ClassGroupSampler(classes, self.batch_gpu, self.mbstd_group, opts.seed, self.rank)
        else:
            sampler = _InfiniteSampler(len(self.dataset), opts.seed, self.rank, self.world)
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
        opts = self.options
        size = opts.network_size()
        g_cfg = GeneratorConfig(
            z_dim=size["z_dim"], c_dim=self.c_dim, w_dim=size["w_dim"], img_resolution=self.resolution,
            mapping_layers=size["mapping_layers"], channel_base=size["channel_base"],
            channel_max=size["channel_max"], architecture="skip",
        )
        d_cfg = DiscriminatorConfig(
            c_dim=self.c_dim, img_resolution=self.resolution, architecture="resnet",
            channel_base=size["channel_base"], channel_max=size["channel_max"],
            mbstd_group_size=self.mbstd_group,
        )
        self.G = make_generator(g_cfg).to(self.device)
        self.D = Discriminator(d_cfg).to(self.device)
        self.G_ema = copy.deepcopy(self.G).eval()
        self.ema_rampup = opts.ema_rampup

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
        self._check_network(net.G, net.D, path.name)
        self.G = copy.deepcopy(net.G).train().requires_grad_(True).to(self.device)
        self.G_ema = copy.deepcopy(net.G).eval().requires_grad_(False).to(self.device)
        self.D = self._adopt_discriminator(net.D, path).to(self.device)
        self.transfer_from = path
        self.inherited_classes = {"class_names": net.class_names, "class_keywords": net.class_keywords}
        self.ema_rampup = None
        self.log(f"transfer learning from {path.name}")

    def _adopt_discriminator(self, D, path: Path):
        """The discriminator a transfer starts from: the file's own, or a new one."""
        if D is None:
            self.log(f"'{path.name}' carries no discriminator; training a new one from scratch", "warning")
            ch = {int(k): int(v) for k, v in self.G.synthesis.channels.items()}
            return Discriminator(DiscriminatorConfig(c_dim=self.c_dim, img_resolution=self.resolution,
                                                     channels=ch, mbstd_group_size=self.mbstd_group))
        if D.config.mbstd_group_size is not None and self.batch_gpu % min(D.config.mbstd_group_size, self.batch_gpu):
            raise TrainingError(f"the discriminator in '{path.name}' compares images in groups of "
                                f"{D.config.mbstd_group_size}: use a batch that is a multiple of it")
        return copy.deepcopy(D).train().requires_grad_(True)

    def _load_snapshot(self, path: Path) -> None:
        """Exact resume: G, G_ema, D, optimisers, counters, ADA state."""
        from studio.gan.formats.native import read_native
        from studio.gan.formats.nvidia import load_state

        tensors, meta = read_native(path)
        state = json.loads(meta.get("training_state") or "{}")
        provenance = json.loads(meta.get("provenance") or "{}")
        self.inherited_classes = {k: provenance[k] for k in ("class_names", "class_keywords") if provenance.get(k)}
        g_cfg = GeneratorConfig.from_dict(json.loads(meta["generator_config"]))
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
        self.pl_mean = tensors.get("loss.pl_mean", torch.zeros([])).to(self.device)
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

    def _adam(self, module: torch.nn.Module, interval: int | None = None) -> torch.optim.Adam:
        """StyleGAN2's Adam (beta1 0, beta2 0.99), corrected for lazy regularisation every ``interval`` steps."""
        ratio = interval / (interval + 1) if interval else 1.0
        return torch.optim.Adam(module.parameters(), lr=self.options.lr * ratio, betas=(0.0, 0.99 ** ratio), eps=1e-8)

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
        self.d_reg_interval = opts.r1_interval if opts.r1_gamma(self.resolution) > 0 else None
        self.opt_G = self._adam(self.G, self.g_reg_interval)
        self.opt_D = self._adam(self.D, self.d_reg_interval)

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
        self.opt_Dc = self._adam(self.clip_d)
        head = {k[6:]: v for k, v in tensors.items() if k.startswith("Dclip.")}
        if head:
            try:
                self.clip_d.load_head_state(head)
            except ValueError as exc:
                raise TrainingError(f"{exc}; start a new run or leave out --clip-d") from None
            load_optimizer_tensors(self.opt_Dc, self.clip_d, "optDc", tensors)
        elif self.nimg:
            self.log("the CLIP discriminator starts fresh on this network")

    def _broadcast_initial(self) -> None:
        if self.world == 1:
            return
        modules = (self.G, self.D, self.G_ema) + ((self.clip_d,) if self.clip_d is not None else ())
        for module in modules:
            for t in list(module.parameters()) + list(module.buffers()):
                torch.distributed.broadcast(t.data, src=0)

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

    # -- one step --------------------------------------------------------------------------

    def _run_G(self, z: torch.Tensor, c: torch.Tensor | None, *, update_w_avg: bool) -> tuple[torch.Tensor, torch.Tensor]:
        G = self.G
        ws = G.mapping(z, c, update_w_avg=update_w_avg)
        if self.options.style_mix > 0 and ws.shape[1] > 1 and float(torch.rand([])) < self.options.style_mix:
            cutoff = int(torch.randint(1, ws.shape[1], []))
            ws2 = G.mapping(torch.randn_like(z), c, update_w_avg=False)
            ws = torch.cat([ws[:, :cutoff], ws2[:, cutoff:]], dim=1)
        return G.synthesis(ws, noise_mode="random"), ws

    @property
    def class_groups(self) -> bool:
        """Whether each minibatch-std group holds one class (conditional StyleGAN2 training)."""
        return bool(self.options.cond and getattr(self.dataset, "has_labels", False) and self.mbstd_group)

    def blur_sigma(self) -> float:
        """Pixels of Gaussian blur on every image D sees now (``blur_sigma`` fading to 0 at ``blur_kimg``)."""
        return blur_sigma_at(self.nimg / 1000, self.options.blur_sigma, self.options.blur_kimg)

    def _run_D(self, img: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
        return self.D(self._augment(gaussian_blur(img, self.blur_sigma())), c)

    def _reduce_grads(self, params) -> None:
        if self.world == 1:
            return
        grads = [p.grad for p in params if p.grad is not None]
        if not grads:
            return
        flat = torch.cat([g.flatten() for g in grads])
        torch.distributed.all_reduce(flat)
        flat /= self.world
        torch.nan_to_num_(flat, nan=0, posinf=1e5, neginf=-1e5)
        offset = 0
        for g in grads:
            g.copy_(flat[offset:offset + g.numel()].view_as(g))
            offset += g.numel()

    def _set_grad(self, G: bool, D: bool) -> None:
        self.G.requires_grad_(G)
        for p in self.d_trainable:
            p.requires_grad_(D)
        if self.clip_d is not None:
            self.clip_d.requires_grad_(D)

    def _augment(self, img: torch.Tensor) -> torch.Tensor:
        return self.pipe(img) if self.pipe is not None and float(self.pipe.p) > 0 else img

    def _record(self, **values: torch.Tensor | float) -> None:
        for key, value in values.items():
            v = float(value)
            self.last_losses[key] = v
            self._stats_sums[key] = self._stats_sums.get(key, 0.0) + v
            self._stats_counts[key] = self._stats_counts.get(key, 0) + 1

    def step(self) -> None:
        """One minibatch: G main (+ path length), D main (+ R1), EMA, ADA."""
        opts = self.options
        real, real_c = self._next_reals()
        n = real.shape[0]
        z_dim = self.G.z_dim
        if real_c is None:
            gen_c = None
        elif self.class_groups:                             # keep the groups of one class
            gen_c = real_c.clone()
        else:
            gen_c = real_c[torch.randperm(n, device=self.device)]
        pairs = n // 2 if opts.mode_seeking > 0 else 0
        if pairs and gen_c is not None:                     # the two halves share their labels
            gen_c = torch.cat([gen_c[:pairs], gen_c[:pairs], gen_c[2 * pairs:]])

        # G main: non-saturating logistic loss.
        self._set_grad(True, False)
        self.opt_G.zero_grad(set_to_none=True)
        z = torch.randn([n, z_dim], device=self.device)
        img, _ = self._run_G(z, gen_c, update_w_avg=True)
        loss_G = F.softplus(-self._run_D(img, gen_c)).mean()
        total = loss_G
        if self.clip_d is not None:
            loss_Gc = F.softplus(-self.clip_d(self._augment(img), gen_c)).mean()
            total = total + opts.clip_d * loss_Gc
            self._record(loss_Gc=loss_Gc.detach())
        if pairs:
            loss_ms = mode_seeking_loss(img[:pairs], img[pairs:2 * pairs], z[:pairs], z[pairs:2 * pairs])
            total = total + opts.mode_seeking * loss_ms
            self._record(loss_ms=loss_ms.detach())
        total.backward()
        self._reduce_grads(self.G.parameters())
        self.opt_G.step()
        self._record(loss_G=loss_G.detach())

        # G path length (lazy).
        if self.g_reg_interval and self.step_count % self.g_reg_interval == 0:
            self.opt_G.zero_grad(set_to_none=True)
            pb = max(n // 2, 1)
            img, ws = self._run_G(torch.randn([pb, z_dim], device=self.device),
                                  gen_c[:pb] if gen_c is not None else None, update_w_avg=False)
            noise = torch.randn_like(img) / math.sqrt(img.shape[2] * img.shape[3])
            (grads,) = torch.autograd.grad((img * noise).sum(), ws, create_graph=True)
            lengths = grads.square().sum(2).mean(1).sqrt()
            mean = lengths.mean().detach()
            if self.world > 1:
                torch.distributed.all_reduce(mean)
                mean /= self.world
            self.pl_mean.copy_(self.pl_mean.lerp(mean, 0.01))
            penalty = (lengths - self.pl_mean).square()
            loss_pl = (penalty * opts.pl_weight).mean() * self.g_reg_interval
            (loss_pl + img[:, 0, 0, 0].sum() * 0).backward()
            self._reduce_grads(self.G.parameters())
            self.opt_G.step()
            self._record(loss_pl=loss_pl.detach() / self.g_reg_interval, pl_mean=self.pl_mean)

        # D main: logistic loss on fakes and reals.
        self._set_grad(False, True)
        self.opt_D.zero_grad(set_to_none=True)
        with torch.no_grad():
            fake, _ = self._run_G(torch.randn([n, z_dim], device=self.device), gen_c, update_w_avg=False)
        fake_logits = self._run_D(fake, gen_c)
        real_logits = self._run_D(real, real_c)
        loss_Dfake = F.softplus(fake_logits).mean()
        loss_Dreal = F.softplus(-real_logits).mean()
        (loss_Dfake + loss_Dreal).backward()
        self._reduce_grads(self.d_trainable)
        self.opt_D.step()
        self._record(loss_D=(loss_Dfake + loss_Dreal).detach(), loss_D_real=loss_Dreal.detach(),
                     loss_D_fake=loss_Dfake.detach(), D_real=real_logits.detach().mean(),
                     D_fake=fake_logits.detach().mean())
        if self.controller is not None:
            logits = real_logits.detach()
            if self.world > 1:
                parts = [torch.empty_like(logits) for _ in range(self.world)]
                torch.distributed.all_gather(parts, logits)
                logits = torch.cat(parts)
            self.controller.accumulate(logits)

        # CLIP discriminator: the same loss on the frozen CLIP's features of the same images.
        if self.clip_d is not None:
            self.opt_Dc.zero_grad(set_to_none=True)
            with torch.no_grad():
                fake_f = self.clip_d.features(self._augment(fake))
                real_f = self.clip_d.features(self._augment(real))
            fake_c, real_cl = self.clip_d.head(fake_f, gen_c), self.clip_d.head(real_f, real_c)
            loss_Dc = F.softplus(fake_c).mean() + F.softplus(-real_cl).mean()
            (loss_Dc * opts.clip_d).backward()
            self._reduce_grads(list(self.clip_d.parameters()))
            self.opt_Dc.step()
            self._record(loss_Dc=loss_Dc.detach(), Dc_real=real_cl.detach().mean(), Dc_fake=fake_c.detach().mean())

        # D R1 (lazy).
        if self.d_reg_interval and self.step_count % self.d_reg_interval == 0:
            self.opt_D.zero_grad(set_to_none=True)
            real_ = real.detach().requires_grad_(True)
            logits = self._run_D(real_, real_c)
            (grads,) = torch.autograd.grad(logits.sum(), real_, create_graph=True)
            penalty = grads.square().sum([1, 2, 3])
            loss_r1 = (penalty * (self.gamma / 2)).mean() * self.d_reg_interval
            (loss_r1 + logits.sum() * 0).backward()
            self._reduce_grads(self.d_trainable)
            self.opt_D.step()
            self._record(loss_r1=loss_r1.detach() / self.d_reg_interval)
        self._set_grad(True, True)

        self.nimg += n * self.world
        self.step_count += 1
        self._update_ema()
        if self.controller is not None:
            self.controller.step()

    def _update_ema(self) -> None:
        opts = self.options
        ema_nimg = opts.ema_nimg()
        if self.ema_rampup:
            ema_nimg = min(ema_nimg, self.nimg * self.ema_rampup)
        beta = 0.5 ** (self.options.batch / max(ema_nimg, 1e-8))
        with torch.no_grad():
            if self.world > 1:
                w_avg = self.G.mapping.w_avg
                torch.distributed.all_reduce(w_avg)
                w_avg /= self.world
            for p_ema, p in zip(self.G_ema.parameters(), self.G.parameters()):
                p_ema.copy_(p.detach().lerp(p_ema, beta))
            for b_ema, b in zip(self.G_ema.buffers(), self.G.buffers()):
                b_ema.copy_(b)

    def ranks_in_sync(self) -> bool:
        """True when every process holds the same G, G_ema and D (always True for one process)."""
        if self.world == 1:
            return True
        with torch.no_grad():
            sums = torch.stack([t.detach().double().sum() for m in (self.G, self.G_ema, self.D)
                                for t in list(m.parameters()) + list(m.buffers())])
            parts = [torch.empty_like(sums) for _ in range(self.world)]
            torch.distributed.all_gather(parts, sums)
        return all(torch.equal(parts[0], part) for part in parts[1:])

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
        _save_png(self.run_dir / "reals.png", image_grid(reals))

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
        tensors["loss.pl_mean"] = self.pl_mean.detach().cpu().clone()
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

    def write_snapshot(self) -> Path:
        """Write ``network-snapshot-KKKKKK.safetensors`` and its preview grids; emit ``snapshot``."""
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
        fp = save_native(path, self.G_ema, self.D, provenance=provenance, training_state=state,
                         extra_tensors=tensors)
        kimg_tag = f"{self.nimg // 1000:06d}"
        preview = augment = None
        if self.options.grid > 0:
            preview = self.run_dir / f"preview-{kimg_tag}.png"
            _save_png(preview, self.render_grid())
            if self.pipe is not None:
                try:
                    n = min(self.options.grid, len(self.dataset), 8)
                    reals = torch.stack([self.dataset[i][0] for i in range(n)]).to(self.device)
                    reals = gaussian_blur(reals.to(torch.float32) / 127.5 - 1, self.blur_sigma())
                    image = image_grid(augmentation_preview(self.pipe, reals, max(self.p, 0.0)).clamp(-1, 1))
                    augment = self.run_dir / f"augment-{kimg_tag}.png"
                    _save_png(augment, image)
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

        self._metric_clip_spec = str(spec)
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
        line = {"kimg": self.nimg / 1000, **values, "clip": self._metric_clip_spec, "images": n,
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
    trainer.setup()
    opts = trainer.options
    run_dir = trainer.run_dir
    stats_path = run_dir / STATS_FILE
    tick_nimg = max(int(opts.tick_kimg * 1000), 1)
    stop_file = run_dir / STOP_FILE
    start_nimg = trainer.nimg
    tick_start_nimg, tick_start_time = trainer.nimg, time.time()
    run_start = time.time()
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


__all__ = ["train", "Trainer", "TrainingResult", "TrainingError", "find_latest_snapshot", "is_training_snapshot",
           "image_grid", "STOP_FILE", "STATS_FILE", "METRICS_FILE"]
