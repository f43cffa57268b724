"""Turn a folder of pictures into a training set (``studio prepare``).

The source folder is scanned recursively and never modified. Every file is decoded with
Pillow (EXIF orientation honoured; CMYK, greyscale, palette, 16-bit and alpha images made
RGB); files that cannot be used are skipped and listed with the reason. Each good picture is
cropped (see :data:`CROP_MODES`) and resized to a power-of-two square, optionally ranked with
CLIP against a phrase (the best kept, the rest copied to ``rejected/``, never lost), and
written in the layout of NVIDIA's ``dataset_tool.py``::

    DEST/00000/img00000000.png ...       1000 images per sub-folder
    DEST/dataset.json                    {"labels": [["00000/img00000000.png", 3], ...]} or null
    DEST/studio-dataset.json             resolution, count, crop, aspect ratio, label names ...
    DEST/report.json                     kept / skipped (with reasons) / rejected, CLIP scores
    DEST/rejected/...                    CLIP-rejected crops (only when filtering)

Crops are first written to ``DEST/.staging`` and moved into place at the end, so a cancelled
or failed run leaves no half-made dataset behind.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import shutil
import stat
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from studio.core.atomic import atomic_write_text
from studio.core.errors import StudioError
from studio.imaging.metadata import save_png

__all__ = [
    "CROP_MODES", "RESAMPLE_MODES", "ImageProblem", "PrepareCancelled", "PreparedImage", "PrepareReport",
    "scan_images", "is_regular_file", "load_image", "crop_image", "remove_frame", "mean_aspect_ratio", "parse_keep",
    "prepare",
    "dataset_file_name", "STUDIO_FILES",
]

CROP_MODES = ("square", "rect", "three", "pad", "stretch")
"""square: centre square. rect: centre rectangle at the dataset's mean aspect ratio, squeezed to a
square (GANscapes). three: left/centre/right (or top/centre/bottom) squares (MAGnet). pad:
letterbox onto black. stretch: the whole picture squeezed to a square."""

RESAMPLE_MODES = {"lanczos": Image.Resampling.LANCZOS, "box": Image.Resampling.BOX}

IMAGES_PER_FOLDER = 1000
STAGING = ".staging"
STUDIO_FILES = ("dataset.json", "studio-dataset.json", "report.json")
_NUMBERED = re.compile(r"^\d{5}$")
#: Names of crops waiting in the staging folder (``00000042.png``).
_STAGED = re.compile(r"\d{8}\.png")
_PARTS = {"three_landscape": ("left", "centre", "right"), "three_portrait": ("top", "centre", "bottom")}

Progress = Callable[[str, int, int], None]


class ImageProblem(StudioError):
    """A file that cannot be used as a training image; ``reason`` is a short phrase for the report."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class PrepareCancelled(StudioError):
    """``should_cancel`` returned True; nothing was left in the output folder."""


@dataclass
class PreparedImage:
    """One crop: where it went (relative to the output), where it came from, and its score."""

    file: str                      # e.g. "00000/img00000000.png" or "rejected/foo-left.png"
    source: str                    # relative to the source folder, '/'-separated
    part: str | None = None        # left / centre / right / top / bottom for crop 'three'
    label: str | None = None       # the sub-folder name with labels_from_folders
    score: float | None = None     # CLIP score when filtering

    def to_json(self) -> dict:
        return {"file": self.file, "source": self.source, "part": self.part, "label": self.label,
                "score": None if self.score is None else round(float(self.score), 6)}


