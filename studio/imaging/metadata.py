"""The recipe inside image files: one writer of its carriers, one reader for every format.

A studio image carries its :class:`~studio.gan.recipe.Recipe` as JSON:

    PNG    an iTXt chunk ``studio.recipe`` (compressed)
    TIFF   the ImageDescription tag
    JPEG   an XMP packet (``studio:recipe``), and numbered ``COM`` segments for long recipes
    WebP   an XMP packet

:mod:`studio.imaging.export` encodes the pixels and asks this module for the metadata;
:func:`read_recipe` gets the recipe back from any of them (or from a ``.json`` file) and is what
the window's drop / Open image and ``studio export`` use. :func:`save_png` is the one PNG writer for
a rendered image (with its recipe when it has one) (``studio generate``, ranking, evolution, training grids).
"""

from __future__ import annotations

import json
import os
import struct
import xml.etree.ElementTree as ElementTree
import zlib
from pathlib import Path
from typing import Any, Mapping
from xml.sax.saxutils import escape

import numpy as np
from PIL import Image, PngImagePlugin, UnidentifiedImageError

from studio.core.atomic import atomic_path
from studio.gan.recipe import VERSION_KEY, Recipe

#: iTXt keyword of the recipe chunk in PNGs.
PNG_KEY = "studio.recipe"

#: XMP namespace of the ``studio:recipe`` property (JPEG and WebP).
XMP_NAMESPACE = "urn:gan-art-studio:recipe:1.0"

#: The APP1 signature that marks an XMP packet in a JPEG.
XMP_SIGNATURE = b"http://ns.adobe.com/xap/1.0/\x00"

#: Prefix of the studio's numbered JPEG comment segments (``studio.recipe 1/3\n...``).
JPEG_COMMENT_PREFIX = b"studio.recipe "


#: Key of the PNG iTXt chunk that holds the recipe JSON.
PNG_KEY = "studio.recipe"


#: XML namespace of the ``recipe`` property in the XMP packets of JPEG and WebP exports.
XMP_NAMESPACE = "urn:gan-art-studio:recipe:1.0"


#: What starts a JPEG APP1 segment holding XMP (the standard XMP namespace and a NUL).
XMP_SIGNATURE = b"http://ns.adobe.com/xap/1.0/\x00"


#: Start of each JPEG comment segment holding part of a large recipe; "I/N\n" and the part follow.
JPEG_COMMENT_PREFIX = b"studio.recipe "


def _to_image(image: Image.Image | np.ndarray) -> Image.Image:
    """Return a PIL image from a PIL image or a uint8 HW / HWC (1, 3 or 4 channels) array."""
    if isinstance(image, Image.Image):
        return image
    array = np.asarray(image)
    if array.dtype != np.uint8:
        raise ValueError(f"image array must be uint8, got {array.dtype}")
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
        raise ValueError(f"image array must be HxW or HxWxC with C in 1, 3, 4; got {array.shape}")
    return Image.fromarray(np.ascontiguousarray(array))


def png_info(recipe_text: str | None) -> PngImagePlugin.PngInfo:
    """Pillow's PNG text chunks holding the recipe JSON (an iTXt chunk, compressed)."""
    info = PngImagePlugin.PngInfo()
    if recipe_text is not None:
        info.add_itxt(PNG_KEY, recipe_text, zip=True)
    return info


def png_itxt_data(recipe_text: str) -> bytes:
    """The body of the recipe's iTXt chunk, for encoders that write PNG chunks themselves."""
    return PNG_KEY.encode("latin-1") + b"\x00\x01\x00\x00\x00" + zlib.compress(recipe_text.encode("utf-8"), 9)


def save_png(
    path: str | os.PathLike[str],
    image: Image.Image | np.ndarray,
    recipe: Recipe | None = None,
    *,
    dpi: float | tuple[float, float] | None = None,
    compress_level: int = 6,
    durable: bool = True,
) -> None:
    """Save ``image`` as a PNG at ``path``, with ``recipe`` in an iTXt chunk (``studio.recipe``) when given.

    ``image`` is a PIL image or a uint8 array (HxW, HxWx1, HxWx3 or HxWx4). ``dpi`` is one
    number or an (x, y) pair. The write is atomic: ``path`` is either the old file or the
    complete new one, never a partial file. ``durable=False`` skips the fsync (for the thousands
    of images of a dataset, which are written again if a run is interrupted); the temporary
    file is then ``.NAME.tmp`` beside the target.
    """
    picture = _to_image(image)
    options: dict[str, Any] = {"format": "PNG", "compress_level": compress_level}
    if recipe is not None:
        options["pnginfo"] = png_info(recipe.to_json())
    if dpi is not None:
        options["dpi"] = (dpi, dpi) if isinstance(dpi, (int, float)) else tuple(dpi)
    if durable:
        with atomic_path(path) as temp:
            picture.save(temp, **options)
        return
    target = Path(path)
    temp = target.with_name(f".{target.name}.tmp")
    try:
        picture.save(temp, **options)
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def read_recipe(path: str | os.PathLike[str]) -> Recipe | None:
    """Read the recipe carried by an image or stored in a ``.json`` file.

    Images: PNG (``studio.recipe`` chunk), TIFF (ImageDescription), JPEG (XMP or the studio's
    comment segments) and WebP (XMP), as :mod:`studio.imaging.export` writes them. Returns None
    when the file holds no recipe (an image without one, a JSON object that is not a recipe).
    Raises ``ValueError`` for a recipe that is present but broken and for a file that is
    neither JSON nor a readable image; ``OSError`` if it cannot be read.
    """
    source = Path(path)
    if source.suffix.lower() == ".json":
        return _read_json_recipe(source)
    try:
        with Image.open(source) as picture:
            if picture.format == "TIFF":
                return _tiff_recipe(picture)
            if picture.format == "JPEG":
                text = _jpeg_recipe_text(picture, source.name)
            elif picture.format == "WEBP":
                text = _xmp_recipe_text(picture.info.get("xmp"), source.name)
            else:
                text = getattr(picture, "text", {}).get(PNG_KEY)
    except UnidentifiedImageError:
        raise ValueError(f"{source.name} is neither an image nor a recipe file") from None
    except Image.DecompressionBombError:
        raise ValueError(f"{source.name} declares more pixels than the studio reads: it may be a decompression "
                         "bomb") from None
    return None if text is None else Recipe.from_json(text)


