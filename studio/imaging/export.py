"""Export: write finished images as PNG, TIFF, JPEG or WebP with their recipe, DPI and colour profile.

What each format carries
    ======  ===========  ====================================  ==========================  ===========
    format  bit depths   recipe (JSON)                         DPI                         sRGB ICC
    ======  ===========  ====================================  ==========================  ===========
    PNG     8, 16        iTXt chunk ``studio.recipe``          pHYs chunk                  iCCP chunk
    TIFF    8, 16        ImageDescription (tag 270)            X/YResolution, unit inch    tag 34675
    JPEG    8            XMP packet (APP1); COM segments when  JFIF density (and EXIF)     APP2
                         the recipe is larger than one APP1
    WebP    8            XMP chunk                             EXIF X/YResolution          ICCP chunk
    ======  ===========  ====================================  ==========================  ===========

    :func:`studio.imaging.metadata.read_recipe` reads the recipe back from all of them, and
    :mod:`studio.imaging.metadata` is where each format's carrier is built. The ICC profile is
    the sRGB profile LittleCMS builds (through Pillow's ``ImageCms``); it is only embedded in
    colour images (an RGB profile does not describe a greyscale image). The pixels are encoded
    by :mod:`studio.imaging.codecs` (16-bit PNG and TIFF by its own small encoders).

Safety
    Every write goes through :func:`studio.core.atomic.atomic_path`: the target is either its
    old self or the complete new file, never a partial one, whatever happens (full disk,
    missing permission, cancel). An existing file is never replaced unless
    ``ExportSettings(overwrite=True)``; the check happens before encoding and again just before
    the temporary file is renamed into place. Operating-system failures become
    :class:`ExportError` with a one-line message that says what to do.
"""

from __future__ import annotations

import contextlib
import errno
import math
import os
import re
from dataclasses import dataclass, field, fields, replace
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Callable, Iterable, Iterator, Mapping, Sequence, Union

import numpy as np
from PIL import Image

from studio.core.atomic import atomic_path, remove_stale_temps
from studio.core.errors import StudioError
from studio.gan.recipe import Recipe
from studio.imaging import codecs

if TYPE_CHECKING:
    from studio.gan.render import Renderer
    from studio.imaging.postprocess import PostProcess

__all__ = [
    "FORMATS",
    "FORMAT_SUFFIXES",
    "FORMAT_LABELS",
    "ExportError",
    "ExportSettings",
    "ExportReport",
    "format_from_path",
    "srgb_profile",
    "export_image",
    "export_batch",
    "postprocess_and_export",
    "postprocess_record",
    "render_and_export",
    "unique_path",
]

#: Formats the studio exports, in the order menus list them.
FORMATS = ("png", "tiff", "jpeg", "webp")

#: File name suffixes of each format; the first is the one the studio writes.
FORMAT_SUFFIXES: dict[str, tuple[str, ...]] = {
    "png": (".png",),
    "tiff": (".tif", ".tiff"),
    "jpeg": (".jpg", ".jpeg"),
    "webp": (".webp",),
}

#: Human names of the formats, for messages.
FORMAT_LABELS = {"png": "PNG", "tiff": "TIFF", "jpeg": "JPEG", "webp": "WebP"}

_ALIASES = {"tif": "tiff", "jpg": "jpeg"}
_MAX_DPI = 100_000.0
_WEBP_MAX_SIDE = 16383
_JPEG_MAX_SIDE = 65535

ProgressFn = Callable[[int, int], None]     # (done, total)
CancelFn = Callable[[], bool]
PostProgressFn = Callable[[float, str], None]   # (fraction of the job done 0..1, stage now running)
ImageSource = Union[np.ndarray, Callable[[], np.ndarray]]


class ExportError(StudioError):
    """An export could not be written; the message is one line meant for the artist."""


# ---------------------------------------------------------------------------------------------
# Settings
# ---------------------------------------------------------------------------------------------