@dataclass
class PrepareReport:
    """What :func:`prepare` did. ``skipped`` holds (source path, reason) for every unused file."""

    out: Path
    kept: list[PreparedImage] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    rejected: list[PreparedImage] = field(default_factory=list)
    aspect_ratio: float | None = None
    label_names: list[str] | None = None
    resolution: int = 0
    crop: str = "square"
    sources_used: int = 0
    left: list[Path] = field(default_factory=list)   # files --force found but did not make, so kept

    @property
    def count(self) -> int:
        return len(self.kept)

    def summary(self) -> str:
        """A few lines for people: counts, then every skipped file with its reason."""
        lines = [f"prepared {self.count} image{'s' * (self.count != 1)} at {self.resolution}x{self.resolution} "
                 f"(crop {self.crop}) from {self.sources_used} picture{'s' * (self.sources_used != 1)} "
                 f"into {self.out}"]
        if self.aspect_ratio is not None:
            lines.append(f"aspect ratio {self.aspect_ratio:.4f}:1 recorded (stretch exports back to it)")
        if self.label_names:
            lines.append(f"{len(self.label_names)} labels: {', '.join(self.label_names)}")
        if self.rejected:
            lines.append(f"CLIP rejected {len(self.rejected)}: copied to {self.out / 'rejected'}")
        if self.skipped:
            lines.append(f"skipped {len(self.skipped)} file{'s' * (len(self.skipped) != 1)}:")
            lines += [f"  {path}: {reason}" for path, reason in self.skipped]
        if self.left:
            lines.append(f"left {len(self.left)} file{'s' * (len(self.left) != 1)} the studio did not make:")
            lines += [f"  {path}" for path in self.left]
        lines.append(f"report: {self.out / 'report.json'}")
        return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Scanning and decoding


def scan_images(src: str | os.PathLike[str], *, exclude: Iterable[Path] = ()) -> list[Path]:
    """Every file under ``src`` (recursively, sorted, hidden files and folders left out).

    Non-images, FIFOs, devices and broken links are included on purpose: :func:`prepare`
    reports them as skipped (without opening them). Folders in ``exclude`` (e.g. an output
    folder inside the source) are not entered.
    """
    root = Path(src)
    excluded = {p.resolve() for p in exclude}
    found: list[Path] = []
    for folder, dirs, files in os.walk(root, followlinks=False):
        here = Path(folder)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and (here / d).resolve() not in excluded)
        for name in sorted(files):
            path = here / name
            if not name.startswith(".") and not path.is_dir():
                found.append(path)
    return sorted(found, key=lambda p: p.relative_to(root).as_posix())


def _to_rgb(img: Image.Image) -> Image.Image:
    """Any Pillow mode -> 8-bit RGB; transparency is composited onto white."""
    mode = img.mode
    if mode == "RGB":
        return img
    if mode.startswith("I") or mode == "F":
        arr = np.asarray(img).astype(np.float64)
        top = float(arr.max()) if arr.size else 0.0
        if mode.startswith("I;16") or 255 < top <= 65535:
            arr = arr / 257.0
        elif mode == "F" and top <= 1.0:
            arr = arr * 255.0
        elif top > 65535:
            arr = arr * (255.0 / top)
        return Image.fromarray(np.clip(np.rint(arr), 0, 255).astype(np.uint8), "L").convert("RGB")
    if mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    elif mode == "1":
        img = img.convert("L")
    elif mode in ("LA", "La", "PA", "RGBa"):
        img = img.convert("RGBA")
    elif mode == "L" and "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode == "RGBA":
        white = Image.new("RGBA", img.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, img).convert("RGB")
    return img.convert("RGB")


def _file_kind(mode: int) -> str:
    for test, kind in ((stat.S_ISFIFO, "FIFO"), (stat.S_ISSOCK, "socket"), (stat.S_ISCHR, "character device"),
                       (stat.S_ISBLK, "block device")):
        if test(mode):
            return kind
    return "special file"