def _tiff_recipe(picture: Image.Image) -> Recipe | None:
    """The recipe in a TIFF's ImageDescription; None when the description is something else."""
    description = picture.tag_v2.get(270)  # type: ignore[attr-defined]
    if isinstance(description, bytes):
        description = description.decode("utf-8", errors="replace")
    if not isinstance(description, str) or VERSION_KEY not in description:
        return None
    try:
        data = json.loads(description)
    except json.JSONDecodeError:
        return None  # a description that merely mentions the key
    except RecursionError:
        raise ValueError("the recipe in this TIFF is nested too deeply to be a studio recipe") from None
    if not isinstance(data, Mapping) or VERSION_KEY not in data:
        return None
    return Recipe.from_dict(data)


def _jpeg_recipe_text(picture: Image.Image, name: str) -> str | None:
    """The recipe JSON in a JPEG's XMP segment or in the studio's numbered comment segments."""
    segments = getattr(picture, "applist", [])
    for marker, data in segments:
        if marker == "APP1" and data.startswith(XMP_SIGNATURE):
            text = _xmp_recipe_text(data[len(XMP_SIGNATURE):], name)
            if text is not None:
                return text
    parts: dict[int, bytes] = {}
    count = 0
    for marker, data in segments:
        if marker != "COM" or not data.startswith(JPEG_COMMENT_PREFIX):
            continue
        head, _, body = data[len(JPEG_COMMENT_PREFIX):].partition(b"\n")
        try:
            index, total = (int(n) for n in head.decode("ascii").split("/"))
        except (UnicodeDecodeError, ValueError):
            raise ValueError(f"the recipe in {name} is damaged (bad comment segment header)") from None
        parts[index] = body
        count = total
    if not parts:
        return None
    if sorted(parts) != list(range(1, count + 1)):
        raise ValueError(f"the recipe in {name} is incomplete ({len(parts)} of {count} parts)")
    try:
        return b"".join(parts[i] for i in range(1, count + 1)).decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"the recipe in {name} is damaged (not UTF-8 text)") from None


def _xmp_recipe_text(packet: bytes | str | None, name: str) -> str | None:
    """The ``studio:recipe`` property of an XMP packet, or None when it has none."""
    if not packet:
        return None
    text = packet.decode("utf-8", errors="replace") if isinstance(packet, bytes) else packet
    if XMP_NAMESPACE not in text:
        return None
    if "<!DOCTYPE" in text or "<!ENTITY" in text:  # never expand entities from a file
        raise ValueError(f"the recipe metadata in {name} is not plain XMP")
    try:
        root = ElementTree.fromstring(text.lstrip("\ufeff"))
    except ElementTree.ParseError as exc:
        raise ValueError(f"the recipe metadata in {name} is not valid XML: {exc}") from None
    key = f"{{{XMP_NAMESPACE}}}recipe"
    for element in root.iter():
        if element.tag == key:
            return element.text or ""
        if key in element.attrib:
            return element.attrib[key]
    return None


def _read_json_recipe(source: Path) -> Recipe | None:
    """Read a ``.json`` file; None when it is valid JSON but not a recipe."""
    try:
        data = json.loads(source.read_bytes())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{source.name} is not valid JSON: {exc}") from None
    except RecursionError:
        raise ValueError(f"{source.name} is nested too deeply to be a studio recipe") from None
    if not isinstance(data, Mapping) or VERSION_KEY not in data:
        return None
    return Recipe.from_dict(data)


def xmp_packet(recipe_text: str) -> bytes:
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


def tiff_description(recipe_text: str) -> str:
    """The same JSON with every non-ASCII character escaped (TIFF ASCII tags hold 7-bit text)."""
    return json.dumps(json.loads(recipe_text), indent=2, ensure_ascii=True)


def jpeg_segments(recipe_text: str) -> list[bytes]:
    """APP1 XMP segment for the recipe, or COM segments when it does not fit in one segment."""
    payload = XMP_SIGNATURE + xmp_packet(recipe_text)
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


def insert_jpeg_segments(jpeg: bytes, segments: list[bytes]) -> bytes:
    """Insert ``segments`` after the SOI marker and the APPn segments Pillow wrote."""
    position = 2  # after SOI
    while position + 4 <= len(jpeg) and jpeg[position] == 0xFF and 0xE0 <= jpeg[position + 1] <= 0xEF:
        position += 2 + struct.unpack(">H", jpeg[position + 2:position + 4])[0]
    return jpeg[:position] + b"".join(segments) + jpeg[position:]
