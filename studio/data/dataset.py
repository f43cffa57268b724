"""Read a prepared training set: a folder (or zip) of square images with optional labels.

Accepted layouts:

* what :func:`studio.data.prepare.prepare` and NVIDIA's ``dataset_tool.py`` write:
  ``00000/img00000000.png ...`` with ``dataset.json`` (``{"labels": [[name, class], ...]}`` or
  ``{"labels": null}``) and, from the studio, ``studio-dataset.json``;
* for convenience, a plain folder of same-size square PNG / JPEG images (no labels).

Either may be zipped (``dataset_tool``'s ``--dest=out.zip``); a zip whose entries all sit
in one top-level folder is read from inside that folder. A ``rejected/`` folder (CLIP's
rejects) is never read.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import torch
from PIL import Image

from studio.core.errors import StudioError
from studio.gan.networks.stylegan2 import MAX_CLASSES

__all__ = ["ImageFolderDataset", "PaintingStream", "FRESH_PAINTINGS", "FRESH_SEED_START", "open_dataset",
           "IMAGE_SUFFIXES"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")

#: The most one file inside a zipped dataset may unpack to (a 4,096 px 16-bit RGBA PNG is 128 MB raw).
MAX_MEMBER_BYTES = 256 * 2**20


class ImageFolderDataset(torch.utils.data.Dataset):
    """Square RGB training images as ``(uint8 tensor [3, R, R], float label [label_dim])``.

    Args:
        path: a prepared folder, a plain folder of square images, or a zip of either.
        resolution: the expected side; a different one is a :class:`StudioError`.
        use_labels: return one-hot labels when the set has them (else an empty tensor).
        xflip: double the length; items ``n .. 2n-1`` are items ``0 .. n-1`` mirrored.
        max_size: use at most this many images (a fixed pseudo-random subset, as NVIDIA's).
    """

    def __init__(self, path: str | os.PathLike[str], *, resolution: int | None = None, use_labels: bool = True,
                 xflip: bool = False, max_size: int | None = None) -> None:
        self.path = Path(path).expanduser()
        self._zip: zipfile.ZipFile | None = None
        self._prefix = ""
        if self.path.is_dir():
            self._kind = "dir"
            names = self._walk_dir()
        elif self.path.is_file() and zipfile.is_zipfile(self.path):
            self._kind = "zip"
            names = self._walk_zip()
        elif self.path.exists():
            raise StudioError(f"{self.path} is neither a folder nor a zip of images")
        else:
            raise StudioError(f"the dataset {self.path} does not exist")

        self._meta: dict[str, Any] | None = self._read_json("studio-dataset.json")
        labels_json = self._read_json("dataset.json")
        if self._meta is not None or labels_json is not None:
            numbered = sorted(n for n in names if _is_numbered(n))
            names = numbered or sorted(n for n in names if not n.startswith("rejected/"))
        else:
            names = sorted(n for n in names if not n.startswith("rejected/"))
        if not names:
            raise StudioError(f"no images in {self.path}: prepare a folder of pictures with `studio prepare`")
        self._names = names

        # labels
        self._label_names: list[str] | None = None
        self._labels: np.ndarray | None = None
        raw = (labels_json or {}).get("labels") if isinstance(labels_json, dict) else None
        if raw is not None:
            self._labels, self._label_names = self._parse_labels(raw)
        self._use_labels = bool(use_labels) and self._labels is not None

        # resolution: from the metadata, else from the images' headers
        if self._meta is not None and isinstance(self._meta.get("resolution"), int):
            res = int(self._meta["resolution"])
            count = self._meta.get("count")
            if isinstance(count, int) and count != len(self._names):
                raise StudioError(f"{self.path} should hold {count} images (studio-dataset.json) but has "
                                  f"{len(self._names)}: prepare it again")
            first = self._size(self._names[0])
            if first != (res, res):
                raise StudioError(f"{self._names[0]} is {first[0]}x{first[1]}, but the dataset says {res}x{res}")
        else:
            res = self._check_sizes()
        if res < 4 or res & (res - 1):
            raise StudioError(f"the images in {self.path} are {res}x{res}; StyleGAN needs a power-of-two size "
                              f"such as 256 or 512: prepare them with `studio prepare --res`")
        if resolution is not None and int(resolution) != res:
            raise StudioError(f"{self.path} holds {res}x{res} images, not {resolution}x{resolution}: "
                              "prepare it again at that resolution")
        self._resolution = res

        self._raw_idx = np.arange(len(self._names), dtype=np.int64)
        if max_size is not None and len(self._raw_idx) > max_size:
            rng = np.random.RandomState(0)
            self._raw_idx = np.sort(rng.permutation(self._raw_idx)[:max(0, int(max_size))])
        self._xflip = bool(xflip)

    # -- listing ----------------------------------------------------------------------------------
    def _walk_dir(self) -> list[str]:
        out = []
        for folder, dirs, files in os.walk(self.path):
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            for f in files:
                if not f.startswith(".") and f.lower().endswith(IMAGE_SUFFIXES):
                    out.append(Path(folder, f).relative_to(self.path).as_posix())
        return out

    def _walk_zip(self) -> list[str]:
        all_names = [n for n in self._open_zip().namelist() if not n.endswith("/")]
        tops = {n.split("/", 1)[0] for n in all_names}
        if len(tops) == 1 and all("/" in n for n in all_names):
            top = next(iter(tops))
            if not _is_numbered(top + "/x.png"):
                self._prefix = top + "/"
        plen = len(self._prefix)
        return [n[plen:] for n in all_names if n.startswith(self._prefix)
                and not PurePosixPath(n).name.startswith(".") and n.lower().endswith(IMAGE_SUFFIXES)]

    def _open_zip(self) -> zipfile.ZipFile:
        if self._zip is None:
            self._zip = zipfile.ZipFile(self.path)
        return self._zip

    def _read_bytes(self, name: str) -> bytes:
        if self._kind == "zip":
            archive = self._open_zip()
            info = archive.getinfo(self._prefix + name)
            if info.file_size > MAX_MEMBER_BYTES:      # what the zip declares, before a byte is inflated
                raise StudioError(f"{name} in {self.path} would unpack to {info.file_size / 2**20:,.0f} MB "
                                  f"from {info.compress_size / 2**20:,.1f} MB; a training picture is at most "
                                  f"{MAX_MEMBER_BYTES // 2**20} MB (is it a zip bomb?)")
            with archive.open(info) as member:      # and what it really inflates to, however it lies
                data = member.read(MAX_MEMBER_BYTES + 1)
            if len(data) > MAX_MEMBER_BYTES:
                raise StudioError(f"{name} in {self.path} unpacks to more than {MAX_MEMBER_BYTES // 2**20} MB, "
                                  "more than a training picture can be (is it a zip bomb?)")
            return data
        return (self.path / name).read_bytes()

    def _read_json(self, name: str) -> Any:
        try:
            data = self._read_bytes(name)
        except (FileNotFoundError, KeyError):
            return None
        try:
            return json.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise StudioError(f"{name} in {self.path} is not valid JSON: {exc}") from None

    def _size(self, name: str) -> tuple[int, int]:
        try:
            with Image.open(io.BytesIO(self._read_bytes(name))) as img:
                return img.size
        except Exception as exc:  # noqa: BLE001
            raise StudioError(f"cannot read {name} in {self.path}: {exc}") from None

    def _check_sizes(self) -> int:
        sizes: dict[tuple[int, int], str] = {}
        for name in self._names:
            size = self._size(name)
            sizes.setdefault(size, name)
            if len(sizes) > 1:
                (a, na), (b, nb) = list(sizes.items())[:2]
                raise StudioError(f"the images in {self.path} differ in size ({na} is {a[0]}x{a[1]}, {nb} is "
                                  f"{b[0]}x{b[1]}): prepare them with `studio prepare` first")
        (w, h), name = next(iter(sizes.items()))
        if w != h:
            raise StudioError(f"the images in {self.path} are not square ({name} is {w}x{h}): "
                              "prepare them with `studio prepare` first")
        return w

    def _parse_labels(self, raw: Any) -> tuple[np.ndarray, list[str] | None]:
        if not isinstance(raw, list):
            raise StudioError(f"dataset.json in {self.path}: 'labels' must be a list of [file, label] pairs")
        table = {}
        for entry in raw:
            if not (isinstance(entry, (list, tuple)) and len(entry) == 2):
                raise StudioError(f"dataset.json in {self.path}: bad label entry {entry!r}")
            table[str(entry[0]).replace("\\", "/")] = entry[1]
        missing = [n for n in self._names if n not in table]
        if missing:
            raise StudioError(f"dataset.json in {self.path} has no label for {missing[0]}"
                              + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""))
        values = [table[n] for n in self._names]
        names = self._meta.get("label_names") if self._meta else None
        if isinstance(names, list) and len(names) > MAX_CLASSES:
            raise StudioError(f"dataset.json in {self.path} names {len(names):,} classes; "
                              f"a model can have at most {MAX_CLASSES:,}")
        if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            wrong = next((v for v in values if not 0 <= v < MAX_CLASSES), None)
            if wrong is not None:
                raise StudioError(f"dataset.json in {self.path} has the class {wrong}; classes are numbered "
                                  f"from 0 to {MAX_CLASSES - 1:,}")
            dim = max(max(values) + 1, len(names) if isinstance(names, list) else 0)
            onehot = np.zeros((len(values), dim), dtype=np.float32)
            onehot[np.arange(len(values)), values] = 1
            return onehot, [str(n) for n in names] if isinstance(names, list) else [str(i) for i in range(dim)]
        try:
            with np.errstate(all="ignore"):   # 1e40 becomes inf, refused below
                arr = np.asarray(values, dtype=np.float32)
        except (ValueError, TypeError, OverflowError, RecursionError):
            raise StudioError(f"dataset.json in {self.path}: labels must be class numbers or vectors") from None
        if arr.ndim != 2:
            raise StudioError(f"dataset.json in {self.path}: labels must be class numbers or vectors")
        if arr.shape[1] > MAX_CLASSES or not np.isfinite(arr).all():
            raise StudioError(f"dataset.json in {self.path}: label vectors must hold at most {MAX_CLASSES:,} "
                              "finite numbers")
        return arr, None

    # -- properties --------------------------------------------------------------------------------
    @property
    def resolution(self) -> int:
        return self._resolution

    @property
    def num_channels(self) -> int:
        return 3

    @property
    def image_shape(self) -> list[int]:
        return [3, self._resolution, self._resolution]

    @property
    def has_labels(self) -> bool:
        return self._use_labels

    @property
    def carries_labels(self) -> bool:
        """Whether the folder's dataset.json has labels, used or not."""
        return self._labels is not None

    @property
    def label_dim(self) -> int:
        return int(self._labels.shape[1]) if self._use_labels else 0

    @property
    def label_names(self) -> list[str] | None:
        return list(self._label_names) if self._use_labels and self._label_names is not None else None

    @property
    def aspect_ratio(self) -> float | None:
        """The GANscapes aspect ratio recorded by ``studio prepare --crop rect`` (else None)."""
        value = (self._meta or {}).get("aspect_ratio")
        return float(value) if isinstance(value, (int, float)) else None

    @property
    def metadata(self) -> dict[str, Any] | None:
        return None if self._meta is None else dict(self._meta)

    @property
    def names(self) -> list[str]:
        """The image files used, relative to the dataset, in raw-index order."""
        return [self._names[i] for i in self._raw_idx]

    # -- items ----------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._raw_idx) * (2 if self._xflip else 1)

    def load_image(self, raw_index: int) -> np.ndarray:
        """Image ``raw_index`` (into the full list) as uint8 ``[3, R, R]``."""
        name = self._names[raw_index]
        try:
            with Image.open(io.BytesIO(self._read_bytes(name))) as img:
                arr = np.asarray(img.convert("RGB"))
        except Exception as exc:  # noqa: BLE001
            raise StudioError(f"cannot read {name} in {self.path}: {exc}") from None
        if arr.shape[:2] != (self._resolution, self._resolution):
            raise StudioError(f"{name} in {self.path} is {arr.shape[1]}x{arr.shape[0]}, not "
                              f"{self._resolution}x{self._resolution}: the images differ in size; "
                              "prepare them with `studio prepare`")
        return arr.transpose(2, 0, 1)

    def get_label(self, index: int) -> torch.Tensor:
        n = len(self._raw_idx)
        if not -len(self) <= index < len(self):
            raise IndexError(index)
        if not self._use_labels:
            return torch.zeros(0, dtype=torch.float32)
        return torch.from_numpy(self._labels[self._raw_idx[index % n]].copy())

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} images")
        index %= len(self)
        n = len(self._raw_idx)
        arr = self.load_image(int(self._raw_idx[index % n]))
        if index >= n:
            arr = arr[:, :, ::-1]
        return torch.from_numpy(np.ascontiguousarray(arr)), self.get_label(index)

    def class_indices(self) -> np.ndarray:
        """Every item's class number (its one-hot label's index), in item order."""
        if not self._use_labels:
            return np.zeros(len(self), dtype=np.int64)
        classes = self._labels[self._raw_idx].argmax(axis=1)
        return np.tile(classes, 2) if self._xflip else classes

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_zip"] = None   # each DataLoader worker opens its own handle
        return state

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()
            self._zip = None

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001
            pass

    def __repr__(self) -> str:
        return (f"ImageFolderDataset({str(self.path)!r}, {len(self)} items, {self._resolution}px"
                f"{f', {self.label_dim} labels' if self.has_labels else ''}{', xflip' if self._xflip else ''})")