def is_regular_file(path: str | os.PathLike[str]) -> bool:
    """True for a plain file (links followed); False for FIFOs, devices, folders, broken links."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


def load_image(path: str | os.PathLike[str], *, min_size: int | None = None,
               max_pixels: int | None = None) -> Image.Image:
    """Decode ``path`` fully into an RGB image, honouring EXIF orientation.

    Args:
        min_size: the shortest side must be at least this many pixels (None: no limit).
        max_pixels: larger images are refused as decompression bombs (None: Pillow's
            ``Image.MAX_IMAGE_PIXELS``; 0: no limit).

    Raises:
        ImageProblem: with ``reason`` "not a regular file (a FIFO)", "empty file", "not an image",
            "truncated", "too small (WxH px; need N)", "decompression bomb (N px)" or "unreadable (...)".
    """
    path = Path(path)
    try:
        info = path.stat()
    except OSError as exc:
        raise ImageProblem(f"unreadable ({exc.strerror or exc})") from None
    if not stat.S_ISREG(info.st_mode):   # opening a FIFO would wait for a writer forever
        raise ImageProblem(f"not a regular file (a {_file_kind(info.st_mode)})")
    if info.st_size == 0:
        raise ImageProblem("empty file")
    limit = Image.MAX_IMAGE_PIXELS if max_pixels is None else (max_pixels or None)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                width, height = img.size
                if limit and width * height > limit:
                    raise ImageProblem(f"decompression bomb ({width * height:,} px)")
                if min_size and min(width, height) < min_size:
                    raise ImageProblem(f"too small ({width}x{height} px; need {min_size})")
                if ImageFile.LOAD_TRUNCATED_IMAGES:  # someone else's global; still detect truncation
                    raise ImageProblem("unreadable (Pillow is set to load truncated images)")
                img.load()
                rgb = _to_rgb(ImageOps.exif_transpose(img))
                rgb.load()
                return rgb
    except ImageProblem:
        raise
    except Image.DecompressionBombError as exc:
        pixels = re.search(r"\((\d+) pixels\)", str(exc))
        raise ImageProblem(f"decompression bomb ({int(pixels.group(1)):,} px)" if pixels
                           else "decompression bomb") from None
    except UnidentifiedImageError:
        raise ImageProblem("not an image") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        text = str(exc)
        if "truncated" in text.lower() or isinstance(exc, EOFError) or "broken data stream" in text.lower():
            raise ImageProblem("truncated") from None
        raise ImageProblem(f"unreadable ({text or type(exc).__name__})") from None
    except Exception as exc:  # noqa: BLE001 - a plugin bug must not stop a whole dataset
        raise ImageProblem(f"unreadable ({type(exc).__name__}: {exc})") from None


# --------------------------------------------------------------------------------------------
# Cropping


def remove_frame(img: Image.Image, *, tolerance: float = 18.0, max_fraction: float = 0.2) -> Image.Image:
    """Trim a picture frame or scanner border: near-uniform bands along each edge.

    A band is trimmed while its rows (or columns) stay within ``tolerance`` (0-255) of the
    outermost row's median colour, at most ``max_fraction`` of the side from each edge.
    """
    arr = np.asarray(img, dtype=np.int16)
    h, w = arr.shape[:2]

    def depth(lines: np.ndarray, limit: int) -> int:
        ref = np.median(lines[0], axis=0)
        for i in range(min(limit, len(lines))):
            if np.abs(lines[i] - ref).max(axis=-1).mean() > tolerance:
                return i
        return min(limit, len(lines))

    top = depth(arr, int(h * max_fraction))
    bottom = depth(arr[::-1], int(h * max_fraction))
    left = depth(arr.transpose(1, 0, 2), int(w * max_fraction))
    right = depth(arr.transpose(1, 0, 2)[::-1], int(w * max_fraction))
    if not (top or bottom or left or right):
        return img
    return img.crop((left, top, w - right, h - bottom))


def _resize(img: Image.Image, size: tuple[int, int], resample: str) -> Image.Image:
    if img.size == size:
        return img.copy()
    try:
        method = RESAMPLE_MODES[resample]
    except KeyError:
        raise StudioError(f"unknown resampling {resample!r}: use {' or '.join(RESAMPLE_MODES)}") from None
    return img.resize(size, method, reducing_gap=3.0 if method == Image.Resampling.LANCZOS else None)


def _centre_box(width: int, height: int, ratio: float) -> tuple[int, int, int, int]:
    """The largest centred box of ``ratio`` (width / height) inside a width x height picture."""
    if width / height > ratio:
        w = max(1, min(width, round(height * ratio)))
        left = (width - w) // 2
        return left, 0, left + w, height
    h = max(1, min(height, round(width / ratio)))
    top = (height - h) // 2
    return 0, top, width, top + h


def crop_parts(mode: str, size: tuple[int, int]) -> list[str | None]:
    """Names of the crops ``crop_image`` makes for a picture of ``size`` (None for single crops)."""
    if mode != "three":
        return [None]
    return list(_PARTS["three_landscape" if size[0] >= size[1] else "three_portrait"])


def crop_image(img: Image.Image, mode: str, resolution: int, aspect_ratio: float | None = None,
               *, resample: str = "lanczos", pad_color: tuple[int, int, int] = (0, 0, 0)) -> list[Image.Image]:
    """Cut ``img`` into training squares of ``resolution`` pixels (see :data:`CROP_MODES`).

    Returns one image, or three for ``'three'`` (left, centre, right for landscape pictures;
    top, centre, bottom for portrait ones). ``aspect_ratio`` (width / height) is needed by
    ``'rect'``.
    """
    if mode not in CROP_MODES:
        raise StudioError(f"unknown crop {mode!r}: use one of {', '.join(CROP_MODES)}")
    img = img if img.mode == "RGB" else _to_rgb(img)
    w, h = img.size
    target = (resolution, resolution)
    if mode == "square":
        return [_resize(img.crop(_centre_box(w, h, 1.0)), target, resample)]
    if mode == "rect":
        if not aspect_ratio or aspect_ratio <= 0:
            raise StudioError("crop 'rect' needs the dataset's aspect ratio")
        return [_resize(img.crop(_centre_box(w, h, aspect_ratio)), target, resample)]
    if mode == "stretch":
        return [_resize(img, target, resample)]
    if mode == "pad":
        scale = resolution / max(w, h)
        inner = (max(1, round(w * scale)), max(1, round(h * scale)))
        canvas = Image.new("RGB", target, pad_color)
        canvas.paste(_resize(img, inner, resample), ((resolution - inner[0]) // 2, (resolution - inner[1]) // 2))
        return [canvas]
    side = min(w, h)   # three
    if w >= h:
        boxes = [(0, 0, side, h), ((w - side) // 2, 0, (w - side) // 2 + side, h), (w - side, 0, w, h)]
    else:
        boxes = [(0, 0, w, side), (0, (h - side) // 2, w, (h - side) // 2 + side), (0, h - side, w, h)]
    return [_resize(img.crop(box), target, resample) for box in boxes]


def mean_aspect_ratio(sizes: Iterable[tuple[int, int]]) -> float | None:
    """GANscapes' ratio: the mean of width / height over the pictures (None when there are none)."""
    ratios = [w / h for w, h in sizes if w > 0 and h > 0]
    return float(sum(ratios) / len(ratios)) if ratios else None


