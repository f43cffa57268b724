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

    :func:`studio.engine.recipe.read_recipe` reads the recipe back from all of them. The ICC
    profile is the sRGB profile LittleCMS builds (through Pillow's ``ImageCms``); it is only
    embedded in colour images (an RGB profile does not describe a greyscale image).

Encoders
    8-bit PNG, JPEG and WebP are written by Pillow. Pillow cannot hold 16-bit colour images, and
    tifffile is not a dependency (imageio's bundled copy is deprecated), so 16-bit PNG and all
    TIFF files come from the small encoders below (``zlib`` only): PNG with the "Up" filter on
    every row; TIFF as little-endian, Deflate-compressed strips with horizontal differencing
    (predictor 2), chunky RGB(A) or greyscale, X/YResolution 1:1 with "no unit" when there is no
    DPI. 8-bit TIFF uses the same encoder so that there is one TIFF code path, and because
    Pillow's libtiff writer bypasses the Python file object (a full disk would come back as a
    bare "encoder error" instead of ENOSPC). Both encoders stream row blocks to the file, so
    memory stays near one copy of the image. :func:`read_image` reads every file written here
    back bit-exactly: 16-bit PNG and the studio's TIFF layouts with the small decoders below,
    everything else with Pillow.

Safety
    Every write goes through :func:`studio.engine.atomic.atomic_path`: the target is either its
    old self or the complete new file, never a partial one, whatever happens (full disk,
    missing permission, cancel). An existing file is never replaced unless
    ``ExportSettings(overwrite=True)``; the check happens before encoding and again just before
    the temporary file is renamed into place. Operating-system failures become
    :class:`ExportError` with a one-line message that says what to do.
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import math
import os
import re
import struct
import zlib
from dataclasses import dataclass, field, fields, replace
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Callable, Iterable, Iterator, Mapping, Sequence, Union
from xml.sax.saxutils import escape

import numpy as np
from PIL import Image, PngImagePlugin

from studio import __version__
from studio.engine.atomic import atomic_path
from studio.engine.errors import StudioError
from studio.engine.recipe import JPEG_COMMENT_PREFIX, PNG_KEY, XMP_NAMESPACE, XMP_SIGNATURE, Recipe

if TYPE_CHECKING:
    from studio.engine.postprocess import PostProcess
    from studio.engine.render import Renderer

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
    "read_image",
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
_CHUNK_BYTES = 1 << 20          # rows per encoded block / IDAT chunk / TIFF strip aim at ~1 MiB
_ZLIB_LEVEL = 6
_SOFTWARE = f"GAN Art Studio {__version__}"

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


def _as_image_array(image: Any) -> np.ndarray:
    """``image`` as a contiguous HxWxC uint8 / uint16 array with C in 1, 3, 4."""
    if isinstance(image, Image.Image):
        if image.mode not in ("L", "RGB", "RGBA", "I;16"):
            has_alpha = "A" in image.getbands() or "transparency" in image.info
            image = image.convert("RGBA" if has_alpha else "RGB")
        image = np.asarray(image)
    array = np.asarray(image)
    if array.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"an exported image must be uint8 or uint16, got {array.dtype}")
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3 or array.shape[2] not in (1, 3, 4):
        raise ValueError(f"an exported image must be HxW or HxWxC with C in 1, 3, 4; got shape {array.shape}")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(f"an exported image cannot be empty, got shape {array.shape}")
    return np.ascontiguousarray(array)


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


def _write_all(stream: BinaryIO, data: bytes | memoryview) -> None:
    """Write ``data`` in chunks of at most :data:`_CHUNK_BYTES`."""
    view = memoryview(data)
    for start in range(0, len(view), _CHUNK_BYTES):
        stream.write(view[start:start + _CHUNK_BYTES])


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
    array = _as_image_array(image)
    _check_fits(array, settings, target)
    if target.is_dir():
        raise ExportError(f"{target} is a folder; give a file name to export to")
    if not target.parent.is_dir():
        raise ExportError(f"cannot write {target.name}: the folder {target.parent} does not exist")
    if not settings.overwrite and os.path.lexists(target):
        raise ExportError(_exists_message(target))
    recipe_text = recipe.to_json() if recipe is not None and settings.embed_recipe else None
    icc = srgb_profile() if settings.icc and array.shape[2] >= 3 else None
    encoder = _ENCODERS[settings.format, settings.format == "png" and array.dtype == np.uint16]
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