#: The ``data`` of a run that trains on freshly painted procedural paintings (``--paintings fresh``).
FRESH_PAINTINGS = "paintings:fresh"
#: Their first seed: clear of the cached training set (0-19,999), the default CLIP's seeds and the
#: held-out paintings the model card measures on (below 10,000,000).
FRESH_SEED_START = 10_000_000


class PaintingStream(torch.utils.data.Dataset):
    """The procedural painter as a training set that never repeats: item i is painted when read.

    Item ``i`` is the painting of seed ``start_seed + i``, whose family is that seed mod 6 (so
    labels follow the item numbers without painting anything). With millions of items and about
    7 ms a painting, a discriminator sees each painting once, and cannot memorise the set, where a
    finite set of 20,000 paintings is seen dozens of times over a long run.

    Args:
        resolution: the paintings' side in pixels.
        start_seed: the first seed; keep clear of the held-out seeds the model card measures on.
        size: how many seeds the stream spans.
        use_labels: return one-hot family labels (else an empty tensor).
    """

    def __init__(self, resolution: int, *, start_seed: int = FRESH_SEED_START, size: int = 2_000_000,
                 use_labels: bool = True) -> None:
        from studio.data.procedural import FAMILIES

        self._resolution, self.start_seed, self.size = int(resolution), int(start_seed), int(size)
        self._families = list(FAMILIES)
        self._use_labels = use_labels
        self.path = Path(FRESH_PAINTINGS)

    resolution = property(lambda self: self._resolution)
    num_channels = property(lambda self: 3)
    image_shape = property(lambda self: [3, self._resolution, self._resolution])
    has_labels = property(lambda self: self._use_labels)
    carries_labels = property(lambda self: True)
    label_dim = property(lambda self: len(self._families) if self._use_labels else 0)
    label_names = property(lambda self: list(self._families) if self._use_labels else None)
    aspect_ratio = property(lambda self: None)
    metadata = property(lambda self: None)

    def __len__(self) -> int:
        return self.size

    @property
    def summary(self) -> str:
        return "procedural paintings painted afresh for every image"

    def class_indices(self) -> np.ndarray:
        """Every item's family number, in item order (computed, not painted)."""
        if not self._use_labels:
            return np.zeros(self.size, dtype=np.int64)
        return (self.start_seed + np.arange(self.size, dtype=np.int64)) % len(self._families)

    def get_label(self, index: int) -> torch.Tensor:
        if not 0 <= index < self.size:
            raise IndexError(index)
        label = torch.zeros(self.label_dim, dtype=torch.float32)
        if self._use_labels:
            label[(self.start_seed + index) % len(self._families)] = 1
        return label

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        from studio.data.procedural import paint

        if not 0 <= index < self.size:
            raise IndexError(f"index {index} out of range for {self.size} paintings")
        arr = np.asarray(paint(self.start_seed + index, self._resolution).image.convert("RGB"))
        return torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1))), self.get_label(index)

    def close(self) -> None:
        pass

    def __repr__(self) -> str:
        return (f"PaintingStream({self.size:,} paintings from seed {self.start_seed:,}, {self._resolution}px"
                f"{f', {self.label_dim} labels' if self.has_labels else ''})")


def open_dataset(data: str | os.PathLike[str], *, resolution: int | None = None, use_labels: bool = True):
    """The training set ``data`` names: a prepared folder or zip (its images keep their own
    size), or :data:`FRESH_PAINTINGS`, painted at ``resolution`` (None: 128 px, the default model's)."""
    if str(data) == FRESH_PAINTINGS:
        return PaintingStream(resolution or 128, use_labels=use_labels)
    return ImageFolderDataset(data, resolution=None, use_labels=use_labels, xflip=False)


def _is_numbered(name: str) -> bool:
    parts = name.split("/")
    return len(parts) == 2 and len(parts[0]) == 5 and parts[0].isdigit()