# --------------------------------------------------------------------------------------------
# Helpers


def parse_keep(keep: str | int, total: int) -> int:
    """How many of ``total`` crops ``keep`` ('500' or '90%') keeps (at least 1 when total > 0)."""
    text = str(keep).strip()
    try:
        if text.endswith("%"):
            pct = float(text[:-1])
            if not 0 < pct <= 100:
                raise ValueError
            count = math.ceil(total * pct / 100 - 1e-9)
        else:
            count = int(text)
            if count < 1:
                raise ValueError
    except ValueError:
        raise StudioError(f"--keep must be a count such as 500 or a percentage such as 90%; got {keep!r}") from None
    return max(0, min(total, count)) if total else 0


def dataset_file_name(index: int) -> str:
    """``dataset_tool.py``'s name for image ``index``: ``00000/img00000000.png``."""
    return f"{index // IMAGES_PER_FOLDER:05d}/img{index:08d}.png"


def _is_inside(path: Path, folder: Path) -> bool:
    try:
        path.relative_to(folder)
        return True
    except ValueError:
        return False


def _studio_entries(dest: Path) -> list[Path]:
    """The files and folders in ``dest`` that a previous ``prepare`` may have made."""
    entries = []
    for entry in sorted(dest.iterdir()):
        if entry.name in STUDIO_FILES and entry.is_file() and not entry.is_symlink():
            entries.append(entry)
        elif entry.is_dir() and not entry.is_symlink() and (_NUMBERED.match(entry.name)
                                                            or entry.name in ("rejected", STAGING)):
            entries.append(entry)
    return entries


def _previous_rejections(dest: Path) -> set[str]:
    """The names under ``rejected/`` that the previous run's report says it wrote."""
    try:
        report = json.loads((dest / "report.json").read_text(encoding="utf-8"))
        names = {entry["file"] for entry in report["rejected"]}
    except (OSError, ValueError, RecursionError, KeyError, TypeError):
        return set()
    return {n for n in names if isinstance(n, str) and re.fullmatch(r"rejected/[A-Za-z0-9._-]+\.png", n)}