def _normal_format(value: Any) -> str:
    """``value`` as one of :data:`FORMATS` (case-insensitive; ``tif`` and ``jpg`` accepted)."""
    if not isinstance(value, str):
        raise ValueError(f"export format must be text (png, tiff, jpeg or webp), got {value!r}")
    name = value.strip().lower().lstrip(".")
    name = _ALIASES.get(name, name)
    if name not in FORMATS:
        raise ValueError(f"unknown export format {value!r}: use png, tiff, jpeg or webp")
    return name


MAX_REPEAT = 4
MAX_REPEAT_PIXELS = 400_000_000


def repeat_path(path: str | os.PathLike[str], repeat: int) -> Path:
    """Where the repeat of a tile exported to ``path`` goes: ``name-repeat3x3.png`` beside it."""
    target = Path(path)
    return target.with_name(f"{target.stem}-repeat{repeat}x{repeat}{target.suffix}")


@dataclass(frozen=True)
class ExportSettings:
    """How an image is written.

    ``quality`` (1-100) applies to JPEG and WebP. ``dpi`` is written into the file (None: no
    resolution is recorded). ``icc`` embeds the sRGB profile in colour images, ``embed_recipe``
    the recipe. ``overwrite`` allows replacing an existing file; without it an export into an
    existing name fails (:func:`export_image`) or picks a free name (:func:`export_batch`).
    Invalid values raise ``ValueError`` naming the setting.
    """

    format: str = "png"
    quality: int = 95
    dpi: float | None = None
    icc: bool = True
    embed_recipe: bool = True
    overwrite: bool = False
    repeat: int = 1                    # a seamless tile: also write it repeated repeat x repeat (2-4)

    def __post_init__(self) -> None:
        object.__setattr__(self, "format", _normal_format(self.format))
        quality = self.quality
        if isinstance(quality, bool) or not isinstance(quality, (int, np.integer)) or not 1 <= quality <= 100:
            raise ValueError(f"export quality must be a whole number from 1 to 100, got {quality!r}")
        object.__setattr__(self, "quality", int(quality))
        dpi = self.dpi
        if dpi is not None:
            if isinstance(dpi, bool) or not isinstance(dpi, (int, float, np.integer, np.floating)):
                raise ValueError(f"export dpi must be a number or None, got {dpi!r}")
            if not (math.isfinite(dpi) and 0 < dpi <= _MAX_DPI):
                raise ValueError(f"export dpi must be above 0 and at most {_MAX_DPI:g}, got {dpi!r}")
            object.__setattr__(self, "dpi", float(dpi))
        for name in ("icc", "embed_recipe", "overwrite"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"export setting '{name}' must be true or false, got {getattr(self, name)!r}")
        repeat = self.repeat
        if isinstance(repeat, bool) or not isinstance(repeat, (int, np.integer)) or not 1 <= repeat <= MAX_REPEAT:
            raise ValueError(f"export repeat must be a whole number from 1 to {MAX_REPEAT}, got {repeat!r}")
        object.__setattr__(self, "repeat", int(repeat))

    @property
    def suffix(self) -> str:
        """The file name suffix the studio writes for this format (``.png``, ``.tif`` ...)."""
        return FORMAT_SUFFIXES[self.format][0]

    @property
    def extension(self) -> str:
        """:attr:`suffix` without the dot."""
        return self.suffix[1:]

    def to_dict(self) -> dict[str, Any]:
        """The settings as a JSON-ready dict (what recipes record under ``export``)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ExportSettings:
        """Settings from :meth:`to_dict` output; missing keys take defaults, unknown keys are ignored."""
        if not isinstance(data, Mapping):
            raise ValueError(f"export settings must be an object, got {data!r}")
        known = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in known})


def format_from_path(path: str | os.PathLike[str]) -> str:
    """The export format a file name asks for, from its suffix (``.tif`` -> ``"tiff"``).

    Raises ``ValueError`` for a suffix the studio does not export.
    """
    suffix = Path(path).suffix.lower()
    for name, suffixes in FORMAT_SUFFIXES.items():
        if suffix in suffixes:
            return name
    shown = suffix or "(none)"
    raise ValueError(f"cannot tell the image format from the file name suffix {shown}: "
                     "use .png, .tif, .jpg or .webp")


@lru_cache(maxsize=1)
def srgb_profile() -> bytes | None:
    """The sRGB ICC profile as bytes (built by LittleCMS), or None when Pillow lacks ImageCms."""
    try:
        from PIL import ImageCms

        return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    except (ImportError, OSError, ValueError):  # Pillow built without LittleCMS
        return None


# ---------------------------------------------------------------------------------------------
# Input checks and error messages
# ---------------------------------------------------------------------------------------------



def _check_fits(array: np.ndarray, settings: ExportSettings, path: Path) -> None:
    """Refuse images a format cannot hold, with a message saying what would work."""
    height, width, channels = array.shape
    label = FORMAT_LABELS[settings.format]
    if settings.format in ("jpeg", "webp") and array.dtype == np.uint16:
        raise ExportError(f"{label} holds 8 bits per channel; export 16-bit images as PNG or TIFF, "
                          "or choose 8 bits")
    if settings.format == "jpeg" and channels == 4:
        raise ExportError("JPEG cannot hold transparency; export images with an alpha channel "
                          "as PNG, TIFF or WebP")
    limit = {"webp": _WEBP_MAX_SIDE, "jpeg": _JPEG_MAX_SIDE}.get(settings.format)
    if limit is not None and max(width, height) > limit:
        raise ExportError(f"{label} images can be at most {limit} pixels on a side, this one is "
                          f"{width}x{height}; export it as PNG or TIFF")
    if path.suffix.lower() not in FORMAT_SUFFIXES[settings.format]:
        raise ExportError(f"{path.name} does not end in {' or '.join(FORMAT_SUFFIXES[settings.format])} "
                          f"for a {label} export")


def _exists_message(path: Path) -> str:
    return f"{path} exists; choose another name or allow replacing it"


def _os_error_message(exc: OSError, path: Path) -> str:
    """One line that says why ``path`` could not be written and what to do."""
    folder = path.parent
    code = exc.errno
    if code in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        return f"cannot write {path.name}: the disk holding {folder} is full; free some space or choose another folder"
    if code in (errno.EACCES, errno.EPERM):
        return f"cannot write {path.name}: no permission to write in {folder}; choose another folder"
    if code == errno.EROFS:
        return f"cannot write {path.name}: {folder} is on a read-only disk; choose another folder"
    if code == errno.ENOENT:
        return f"cannot write {path.name}: the folder {folder} does not exist"
    if code == errno.ENAMETOOLONG:
        return f"cannot write {path.name}: the file name is too long"
    reason = " ".join(str(exc.strerror or exc).split())
    return f"cannot write {path}: {reason}"


@contextlib.contextmanager
def _os_errors_as_export_errors(path: Path) -> Iterator[None]:
    """Turn ``OSError`` raised inside the block into :class:`ExportError` for ``path``."""
    try:
        yield
    except ExportError:
        raise
    except OSError as exc:
        raise ExportError(_os_error_message(exc, path)) from exc


def _open_stream(path: Path) -> BinaryIO:
    """Open the temporary file an encoder writes (tests replace this to simulate failures)."""
    return open(path, "wb")



# ---------------------------------------------------------------------------------------------
# Public: one image
# ---------------------------------------------------------------------------------------------


def export_image(
    path: str | os.PathLike[str],
    image: np.ndarray | Image.Image,
    recipe: Recipe | None,
    settings: ExportSettings = ExportSettings(),
) -> Path:
    """Write ``image`` to ``path`` in ``settings.format`` with its recipe, DPI and sRGB profile.

    ``image`` is uint8 or uint16, HxW or HxWxC with C in 1 (grey), 3 (RGB) or 4 (RGBA); JPEG and
    WebP take 8 bits only, JPEG no alpha. ``path``'s suffix must suit the format and its folder
    must exist. Returns the path written. Raises :class:`ExportError` (one line) when the file
    exists and ``settings.overwrite`` is false, when the folder is missing or not writable, or
    when the disk fills up; in every failure no partial file is left and an existing file at
    ``path`` is unchanged. ``ValueError`` for an image that is not an image array.
    """
    target = Path(path).expanduser()
    array = codecs.as_image_array(image)
    _check_fits(array, settings, target)
    if target.is_dir():
        raise ExportError(f"{target} is a folder; give a file name to export to")
    if not target.parent.is_dir():
        raise ExportError(f"cannot write {target.name}: the folder {target.parent} does not exist")
    if not settings.overwrite and os.path.lexists(target):
        raise ExportError(_exists_message(target))
    remove_stale_temps(target.parent)           # what an export killed mid-write left behind
    recipe_text = recipe.to_json() if recipe is not None and settings.embed_recipe else None
    icc = srgb_profile() if settings.icc and array.shape[2] >= 3 else None
    encoder = codecs.ENCODERS[settings.format, settings.format == "png" and array.dtype == np.uint16]
    with _os_errors_as_export_errors(target):
        with atomic_path(target) as temp:
            with _open_stream(temp) as stream:
                encoder(stream, array, recipe_text, settings.dpi, icc, settings.quality)
            if not settings.overwrite and os.path.lexists(target):  # appeared while we encoded
                raise ExportError(_exists_message(target))
    return target


# ---------------------------------------------------------------------------------------------
# Encoders: each is (stream, image HxWxC, recipe JSON or None, dpi or None, ICC or None, quality)
# ---------------------------------------------------------------------------------------------



# ---------------------------------------------------------------------------------------------
# Reading images back (exactly, 16 bits included)
# ---------------------------------------------------------------------------------------------



# ---------------------------------------------------------------------------------------------
# Batches
# ---------------------------------------------------------------------------------------------


def unique_path(path: str | os.PathLike[str]) -> Path:
    """``path`` if nothing is there, else the first free ``stem (2).ext``, ``stem (3).ext`` ..."""
    target = Path(path)
    if not os.path.lexists(target):
        return target
    number = 2
    while True:
        candidate = target.with_name(f"{target.stem} ({number}){target.suffix}")
        if not os.path.lexists(candidate):
            return candidate
        number += 1


_UNSAFE_NAME = re.compile(r'[\\/:*?"<>|\x00-\x1f]')


#: The fields a batch's file-name pattern may use (the window's Export panel and export_batch).
NAME_FIELDS = ("name", "model", "latent", "seed", "index", "ext")

#: The window's file-name pattern for a batch of prints (``Abstract-seed0042.png``).
DEFAULT_NAME_PATTERN = "{model}-{latent}"


def file_name(pattern: str, index: int, name: str, recipe: Recipe | None, ext: str) -> str:
    """Fill ``pattern``'s fields and make the result a safe file name.

    ``{name}`` is the item's name, ``{model}`` the recipe's model (else the name), ``{latent}``
    ``seed0042`` or ``image003`` for an image without a seed, ``{seed}`` the seed or nothing,
    ``{index}`` the position in the batch from 1 (format specs work: ``{index:03d}``) and ``{ext}``
    the format's extension, added at the end when the pattern leaves it out.
    """
    seed = "" if recipe is None or recipe.seed is None else recipe.seed
    latent = f"seed{seed:04d}" if seed != "" else f"image{index:03d}"
    model = (recipe.model.name if recipe is not None and recipe.model.name else "") or name
    if "{ext" not in pattern:
        pattern += ".{ext}"
    try:
        # {n} was the window's name for {index} before the two front ends shared one vocabulary
        text = pattern.format(name=name, model=model, latent=latent, seed=seed, index=index, n=index, ext=ext)
    except (KeyError, IndexError, ValueError, AttributeError) as exc:
        raise ValueError(f"the file name pattern {pattern!r} is not valid ({exc}); "
                         f"use {', '.join('{' + f + '}' for f in NAME_FIELDS)}") from None
    text = _UNSAFE_NAME.sub("_", text).strip().strip(".")
    if not Path(text).stem:
        raise ValueError(f"the file name pattern {pattern!r} gives an empty name for image {index}")
    return text


PostSteps = Union["PostProcess", Sequence["PostProcess"], None]


def _steps(post: PostSteps) -> list[PostProcess]:
    """``post`` as a list of post-processing passes (None: none)."""
    if post is None:
        return []
    if isinstance(post, Sequence):
        return list(post)
    return [post]


def postprocess_record(post: PostSteps) -> dict[str, Any]:
    """What a recipe records under ``postprocess`` for ``post``.

    One pass is its ``to_dict()`` (so ``PostProcess.from_dict`` reads it back); several passes,
    applied in order, are ``{"steps": [pass.to_dict(), ...]}``; none is ``{}``.
    """
    steps = _steps(post)
    if not steps:
        return {}
    if len(steps) == 1:
        return steps[0].to_dict()
    return {"steps": [step.to_dict() for step in steps]}


def _with_settings(recipe: Recipe | None, post: PostSteps, export: ExportSettings) -> Recipe | None:
    """A copy of ``recipe`` recording the post-processing and export settings (None stays None)."""
    if recipe is None:
        return None
    return replace(recipe, postprocess=postprocess_record(post), export=export.to_dict())


def _to_uint8(image: np.ndarray) -> np.ndarray:
    """A 16-bit image reduced to 8 bits (nearest: ``round(x / 257)``); 8-bit images unchanged."""
    if image.dtype == np.uint16:
        return ((image.astype(np.uint32) + 128) // 257).astype(np.uint8)
    return image


def _run_steps(image: np.ndarray, post: PostSteps, progress: PostProgressFn | None = None,
               periodic: bool = False) -> tuple[np.ndarray, str, list[str]]:
    """Apply each pass in order: (image, the resamplers used joined by ', ', notes).

    Passes that change nothing are skipped. A 16-bit image is reduced to 8 bits first
    (post-processing works on 8-bit sources), with a note. A ``periodic`` image (a seamless
    tile) stays seamless: see :func:`_run_periodic`.
    """
    steps = [step for step in _steps(post) if not step.is_identity]
    if not steps:
        return image, "none", []
    if periodic:
        return _run_periodic(image, steps, progress)
    from studio.imaging.postprocess import apply

    notes: list[str] = []
    if image.dtype == np.uint16:
        image = _to_uint8(image)
        notes.append("the 16-bit source was reduced to 8 bits for post-processing")
    upscalers: list[str] = []
    for number, step in enumerate(steps):
        report = None
        if progress is not None:
            report = (lambda fraction, stage, n=number:
                      progress((n + fraction) / len(steps), stage))
        result = apply(image, step, progress=report)
        image = result.image
        notes.extend(result.notes)
        if result.upscaler != "none" and result.upscaler not in upscalers:
            upscalers.append(result.upscaler)
    return image, ", ".join(upscalers) or "none", notes


def keeps_period(image: np.ndarray, post: PostSteps) -> bool:
    """Whether the passes keep a seamless tile seamless: each scales or stretches the whole picture; a
    pass that crops or pads it to another shape cuts the period."""
    from studio.imaging.postprocess import output_size

    w, h = image.shape[1], image.shape[0]
    for step in _steps(post):
        out = output_size(w, h, step)
        if step.mode != "stretch" and out[0] * h != out[1] * w:
            return False
        w, h = out
    return True


def _run_periodic(image: np.ndarray, steps: list, progress: PostProgressFn | None):
    """Post-process a seamless tile so that it stays one: the passes work on the tile wrapped around
    by a quarter of itself on every side (resampling and sharpening see its continuation, not an
    edge), at sizes grown by the same share, and the middle is kept. Exact when the final size is
    even; an odd one can be a fraction of a pixel off its period."""
    from dataclasses import replace as copy_with

    from studio.imaging.postprocess import output_size

    h, w = image.shape[:2]
    my, mx = max(1, h // 4), max(1, w // 4)
    padded = np.pad(image, ((my, my), (mx, mx), (0, 0)), mode="wrap")
    size = (w, h)
    grown = []
    for step in steps:
        size = output_size(size[0], size[1], step)
        grown.append(copy_with(step, aspect=None, long_side=None,
                               size=(round(size[0] * (w + 2 * mx) / w), round(size[1] * (h + 2 * my) / h))))
    result, upscaler, notes = _run_steps(padded, grown, progress)
    top, left = round(my * size[1] / h), round(mx * size[0] / w)
    notes.append(f"a seamless tile: processed wrapped around itself (a quarter of its side on each edge), then "
                 f"cropped to {size[0]}x{size[1]}")
    return result[top:top + size[1], left:left + size[0]], upscaler, notes


def export_batch(
    items: Iterable[tuple[str, ImageSource, Recipe | None]],
    folder: str | os.PathLike[str],
    *,
    name_pattern: str = "{name}.{ext}",
    post: PostSteps = None,
    export: ExportSettings = ExportSettings(),
    progress: ProgressFn | None = None,
    should_cancel: CancelFn | None = None,
) -> list[ExportReport]:
    """Post-process and export many images into ``folder`` (created when missing).

    ``items`` are ``(name, image, recipe)``; ``image`` is an array or a callable returning one
    (rendered only when its turn comes). ``post`` is one :class:`PostProcess`, a sequence of
    passes applied in order, or None. ``name_pattern`` uses the fields of :func:`file_name`.
    Without ``export.overwrite``, a taken name becomes ``name (2).ext``, ``name (3).ext`` ...
    ``should_cancel`` is asked before each image and again before writing it: files already
    written stay, the image in progress leaves nothing. ``progress(done, total)`` follows each
    file (total is 0 when ``items`` has no length). Returns what was written, in order.
    """
    out = Path(folder).expanduser()
    with _os_errors_as_export_errors(out / "(folder)"):
        out.mkdir(parents=True, exist_ok=True)
    total = len(items) if isinstance(items, Sequence) else 0
    written: list[ExportReport] = []
    for index, (name, source, recipe) in enumerate(items, 1):
        if should_cancel is not None and should_cancel():
            break
        target = out / file_name(name_pattern, index, name, recipe, export.extension)
        if not export.overwrite:
            target = unique_path(target)
        _check_before_work(post, export, target)
        image = source() if callable(source) else source
        if should_cancel is not None and should_cancel():
            break
        written.append(postprocess_and_export(image, recipe, post, export, target))
        if progress is not None:
            progress(index, total)
    return written


# ---------------------------------------------------------------------------------------------
# One print: render (or take pixels), post-process, write
# ---------------------------------------------------------------------------------------------


@dataclass
class ExportReport:
    """What an export wrote: the file, its pixel size (width, height), the resampler / upscaler
    used, notes on what was done, the DPI written (or None) and the bits per channel."""

    path: Path
    size: tuple[int, int]
    upscaler: str
    notes: list[str] = field(default_factory=list)
    dpi: float | None = None
    bits: int = 8
    repeat_path: Path | None = None       # a tile's repeat, when one was written beside it

    @property
    def print_size_inches(self) -> tuple[float, float] | None:
        """(width, height) in inches at the file's DPI, or None when no DPI was written."""
        if self.dpi is None:
            return None
        return self.size[0] / self.dpi, self.size[1] / self.dpi


