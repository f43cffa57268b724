"""The trainer's view of the dataset and of the augmentation pipeline.

The real implementations live in :mod:`studio.data.dataset` (``ImageFolderDataset``) and
:mod:`studio.training.augment` (``AugmentPipe``, ``AdaController``). When one of them is not
importable (a partial install, or while the studio is being built) the trainer falls back to
the small stand-ins below: a reader for a folder of images in the prepared layout, an
augmentation pipe that leaves images alone, and the ADA controller's arithmetic.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp"}


# --------------------------------------------------------------------------------------------
# Dataset


class FolderDataset(torch.utils.data.Dataset):
    """Square RGB images under ``path`` (recursively), labels from NVIDIA's ``dataset.json``.

    Items are ``(uint8 tensor [3, R, R], float one-hot label [label_dim] or empty)``.
    """

    def __init__(self, path: str | Path, *, resolution: int | None = None, use_labels: bool = True):
        from PIL import Image

        self.path = Path(path)
        if not self.path.is_dir():
            raise ValueError(f"the dataset folder {self.path} does not exist")
        self.files = sorted(p for p in self.path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        if not self.files:
            raise ValueError(f"no images in {self.path} (prepare a folder with `studio prepare`)")
        with Image.open(self.files[0]) as im:
            native = im.size[0]
        self.resolution = int(resolution or native)
        self.label_names: list[str] = []
        self._labels: np.ndarray | None = None
        meta = self.path / "dataset.json"
        if use_labels and meta.is_file():
            labels = json.loads(meta.read_text()).get("labels")
            if labels:
                by_name = {str(name).replace("\\", "/"): value for name, value in labels}
                rel = [p.relative_to(self.path).as_posix() for p in self.files]
                values = np.array([int(by_name[r]) for r in rel], dtype=np.int64)
                self._labels = np.eye(int(values.max()) + 1, dtype=np.float32)[values]
                self.label_names = [str(i) for i in range(self._labels.shape[1])]

    @property
    def has_labels(self) -> bool:
        return self._labels is not None

    @property
    def label_dim(self) -> int:
        return 0 if self._labels is None else int(self._labels.shape[1])

    def __len__(self) -> int:
        return len(self.files)

    def get_label(self, index: int) -> torch.Tensor:
        return torch.from_numpy(self._labels[index]) if self._labels is not None else torch.zeros([0])

    def __getitem__(self, index: int):
        from PIL import Image

        with Image.open(self.files[index]) as im:
            im = im.convert("RGB")
            if im.size != (self.resolution, self.resolution):
                im = im.resize((self.resolution, self.resolution), Image.LANCZOS)
            arr = np.asarray(im, dtype=np.uint8).copy()
        image = torch.from_numpy(arr).permute(2, 0, 1).contiguous()
        return image, self.get_label(index)


def open_dataset(path: str | Path, *, resolution: int | None, use_labels: bool):
    """The studio's ``ImageFolderDataset`` when available, else :class:`FolderDataset`."""
    try:
        from studio.data.dataset import ImageFolderDataset
    except ImportError:
        return FolderDataset(path, resolution=resolution, use_labels=use_labels)
    return ImageFolderDataset(path, resolution=resolution, use_labels=use_labels, xflip=False)


# --------------------------------------------------------------------------------------------
# Augmentation


class IdentityAugmentPipe(nn.Module):
    """Stand-in for ``AugmentPipe``: keeps a probability ``p`` but leaves images as they are."""

    def __init__(self):
        super().__init__()
        self.register_buffer("p", torch.zeros([]))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return images


class SimpleAdaController:
    """Stand-in for ``AdaController``: ``p += sign(r_t - target) * batch * interval / (kimg * 1000)``."""

    def __init__(self, pipe: nn.Module, *, target: float = 0.6, interval: int = 4, kimg: float = 500,
                 batch_size: int, initial_p: float = 0.0):
        self.pipe, self.target, self.interval, self.kimg = pipe, target, interval, kimg
        self.batch_size = batch_size
        self.pipe.p.copy_(torch.as_tensor(initial_p, dtype=self.pipe.p.dtype))
        self._sum, self._count, self._steps = 0.0, 0, 0
        self.rt: float | None = None

    def accumulate(self, d_real_logits: torch.Tensor) -> None:
        signs = torch.sign(d_real_logits.detach().float())
        self._sum += float(signs.sum())
        self._count += signs.numel()
        self._steps += 1

    def step(self) -> float | None:
        if self._steps < self.interval or self._count == 0:
            return None
        self.rt = self._sum / self._count
        adjust = math.copysign(1.0, self.rt - self.target) * self.batch_size * self._steps / (self.kimg * 1000)
        new_p = max(float(self.pipe.p) + adjust, 0.0)
        self.pipe.p.copy_(torch.as_tensor(new_p, dtype=self.pipe.p.dtype))
        self._sum, self._count, self._steps = 0.0, 0, 0
        return float(self.pipe.p)

    def state_dict(self) -> dict[str, Any]:
        return {"sum": self._sum, "count": self._count, "steps": self._steps, "rt": self.rt,
                "p": float(self.pipe.p)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._sum, self._count, self._steps = float(state["sum"]), int(state["count"]), int(state["steps"])
        self.rt = state.get("rt")
        if "p" in state:
            self.pipe.p.copy_(torch.as_tensor(float(state["p"]), dtype=self.pipe.p.dtype))


def make_augment(kind: str, *, target: float, interval: int, kimg: float, batch_size: int, initial_p: float):
    """(pipe or None, controller or None) for aug mode 'ada' | 'fixed' | 'noaug'."""
    if kind == "noaug":
        return None, None
    try:
        from studio.training.augment import AdaController, AugmentPipe
    except ImportError:
        AugmentPipe, AdaController = IdentityAugmentPipe, SimpleAdaController
    pipe = AugmentPipe()
    with torch.no_grad():
        pipe.p.copy_(torch.as_tensor(initial_p, dtype=pipe.p.dtype))
    if kind == "fixed":
        return pipe, None
    controller = AdaController(pipe, target=target, interval=interval, kimg=kimg, batch_size=batch_size,
                               initial_p=initial_p)
    return pipe, controller


def augmentation_preview_image(pipe: nn.Module, images: torch.Tensor, p: float, seed: int = 0):
    """A PIL image showing real images through the pipe at ``p``, or None when unavailable."""
    try:
        from studio.training.augment import augmentation_preview
    except ImportError:
        return None
    result = augmentation_preview(pipe, images, p, seed=seed)
    if isinstance(result, torch.Tensor):
        from studio.training.loop import image_grid

        return image_grid(result)
    if isinstance(result, np.ndarray):
        from PIL import Image

        return Image.fromarray(result)
    return result