def _check_dest(src: Path, dest: Path, force: bool) -> list[Path]:
    """Refuse an unusable output folder; with ``force``, remove what an earlier run wrote.

    Only the studio's own files go: its JSON files, the numbered folders of ``imgNNNNNNNN.png``,
    the pictures the previous report lists under ``rejected/`` and the numbered crops in
    ``.staging/``. Returns whatever else sat in those folders (left in place).
    """
    if _is_inside(dest, src) or _is_inside(src, dest):
        raise StudioError(f"the output folder {dest} must lie outside the source folder {src} (and not contain it): "
                          "the source is never modified")
    if dest.exists() and not dest.is_dir():
        raise StudioError(f"{dest} exists and is not a folder")
    if not dest.is_dir() or not any(dest.iterdir()):
        return []
    if not force:
        raise StudioError(f"the output folder {dest} is not empty; choose a new folder or add --force "
                          "to replace a dataset the studio prepared there")
    entries = _studio_entries(dest)
    for entry in entries:   # check everything before removing anything
        if _NUMBERED.match(entry.name) and any(
                not (re.fullmatch(r"img\d{8}\.png", p.name) and p.is_file() and not p.is_symlink())
                for p in entry.iterdir()):
            raise StudioError(f"{entry} holds files the studio did not make; --force replaces only the "
                              "studio's own files: move them away first")
    ours = _previous_rejections(dest)
    left: list[Path] = []
    for entry in entries:
        if entry.is_file():
            entry.unlink()
        elif _NUMBERED.match(entry.name):
            shutil.rmtree(entry)
        else:
            for path in sorted(entry.iterdir()):
                mine = (f"rejected/{path.name}" in ours if entry.name == "rejected"
                        else _STAGED.fullmatch(path.name) is not None)
                if mine and path.is_file() and not path.is_symlink():
                    path.unlink()
                else:
                    left.append(path)
            if not any(entry.iterdir()):
                entry.rmdir()
    return left


def _remove_written(staging: Path, written: list[Path]) -> None:
    """Remove this run's staged crops and ``written`` files, then the folders they leave empty."""
    staged = [p for p in staging.glob("*.png") if _STAGED.fullmatch(p.name)]
    for path in staged + written:
        with contextlib.suppress(OSError):
            path.unlink()
    for folder in {staging, *(p.parent for p in written)}:
        with contextlib.suppress(OSError):
            folder.rmdir()   # only when empty: a user's file keeps its folder


def _safe_stem(relative: str) -> str:
    stem = relative.rsplit(".", 1)[0] if "." in relative.rsplit("/", 1)[-1] else relative
    return re.sub(r"[^A-Za-z0-9._-]+", "_", stem.replace("/", "__")).strip("._") or "image"


# --------------------------------------------------------------------------------------------
# The pipeline


@dataclass
class _Crop:
    staged: Path
    source: str
    part: str | None
    label: str | None
    score: float | None = None