def _pil_image(array: np.ndarray) -> Image.Image:
    """An 8-bit PIL image of an HxWxC uint8 array."""
    channels = array.shape[2]
    if channels == 1:
        return Image.fromarray(array[:, :, 0], mode=None)
    return Image.fromarray(array)


def _xmp_packet(recipe_text: str) -> bytes:
    """An XMP packet holding the recipe JSON as the ``studio:recipe`` property."""
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">\n'
        ' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
        f'  <rdf:Description rdf:about="" xmlns:studio="{XMP_NAMESPACE}">\n'
        f"   <studio:recipe>{escape(recipe_text)}</studio:recipe>\n"
        "  </rdf:Description>\n"
        " </rdf:RDF>\n"
        "</x:xmpmeta>\n"
        '<?xpacket end="w"?>'
    ).encode("utf-8")


def _ascii_json(recipe_text: str) -> str:
    """The same JSON with every non-ASCII character escaped (TIFF ASCII tags hold 7-bit text)."""
    return json.dumps(json.loads(recipe_text), indent=2, ensure_ascii=True)


def _pixels_per_metre(dpi: float) -> int:
    return max(1, round(dpi / 0.0254))


def _encode_png_pillow(stream: BinaryIO, array: np.ndarray, recipe_text: str | None, dpi: float | None,
                       icc: bytes | None, quality: int) -> None:
    """8-bit PNG through Pillow (iTXt recipe, pHYs, iCCP)."""
    info = PngImagePlugin.PngInfo()
    if recipe_text is not None:
        info.add_itxt(PNG_KEY, recipe_text, zip=True)
    info.add_text("Software", _SOFTWARE)
    options: dict[str, Any] = {"format": "PNG", "pnginfo": info}
    if dpi is not None:
        options["dpi"] = (dpi, dpi)
    if icc is not None:
        options["icc_profile"] = icc
    _pil_image(array).save(stream, **options)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _row_blocks(height: int, row_bytes: int) -> Iterator[tuple[int, int]]:
    """(start, stop) row ranges of about :data:`_CHUNK_BYTES` each."""
    step = max(1, _CHUNK_BYTES // max(1, row_bytes))
    for start in range(0, height, step):
        yield start, min(height, start + step)


def _encode_png16(stream: BinaryIO, array: np.ndarray, recipe_text: str | None, dpi: float | None,
                  icc: bytes | None, quality: int) -> None:
    """16-bit PNG (grey, RGB or RGBA): big-endian samples, "Up" filter on every row."""
    height, width, channels = array.shape
    colour_type = {1: 0, 3: 2, 4: 6}[channels]
    stream.write(b"\x89PNG\r\n\x1a\n")
    stream.write(_png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 16, colour_type, 0, 0, 0)))
    if icc is not None:
        stream.write(_png_chunk(b"iCCP", b"sRGB\x00\x00" + zlib.compress(icc, 9)))
    if dpi is not None:
        ppm = _pixels_per_metre(dpi)
        stream.write(_png_chunk(b"pHYs", struct.pack(">IIB", ppm, ppm, 1)))
    if recipe_text is not None:
        data = PNG_KEY.encode("latin-1") + b"\x00\x01\x00\x00\x00" + zlib.compress(recipe_text.encode("utf-8"), 9)
        stream.write(_png_chunk(b"iTXt", data))
    stream.write(_png_chunk(b"tEXt", b"Software\x00" + _SOFTWARE.encode("latin-1")))
    compressor = zlib.compressobj(_ZLIB_LEVEL)
    pending = bytearray()
    row_bytes = width * channels * 2
    previous = np.zeros(row_bytes, np.uint8)
    for start, stop in _row_blocks(height, row_bytes):
        rows = array[start:stop].astype(">u2").view(np.uint8).reshape(stop - start, row_bytes)
        above = np.concatenate([previous[None, :], rows[:-1]])
        filtered = np.empty((stop - start, row_bytes + 1), np.uint8)
        filtered[:, 0] = 2  # Up
        np.subtract(rows, above, out=filtered[:, 1:])  # uint8 arithmetic wraps modulo 256
        previous = rows[-1].copy()
        pending += compressor.compress(filtered.tobytes())
        while len(pending) >= _CHUNK_BYTES:
            stream.write(_png_chunk(b"IDAT", bytes(pending[:_CHUNK_BYTES])))
            del pending[:_CHUNK_BYTES]
    pending += compressor.flush()
    for start in range(0, len(pending), _CHUNK_BYTES):
        stream.write(_png_chunk(b"IDAT", bytes(pending[start:start + _CHUNK_BYTES])))
    stream.write(_png_chunk(b"IEND", b""))