def _check_before_work(post: PostSteps, export: ExportSettings, target: Path) -> None:
    """Refuse what would fail only at the end (existing file, missing folder, 16 bits in
    JPEG/WebP) before the slow part."""
    if not export.overwrite and os.path.lexists(target):
        raise ExportError(_exists_message(target))
    if not target.parent.is_dir():
        raise ExportError(f"cannot write {target.name}: the folder {target.parent} does not exist")
    steps = _steps(post)
    if export.format in ("jpeg", "webp") and steps and steps[-1].bit_depth == 16:
        raise ExportError(f"{FORMAT_LABELS[export.format]} holds 8 bits per channel; export 16-bit "
                          "images as PNG or TIFF, or choose 8 bits")


def postprocess_and_export(
    image: np.ndarray,
    recipe: Recipe | None,
    post: PostSteps,
    export: ExportSettings,
    path: str | os.PathLike[str],
    *,
    progress: PostProgressFn | None = None,
) -> ExportReport:
    """Post-process ``image`` with ``post`` (one pass or several, in order) and write it.

    The embedded recipe (a copy of ``recipe``) records ``post`` (see :func:`postprocess_record`)
    and ``export``. ``progress(fraction, stage)`` follows the work (0..1).
    """
    target = Path(path).expanduser()
    _check_before_work(post, export, target)
    report = None
    if progress is not None:
        report = lambda fraction, stage: progress(0.9 * fraction, stage)  # noqa: E731
    tile = recipe is not None and recipe.tile
    periodic = tile and keeps_period(image, post)
    if export.repeat > 1 and periodic and not export.overwrite and repeat_path(target, export.repeat).exists():
        raise ExportError(f"{repeat_path(target, export.repeat)} exists; allow replacing files, or choose another name")
    result, upscaler, notes = _run_steps(image, post, report, periodic=periodic)
    if progress is not None:
        progress(0.9, "write")
    embedded = _with_settings(recipe, post, export)
    written = export_image(target, result, embedded, export)
    repeated = None
    if export.repeat > 1:
        pixels = result.shape[0] * result.shape[1] * export.repeat ** 2
        if tile and not periodic:
            notes.append("the print crops or pads the tile, so it no longer repeats: no repeat was written")
        elif tile and pixels > MAX_REPEAT_PIXELS:
            notes.append(f"the {export.repeat} x {export.repeat} repeat would be {pixels / 1e6:,.0f} megapixels; "
                         f"it was not written (at most {MAX_REPEAT_PIXELS / 1e6:,.0f})")
        elif tile:
            repeated = export_image(repeat_path(written, export.repeat),
                                    np.tile(result, (export.repeat, export.repeat, 1)), embedded, export)
        else:
            notes.append("the picture is not a seamless tile, so no repeat was written")
    if progress is not None:
        progress(1.0, "done")
    height, width = result.shape[:2]
    return ExportReport(written, (width, height), upscaler, notes, export.dpi, result.dtype.itemsize * 8, repeated)