def prepare(
    src: str | os.PathLike[str],
    dest: str | os.PathLike[str],
    *,
    resolution: int,
    crop: str = "square",
    resample: str = "lanczos",
    clip_filter: str | None = None,
    keep: str | None = None,
    clip_spec: str = "default",
    clip_config: str | None = None,
    labels_from_folders: bool = False,
    min_size: int | None = None,
    max_pixels: int | None = None,
    trim_frames: bool = False,
    force: bool = False,
    device: str = "cpu",
    progress: Progress | None = None,
    should_cancel: Callable[[], bool] | None = None,
) -> PrepareReport:
    """Prepare the pictures under ``src`` as a training set in ``dest`` (see the module doc).

    Args:
        resolution: the side of the square images, a power of two (at least 4).
        crop: one of :data:`CROP_MODES`.
        resample: ``'lanczos'`` or ``'box'``.
        clip_filter: a phrase; when given, every crop is scored against it with CLIP and only
            the best ``keep`` are kept, the rest copied to ``dest/rejected``.
        keep: ``'500'`` (a count) or ``'90%'``; default 90% with ``clip_filter``.
        clip_spec, clip_config, device: which CLIP and where (see :func:`studio.clip.model.load_clip`).
        labels_from_folders: label each picture with its top-level sub-folder's name
            (GANGogh's genres); pictures directly in ``src`` are skipped.
        min_size: shortest acceptable side in pixels (default ``resolution // 2``).
        max_pixels: larger pictures are skipped as decompression bombs (default Pillow's limit).
        trim_frames: remove picture frames / uniform borders before cropping.
        force: allow a non-empty ``dest`` and replace the studio's own files there.
        progress: ``progress(stage, done, total)`` with stage "check", "crop" or "clip".
        should_cancel: polled between pictures; True stops with :class:`PrepareCancelled`.

    Raises:
        StudioError: bad arguments, an unusable ``dest``, or no usable picture at all.
    """
    src_path, dest_path = Path(src).expanduser().resolve(), Path(dest).expanduser().resolve()
    if not src_path.is_dir():
        raise StudioError(f"the source folder {src_path} does not exist" if not src_path.exists()
                          else f"{src_path} is not a folder")
    if not isinstance(resolution, int) or resolution < 4 or resolution & (resolution - 1):
        raise StudioError(f"the resolution must be a power of two such as 256, 512 or 1024; got {resolution}")
    if crop not in CROP_MODES:
        raise StudioError(f"unknown crop {crop!r}: use one of {', '.join(CROP_MODES)}")
    if resample not in RESAMPLE_MODES:
        raise StudioError(f"unknown resampling {resample!r}: use {' or '.join(RESAMPLE_MODES)}")
    if clip_filter is not None and not clip_filter.strip():
        raise StudioError("the CLIP filter phrase is empty: say what the pictures should show")
    if keep is not None and clip_filter is None:
        raise StudioError("--keep needs --clip-filter PHRASE (it keeps the pictures that best match the phrase)")
    keep = keep if keep is not None else "90%"
    if clip_filter is not None:
        parse_keep(keep, 1)   # validate early
    min_size = resolution // 2 if min_size is None else int(min_size)
    cancelled = should_cancel or (lambda: False)
    report_progress = progress or (lambda stage, done, total: None)

    report = PrepareReport(out=dest_path, resolution=resolution, crop=crop)
    report.left = _check_dest(src_path, dest_path, force)
    scorer = None
    if clip_filter is not None:   # load before the slow part: a bad CLIP fails fast
        from studio.clip.model import load_clip

        scorer = load_clip(clip_spec, device=device, config=clip_config)

    files = scan_images(src_path, exclude=[dest_path])

    def rel(path: Path) -> str:
        return path.relative_to(src_path).as_posix()

    # -- pass 1: check every file (and measure the aspect ratio) -------------------------------
    good: list[tuple[Path, str | None, tuple[int, int]]] = []
    for done, path in enumerate(files, 1):
        if cancelled():
            raise PrepareCancelled("preparation cancelled; nothing was written")
        label = None
        parts = path.relative_to(src_path).parts
        if labels_from_folders:
            if len(parts) < 2:
                report.skipped.append((path, "not in a sub-folder (no label)"))
                report_progress("check", done, len(files))
                continue
            label = parts[0]
        try:
            img = load_image(path, min_size=min_size, max_pixels=max_pixels)
            if trim_frames:
                img = remove_frame(img)
                if min(img.size) < min_size:
                    raise ImageProblem(f"too small after removing the frame ({img.size[0]}x{img.size[1]} px; "
                                       f"need {min_size})")
        except ImageProblem as problem:
            report.skipped.append((path, problem.reason))
        else:
            good.append((path, label, img.size))
            img.close()
        report_progress("check", done, len(files))
    if not good:
        raise StudioError(f"no usable pictures in {src_path} ({len(files)} file{'s' * (len(files) != 1)} checked"
                          + (f"; e.g. {rel(report.skipped[0][0])}: {report.skipped[0][1]}" if report.skipped else "")
                          + ")")
    if labels_from_folders:
        report.label_names = sorted({label for _, label, _ in good if label is not None})
    if crop == "rect":
        report.aspect_ratio = mean_aspect_ratio(size for _, _, size in good)

    # -- pass 2: crop into the staging folder ---------------------------------------------------
    dest_path.mkdir(parents=True, exist_ok=True)
    staging = dest_path / STAGING
    written: list[Path] = []   # what this run moved into place, removed again if it fails
    try:
        staging.mkdir(exist_ok=True)
        crops: list[_Crop] = []
        for done, (path, label, _) in enumerate(good, 1):
            if cancelled():
                raise PrepareCancelled("preparation cancelled; nothing was written")
            try:
                img = load_image(path, min_size=min_size, max_pixels=max_pixels)
                if trim_frames:
                    img = remove_frame(img)
            except ImageProblem as problem:   # changed since pass 1
                report.skipped.append((path, problem.reason))
                continue
            names = crop_parts(crop, img.size)
            for part, square in zip(names, crop_image(img, crop, resolution, report.aspect_ratio, resample=resample)):
                staged = staging / f"{len(crops):08d}.png"
                save_png(staged, square)
                crops.append(_Crop(staged, rel(path), part, label))
            report.sources_used += 1
            report_progress("crop", done, len(good))

        # -- optional CLIP ranking ---------------------------------------------------------------
        rejected: list[_Crop] = []
        if scorer is not None:
            batch = max(1, int(getattr(scorer, "batch_size", 32)))
            text = scorer.encode_text([clip_filter.strip()])[0]
            for start in range(0, len(crops), batch):
                if cancelled():
                    raise PrepareCancelled("preparation cancelled; nothing was written")
                chunk = crops[start:start + batch]
                arrays = []
                for c in chunk:
                    with Image.open(c.staged) as im:
                        arrays.append(np.asarray(im.convert("RGB")))
                scores = scorer.encode_images(np.stack(arrays)) @ text
                for c, s in zip(chunk, scores.tolist()):
                    c.score = float(s)
                report_progress("clip", min(start + batch, len(crops)), len(crops))
            n_keep = parse_keep(keep, len(crops))
            order = sorted(range(len(crops)), key=lambda i: -crops[i].score)
            keep_set = set(order[:n_keep])
            rejected = [crops[i] for i in order[n_keep:]]
            crops = [c for i, c in enumerate(crops) if i in keep_set]   # source order, as dataset_tool

        # -- move into place -------------------------------------------------------------------
        label_index = {name: i for i, name in enumerate(report.label_names or [])}
        labels = []
        for index, c in enumerate(crops):
            name = dataset_file_name(index)
            target = dest_path / name
            target.parent.mkdir(exist_ok=True)
            os.replace(c.staged, target)
            written.append(target)
            report.kept.append(PreparedImage(name, c.source, c.part, c.label, c.score))
            if c.label is not None:
                labels.append([name, label_index[c.label]])
        used: set[str] = set()
        for c in rejected:
            stem = _safe_stem(c.source) + (f"-{c.part}" if c.part else "")
            name, n = f"rejected/{stem}.png", 1
            while name in used or os.path.lexists(dest_path / name):   # never over a file left there
                n += 1
                name = f"rejected/{stem}-{n}.png"
            used.add(name)
            (dest_path / "rejected").mkdir(exist_ok=True)
            os.replace(c.staged, dest_path / name)
            written.append(dest_path / name)
            report.rejected.append(PreparedImage(name, c.source, c.part, c.label, c.score))
    except BaseException:
        _remove_written(staging, written)
        raise
    _remove_written(staging, [])

    # -- metadata ------------------------------------------------------------------------------
    created = datetime.now(timezone.utc).isoformat(timespec="seconds")
    atomic_write_text(dest_path / "dataset.json",
                      json.dumps({"labels": labels if labels_from_folders else None}, indent=1) + "\n")
    meta = {
        "version": 1, "resolution": resolution, "count": len(report.kept), "crop": crop,
        "aspect_ratio": report.aspect_ratio, "label_names": report.label_names, "source": str(src_path),
        "created": created, "resample": resample, "trim_frames": trim_frames,
    }
    atomic_write_text(dest_path / "studio-dataset.json", json.dumps(meta, indent=2) + "\n")
    full = {
        **meta,
        "counts": {"files": len(files), "kept": len(report.kept), "skipped": len(report.skipped),
                   "rejected": len(report.rejected), "pictures_used": report.sources_used},
        "clip": None if clip_filter is None else {"phrase": clip_filter.strip(), "keep": str(keep),
                                                  "model": getattr(scorer, "name", str(clip_spec))},
        "kept": [k.to_json() for k in report.kept],
        "skipped": [{"source": rel(p), "reason": r} for p, r in report.skipped],
        "rejected": [r.to_json() for r in report.rejected],
    }
    atomic_write_text(dest_path / "report.json", json.dumps(full, indent=2) + "\n")
    return report