# TIFF field types: SHORT, LONG, RATIONAL, ASCII, UNDEFINED
_SHORT, _LONG, _RATIONAL, _ASCII, _UNDEFINED = 3, 4, 5, 2, 7
_TIFF_TYPE_FORMAT = {_SHORT: "H", _LONG: "I", _RATIONAL: "II", _ASCII: "s", _UNDEFINED: "s"}


def _tiff_value(kind: int, values: Any) -> tuple[int, bytes]:
    """(count, little-endian bytes) of a TIFF field value."""
    if kind in (_ASCII, _UNDEFINED):
        data = values + b"\x00" if kind == _ASCII else values
        return len(data), data
    if kind == _RATIONAL:
        return len(values), b"".join(struct.pack("<II", n, d) for n, d in values)
    return len(values), struct.pack(f"<{len(values)}{_TIFF_TYPE_FORMAT[kind]}", *values)


def _rational(value: float) -> tuple[int, int]:
    fraction = Fraction(value).limit_denominator(10_000)
    return fraction.numerator, fraction.denominator


def _encode_tiff(stream: BinaryIO, array: np.ndarray, recipe_text: str | None, dpi: float | None,
                 icc: bytes | None, quality: int) -> None:
    """TIFF (8 or 16 bit; grey, RGB or RGBA): little-endian, Deflate strips with predictor 2."""
    height, width, channels = array.shape
    bits = array.dtype.itemsize * 8
    sample = np.dtype("<u2") if bits == 16 else np.dtype(np.uint8)
    row_bytes = width * channels * array.dtype.itemsize
    rows_per_strip = max(1, _CHUNK_BYTES // row_bytes)

    start_of_file = stream.tell()
    stream.write(b"II*\x00\x00\x00\x00\x00")  # header; the IFD offset is patched in at the end
    offsets: list[int] = []
    counts: list[int] = []
    for start in range(0, height, rows_per_strip):
        rows = array[start:start + rows_per_strip].astype(sample)
        differences = rows.copy()
        differences[:, 1:] -= rows[:, :-1]  # horizontal differencing per sample, wraps modulo 2**bits
        data = zlib.compress(differences.tobytes(), _ZLIB_LEVEL)
        offsets.append(stream.tell() - start_of_file)
        counts.append(len(data))
        stream.write(data)
        if stream.tell() % 2:
            stream.write(b"\x00")

    entries: list[tuple[int, int, Any]] = [
        (256, _LONG, [width]),
        (257, _LONG, [height]),
        (258, _SHORT, [bits] * channels),
        (259, _SHORT, [8]),                           # Adobe Deflate
        (262, _SHORT, [1 if channels == 1 else 2]),   # BlackIsZero / RGB
        (273, _LONG, offsets),
        (277, _SHORT, [channels]),
        (278, _LONG, [rows_per_strip]),
        (279, _LONG, counts),
        (284, _SHORT, [1]),                           # chunky
        (305, _ASCII, _SOFTWARE.encode("ascii")),
        (317, _SHORT, [2]),                           # horizontal differencing
    ]
    if recipe_text is not None:
        entries.append((270, _ASCII, _ascii_json(recipe_text).encode("ascii")))
    if dpi is not None:
        entries += [(282, _RATIONAL, [_rational(dpi)]), (283, _RATIONAL, [_rational(dpi)]), (296, _SHORT, [2])]
    else:  # baseline TIFF wants a resolution: 1:1 with "no absolute unit" says there is none
        entries += [(282, _RATIONAL, [(1, 1)]), (283, _RATIONAL, [(1, 1)]), (296, _SHORT, [1])]
    if channels == 4:
        entries.append((338, _SHORT, [2]))            # unassociated alpha
    if icc is not None:
        entries.append((34675, _UNDEFINED, icc))
    entries.sort(key=lambda entry: entry[0])

    # Values longer than 4 bytes go first (word aligned), then the IFD that points at them.
    encoded = [(tag, kind, *_tiff_value(kind, values)) for tag, kind, values in entries]
    fields_bytes = bytearray()
    ifd = bytearray(struct.pack("<H", len(encoded)))
    blob_start = stream.tell() - start_of_file
    for tag, kind, count, data in encoded:
        if len(data) <= 4:
            ifd += struct.pack("<HHI", tag, kind, count) + data.ljust(4, b"\x00")
        else:
            ifd += struct.pack("<HHII", tag, kind, count, blob_start + len(fields_bytes))
            fields_bytes += data + (b"\x00" if len(data) % 2 else b"")
    ifd += struct.pack("<I", 0)  # no next IFD
    ifd_offset = blob_start + len(fields_bytes)
    stream.write(bytes(fields_bytes))
    stream.write(bytes(ifd))
    end = stream.tell()
    stream.seek(start_of_file + 4)
    stream.write(struct.pack("<I", ifd_offset))
    stream.seek(end)


def _jpeg_segments(recipe_text: str) -> list[bytes]:
    """APP1 XMP segment for the recipe, or COM segments when it does not fit in one segment."""
    payload = XMP_SIGNATURE + _xmp_packet(recipe_text)
    if len(payload) <= 65533:
        return [b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload]
    data = recipe_text.encode("utf-8")
    room = 65533 - len(JPEG_COMMENT_PREFIX) - 24
    pieces = [data[i:i + room] for i in range(0, len(data), room)]
    segments = []
    for index, piece in enumerate(pieces, 1):
        body = JPEG_COMMENT_PREFIX + f"{index}/{len(pieces)}\n".encode("ascii") + piece
        segments.append(b"\xff\xfe" + struct.pack(">H", len(body) + 2) + body)
    return segments


def _insert_jpeg_segments(jpeg: bytes, segments: list[bytes]) -> bytes:
    """Insert ``segments`` after the SOI marker and the APPn segments Pillow wrote."""
    position = 2  # after SOI
    while position + 4 <= len(jpeg) and jpeg[position] == 0xFF and 0xE0 <= jpeg[position + 1] <= 0xEF:
        position += 2 + struct.unpack(">H", jpeg[position + 2:position + 4])[0]
    return jpeg[:position] + b"".join(segments) + jpeg[position:]


def _dpi_exif(dpi: float) -> Image.Exif:
    """EXIF with X/YResolution in dots per inch."""
    from PIL.TiffImagePlugin import IFDRational

    exif = Image.Exif()
    numerator, denominator = _rational(dpi)
    exif[0x011A] = IFDRational(numerator, denominator)
    exif[0x011B] = IFDRational(numerator, denominator)
    exif[0x0128] = 2  # inches
    exif[0x0131] = _SOFTWARE
    return exif


def _encode_jpeg(stream: BinaryIO, array: np.ndarray, recipe_text: str | None, dpi: float | None,
                 icc: bytes | None, quality: int) -> None:
    """JPEG through Pillow (4:4:4 from quality 90), recipe as XMP (or COM segments)."""
    options: dict[str, Any] = {"format": "JPEG", "quality": quality, "optimize": True,
                               "subsampling": 0 if quality >= 90 else 2}
    if dpi is not None:
        options["dpi"] = (round(dpi), round(dpi))  # JFIF density is a whole number
        options["exif"] = _dpi_exif(dpi).tobytes()
    if icc is not None:
        options["icc_profile"] = icc
    buffer = io.BytesIO()
    _pil_image(array).save(buffer, **options)
    data = buffer.getvalue()
    if recipe_text is not None:
        data = _insert_jpeg_segments(data, _jpeg_segments(recipe_text))
    _write_all(stream, data)


def _encode_webp(stream: BinaryIO, array: np.ndarray, recipe_text: str | None, dpi: float | None,
                 icc: bytes | None, quality: int) -> None:
    """WebP through Pillow, recipe as XMP, DPI in EXIF."""
    options: dict[str, Any] = {"format": "WEBP", "quality": quality, "method": 4}
    if dpi is not None:
        options["exif"] = _dpi_exif(dpi).tobytes()
    if icc is not None:
        options["icc_profile"] = icc
    if recipe_text is not None:
        options["xmp"] = _xmp_packet(recipe_text)
    buffer = io.BytesIO()
    _pil_image(array).save(buffer, **options)
    _write_all(stream, buffer.getbuffer())


_ENCODERS: dict[tuple[str, bool], Callable[..., None]] = {
    ("png", False): _encode_png_pillow,
    ("png", True): _encode_png16,
    ("tiff", False): _encode_tiff,
    ("jpeg", False): _encode_jpeg,
    ("webp", False): _encode_webp,
}


# ---------------------------------------------------------------------------------------------
# Reading images back (exactly, 16 bits included)
# ---------------------------------------------------------------------------------------------


def read_image(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an image file as HxWxC uint8 or uint16 (C in 1, 3, 4), keeping 16-bit samples exact.

    16-bit PNG is decoded here (Pillow would reduce it to 8 bits), and so are the TIFF layouts
    :func:`export_image` writes (strips, chunky, 8 or 16 bit, uncompressed or Deflate, with or
    without horizontal differencing); everything else goes through Pillow. Palette and
    grey+alpha images come back as RGB / RGBA. Raises ``ValueError`` for a file that is not a
    readable image, ``OSError`` when it cannot be read.
    """
    source = Path(path)
    with open(source, "rb") as handle:
        head = handle.read(32)
    if head.startswith(b"\x89PNG\r\n\x1a\n") and head[24] == 16:
        return _as_image_array(_read_png16(source.read_bytes(), source.name))
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        with contextlib.suppress(_NotMine):
            return _as_image_array(_read_tiff(source.read_bytes()))
    return _read_with_pillow(source)


class _NotMine(Exception):
    """A TIFF layout the small decoder does not handle (Pillow gets to try)."""


_TIFF_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 7: 1, 16: 8}


def _read_tiff(data: bytes) -> np.ndarray:
    """Decode the first image of a TIFF with the layouts the studio writes, else raise _NotMine."""
    try:
        return _decode_tiff(data)
    except (struct.error, KeyError, IndexError, ValueError, zlib.error):
        raise _NotMine from None  # damaged or unusual: Pillow decides what to say


def _decode_tiff(data: bytes) -> np.ndarray:
    order = "<" if data[:2] == b"II" else ">"
    (ifd,) = struct.unpack(order + "I", data[4:8])
    (count,) = struct.unpack(order + "H", data[ifd:ifd + 2])
    tags: dict[int, tuple[int, ...]] = {}
    for index in range(count):
        entry = data[ifd + 2 + 12 * index: ifd + 14 + 12 * index]
        tag, kind, number = struct.unpack(order + "HHI", entry[:8])
        if kind not in (3, 4):
            continue  # only the numeric fields matter here
        size = _TIFF_SIZES[kind] * number
        (offset,) = struct.unpack(order + "I", entry[8:12])
        raw = entry[8:8 + size] if size <= 4 else data[offset:offset + size]
        tags[tag] = struct.unpack(f"{order}{number}{'H' if kind == 3 else 'I'}", raw)
    width, height = tags[256][0], tags[257][0]
    channels = tags.get(277, (1,))[0]
    bits = set(tags.get(258, (1,)))
    compression, predictor = tags.get(259, (1,))[0], tags.get(317, (1,))[0]
    photometric, planar = tags.get(262, (-1,))[0], tags.get(284, (1,))[0]
    if (len(bits) != 1 or bits - {8, 16} or compression not in (1, 8, 32946) or predictor not in (1, 2)
            or planar != 1 or channels not in (1, 3, 4) or photometric not in (1, 2) or 273 not in tags
            or tags.get(339, (1,))[0] != 1):
        raise _NotMine
    dtype = np.dtype(order + ("u2" if bits == {16} else "u1"))
    strips = []
    for offset, length in zip(tags[273], tags[279]):
        chunk = data[offset:offset + length]
        strips.append(zlib.decompress(chunk) if compression != 1 else chunk)
    flat = np.frombuffer(b"".join(strips), dtype)
    if flat.size < height * width * channels:
        raise ValueError("truncated")
    pixels = flat[:height * width * channels].reshape(height, width, channels).astype(dtype.newbyteorder("="))
    if predictor == 2:
        pixels = np.cumsum(pixels, axis=1, dtype=pixels.dtype)  # wraps modulo 2**bits like the encoder
    return pixels


def _read_with_pillow(source: Path) -> np.ndarray:
    from PIL import UnidentifiedImageError

    try:
        with Image.open(source) as picture:
            picture.load()
            if picture.mode in ("I;16", "I;16B", "I;16L"):
                return _as_image_array(np.asarray(picture).astype(np.uint16))
            if picture.mode not in ("L", "RGB", "RGBA"):
                has_alpha = "A" in picture.getbands() or "transparency" in picture.info
                picture = picture.convert("RGBA" if has_alpha else "RGB")
            return _as_image_array(np.asarray(picture))
    except UnidentifiedImageError:
        raise ValueError(f"{source.name} is not an image the studio can read") from None


def _read_png16(data: bytes, name: str) -> np.ndarray:
    """Decode a non-interlaced 16-bit PNG (grey, grey+alpha, RGB, RGBA; all five filters)."""
    position = 8
    header = None
    compressed = bytearray()
    while position + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[position:position + 8])
        body = data[position + 8:position + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            compressed += body
        elif kind == b"IEND":
            break
        position += 12 + length
    if header is None:
        raise ValueError(f"{name} is not a valid PNG (no IHDR chunk)")
    width, height, depth, colour_type, _, _, interlace = header
    channels = {0: 1, 2: 3, 4: 2, 6: 4}.get(colour_type)
    if depth != 16 or channels is None or interlace != 0:
        raise ValueError(f"{name}: only non-interlaced 16-bit PNGs are decoded here")
    try:
        raw = np.frombuffer(zlib.decompress(bytes(compressed)), np.uint8)
    except zlib.error as exc:
        raise ValueError(f"{name} is a damaged PNG: {exc}") from None
    bpp = channels * 2
    stride = width * bpp + 1
    if raw.size < stride * height:
        raise ValueError(f"{name} is a truncated PNG")
    rows = raw[:stride * height].reshape(height, stride)
    out = np.empty((height, width * bpp), np.uint8)
    previous = np.zeros(width * bpp, np.uint8)
    for y in range(height):
        kind, line = rows[y, 0], rows[y, 1:]
        if kind == 0:
            current = line.copy()
        elif kind == 1:
            current = np.cumsum(line.reshape(width, bpp), axis=0, dtype=np.uint8).reshape(-1)
        elif kind == 2:
            current = line + previous
        elif kind in (3, 4):
            current = _unfilter_slow(kind, line, previous, bpp)
        else:
            raise ValueError(f"{name} is a damaged PNG (unknown row filter {kind})")
        out[y] = current
        previous = current
    pixels = out.view(">u2").reshape(height, width, channels).astype(np.uint16)
    if channels == 2:  # grey + alpha -> RGBA
        pixels = np.concatenate([pixels[:, :, :1]] * 3 + [pixels[:, :, 1:]], axis=2)
    return pixels


def _unfilter_slow(kind: int, line: np.ndarray, previous: np.ndarray, bpp: int) -> np.ndarray:
    """Undo the Average (3) or Paeth (4) filter, one pixel at a time."""
    current = line.astype(np.int32)
    above = previous.astype(np.int32)
    for x in range(0, line.size, bpp):
        left = current[x - bpp:x] if x else np.zeros(bpp, np.int32)
        up = above[x:x + bpp]
        if kind == 3:
            predictor = (left + up) // 2
        else:
            upper_left = above[x - bpp:x] if x else np.zeros(bpp, np.int32)
            p = left + up - upper_left
            pa, pb, pc = np.abs(p - left), np.abs(p - up), np.abs(p - upper_left)
            predictor = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, up, upper_left))
        current[x:x + bpp] = (current[x:x + bpp] + predictor) & 0xFF
    return current.astype(np.uint8)


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


def _file_name(pattern: str, index: int, name: str, recipe: Recipe | None, ext: str) -> str:
    """Fill ``pattern``'s fields ({name}, {ext}, {index}, {seed}) and make it a safe file name."""
    seed = "" if recipe is None or recipe.seed is None else recipe.seed
    try:
        text = pattern.format(name=name, ext=ext, index=index, seed=seed)
    except (KeyError, IndexError, ValueError) as exc:
        raise ValueError(f"the file name pattern {pattern!r} is not valid ({exc}); "
                         "use {name}, {index}, {seed} and {ext}") from None
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


def _run_steps(image: np.ndarray, post: PostSteps,
               progress: PostProgressFn | None = None) -> tuple[np.ndarray, str, list[str]]:
    """Apply each pass in order: (image, the resamplers used joined by ', ', notes).

    Passes that change nothing are skipped. A 16-bit image is reduced to 8 bits first
    (post-processing works on 8-bit sources), with a note.
    """
    steps = [step for step in _steps(post) if not step.is_identity]
    if not steps:
        return image, "none", []
    from studio.engine.postprocess import apply

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


def export_batch(
    items: Iterable[tuple[str, ImageSource, Recipe | None]],
    folder: str | os.PathLike[str],
    *,
    name_pattern: str = "{name}.{ext}",
    post: PostSteps = None,
    export: ExportSettings = ExportSettings(),
    progress: ProgressFn | None = None,
    should_cancel: CancelFn | None = None,
) -> list[Path]:
    """Post-process and export many images into ``folder`` (created when missing).

    ``items`` are ``(name, image, recipe)``; ``image`` is an array or a callable returning one
    (rendered only when its turn comes). ``post`` is one :class:`PostProcess`, a sequence of
    passes applied in order, or None. ``name_pattern`` may use ``{name}``, ``{index}``
    (1-based), ``{seed}`` (the recipe's, or empty) and ``{ext}``. Without
    ``export.overwrite``, a taken name becomes ``name (2).ext``, ``name (3).ext`` ...
    ``should_cancel`` is asked before each image and again before writing it: files already
    written stay, the image in progress leaves nothing. ``progress(done, total)`` follows each
    file (total is 0 when ``items`` has no length). Returns the paths written, in order.
    """
    out = Path(folder).expanduser()
    with _os_errors_as_export_errors(out / "(folder)"):
        out.mkdir(parents=True, exist_ok=True)
    total = len(items) if isinstance(items, Sequence) else 0
    written: list[Path] = []
    for index, (name, source, recipe) in enumerate(items, 1):
        if should_cancel is not None and should_cancel():
            break
        image = source() if callable(source) else source
        image, _, _ = _run_steps(image, post)
        if should_cancel is not None and should_cancel():
            break
        target = out / _file_name(name_pattern, index, name, recipe, export.extension)
        if not export.overwrite:
            target = unique_path(target)
        written.append(export_image(target, image, _with_settings(recipe, post, export), export))
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
    result, upscaler, notes = _run_steps(image, post, report)
    if progress is not None:
        progress(0.9, "write")
    written = export_image(target, result, _with_settings(recipe, post, export), export)
    if progress is not None:
        progress(1.0, "done")
    height, width = result.shape[:2]
    return ExportReport(written, (width, height), upscaler, notes, export.dpi, result.dtype.itemsize * 8)


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
    from studio.engine.postprocess import PostProcess

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