def render_and_export(
    renderer: Renderer,
    recipe: Recipe,
    post: PostSteps,
    export: ExportSettings,
    path: str | os.PathLike[str],
    *,
    progress: PostProgressFn | None = None,
) -> ExportReport:
    """Re-render ``recipe`` at full quality with ``renderer``, post-process it and write it.

    ``post`` is one :class:`PostProcess` or several passes applied in order.
    ``progress(fraction, stage)`` (optional) follows the stages "render", the post-processing
    stages and "write". The file's embedded recipe is ``recipe`` with ``postprocess`` and
    ``export`` filled in; ``recipe`` itself is not changed.
    """
    target = Path(path).expanduser()
    _check_before_work(post, export, target)
    if progress is not None:
        progress(0.0, "render")
    image = renderer.render_recipe(recipe)
    report = None
    if progress is not None:
        report = lambda fraction, stage: progress(0.2 + 0.8 * fraction, stage)  # noqa: E731
    return postprocess_and_export(image, recipe, post, export, target, progress=report)


def plan_passes(*, colour: Mapping[str, Any], shape: Mapping[str, Any], final: Mapping[str, Any],
                size: tuple[int, int] | None) -> tuple[list, str]:
    """Post-processing passes for colour, an aspect reshape and a final size (e.g. a print).

    One pass when they agree. When the aspect and the final size disagree (the issue's
    ``--aspect 1.27 --print 40x50cm``), two: colour and the reshape (with its mode) at the
    source's scale, then the result fills the final size, cropped centrally (or padded when the
    mode is pad) so it is not distorted twice. Returns the passes and a note for the user.
    """
    from studio.imaging.postprocess import PostProcess

    try:
        return [PostProcess(**colour, **shape, **final, size=size)], ""
    except ValueError:
        if shape.get("aspect") is None or size is None:
            raise
    mode = shape.get("mode", "stretch")
    fill = "pad" if mode == "pad" else "crop"
    passes = [PostProcess(**colour, **shape),
              PostProcess(**final, size=size, mode=fill, pad_color=shape.get("pad_color", (255, 255, 255)))]
    note = (f"the aspect reshape comes first ({mode}), then the image fills {size[0]}x{size[1]} px "
            f"({'padded' if fill == 'pad' else 'cropped centrally'})")
    return passes, note

