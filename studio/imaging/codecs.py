"""Image codecs: the encoders behind every export, and a reader that gets 16-bit samples back exactly.

8-bit PNG, JPEG and WebP are written by Pillow. Pillow cannot hold 16-bit colour images, and
tifffile is not a dependency (imageio's bundled copy is deprecated), so 16-bit PNG and all TIFF
files come from the small encoders here (``zlib`` only): PNG with the "Up" filter on every row;
TIFF as little-endian, Deflate-compressed strips with horizontal differencing (predictor 2),
chunky RGB(A) or greyscale, X/YResolution 1:1 with "no unit" when there is no DPI. 8-bit TIFF
uses the same encoder so that there is one TIFF code path, and because Pillow's libtiff writer
bypasses the Python file object (a full disk would come back as a bare "encoder error" instead
of ENOSPC). Both encoders stream row blocks to the file, so memory stays near one copy of the
image. :func:`read_image` reads every file written here back bit-exactly: 16-bit PNG and the
studio's TIFF layouts with the small decoders here, everything else with Pillow.

Every encoder has the signature ``(stream, image HxWxC, recipe JSON or None, dpi or None,
ICC profile or None, quality)``; :data:`ENCODERS` maps ``(format, 16-bit?)`` to one. Where the
recipe goes in each format is :mod:`studio.imaging.metadata`'s business.
"""

from __future__ import annotations

import contextlib
import io
import os
import struct
import zlib
from fractions import Fraction
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterator

import numpy as np
from PIL import Image

from studio import __version__
from studio.imaging import metadata

_CHUNK_BYTES = 1 << 20          # rows per encoded block / IDAT chunk / TIFF strip aim at ~1 MiB
_ZLIB_LEVEL = 6
_SOFTWARE = f"GAN Art Studio {__version__}"


def as_image_array(image: Any) -> np.ndarray:
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


def _write_all(stream: BinaryIO, data: bytes | memoryview) -> None:
    """Write ``data`` in chunks of at most :data:`_CHUNK_BYTES`."""
    view = memoryview(data)
    for start in range(0, len(view), _CHUNK_BYTES):
        stream.write(view[start:start + _CHUNK_BYTES])


def _pil_image(array: np.ndarray) -> Image.Image:
    """An 8-bit PIL image of an HxWxC uint8 array."""
    channels = array.shape[2]
    if channels == 1:
        return Image.fromarray(array[:, :, 0], mode=None)
    return Image.fromarray(array)


def _pixels_per_metre(dpi: float) -> int:
    return max(1, round(dpi / 0.0254))


def _encode_png_pillow(stream: BinaryIO, array: np.ndarray, recipe_text: str | None, dpi: float | None,
                       icc: bytes | None, quality: int) -> None:
    """8-bit PNG through Pillow (iTXt recipe, pHYs, iCCP)."""
    info = metadata.png_info(recipe_text)
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
        stream.write(_png_chunk(b"iTXt", metadata.png_itxt_data(recipe_text)))
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
        entries.append((270, _ASCII, metadata.tiff_description(recipe_text).encode("ascii")))
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
        data = metadata.insert_jpeg_segments(data, metadata.jpeg_segments(recipe_text))
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
        options["xmp"] = metadata.xmp_packet(recipe_text)
    buffer = io.BytesIO()
    _pil_image(array).save(buffer, **options)
    _write_all(stream, buffer.getbuffer())


#: The encoder for each (format, 16-bit?) pair.
ENCODERS: dict[tuple[str, bool], Callable[..., None]] = {
    ("png", False): _encode_png_pillow,
    ("png", True): _encode_png16,
    ("tiff", False): _encode_tiff,
    ("jpeg", False): _encode_jpeg,
    ("webp", False): _encode_webp,
}


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
        return as_image_array(_read_png16(source.read_bytes(), source.name))
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        with contextlib.suppress(_NotMine):
            return as_image_array(_read_tiff(source.read_bytes()))
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
                return as_image_array(np.asarray(picture).astype(np.uint16))
            if picture.mode not in ("L", "RGB", "RGBA"):
                has_alpha = "A" in picture.getbands() or "transparency" in picture.info
                picture = picture.convert("RGBA" if has_alpha else "RGB")
            return as_image_array(np.asarray(picture))
    except UnidentifiedImageError:
        raise ValueError(f"{source.name} is not an image the studio can read") from None
    except Image.DecompressionBombError:
        raise ValueError(f"{source.name} declares more pixels than the studio reads "
                         f"({Image.MAX_IMAGE_PIXELS * 2:,} at most): it may be a decompression bomb") from None


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


_CHUNK_BYTES = 1 << 20          # rows per encoded block / IDAT chunk / TIFF strip aim at ~1 MiB


_ZLIB_LEVEL = 6


_SOFTWARE = f"GAN Art Studio {__version__}"
