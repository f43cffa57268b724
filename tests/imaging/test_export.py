"""Tests for studio.imaging.export: formats and their metadata, 16-bit exactness, safety, batches."""

from __future__ import annotations

import errno
import io
import os
import time
import struct
import warnings
import zlib
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
from PIL import Image

from studio.core import atomic
from studio.gan.recipe import ModelRef, Recipe
from studio.imaging import codecs, export
from studio.imaging.codecs import read_image
from studio.imaging.export import (
    FORMAT_SUFFIXES,
    FORMATS,
    ExportError,
    ExportSettings,
    export_batch,
    export_image,
    format_from_path,
    postprocess_and_export,
    postprocess_record,
    render_and_export,
    srgb_profile,
    unique_path,
)
from studio.imaging.metadata import read_recipe

MODEL = ModelRef(fingerprint="cd" * 32, name="Peintures à l'huile", path="/models/oil.safetensors")


def _recipe(**changes) -> Recipe:
    # a fixed creation time: two calls must give equal recipes (the default is "now")
    return Recipe(model=MODEL, seed=42, truncation_psi=0.7, **{"created": "2026-01-01T00:00:00+00:00", **changes})


def _gradient(height: int = 48, width: int = 64, channels: int = 3, dtype=np.uint8) -> np.ndarray:
    """A smooth test image (lossy formats keep it close), with some per-channel variety."""
    top = 255 if dtype == np.uint8 else 65535
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    planes = [x / (width - 1), y / (height - 1), (x + y) / (width + height - 2), 1 - x / (width - 1)]
    return np.stack([np.round(p * top) for p in planes[:channels]], axis=2).astype(dtype)


def _noise(height: int, width: int, channels: int, dtype) -> np.ndarray:
    top = 256 if dtype == np.uint8 else 65536
    return np.random.default_rng(height * width * channels).integers(0, top, (height, width, channels), dtype=dtype)


def _leftovers(folder: Path) -> list[str]:
    """Temporary files atomic_path would leave behind (there must be none)."""
    return [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]


# -- settings ------------------------------------------------------------------------------------


def test_settings_validate_and_round_trip() -> None:
    settings = ExportSettings(format="TIF", quality=80, dpi=300, icc=False, overwrite=True)
    assert settings.format == "tiff" and settings.dpi == 300.0 and settings.suffix == ".tif"
    assert ExportSettings.from_dict(settings.to_dict()) == settings
    assert ExportSettings.from_dict({"format": "jpg", "future_key": 1}).format == "jpeg"
    for bad in ({"format": "bmp"}, {"quality": 0}, {"quality": 101}, {"quality": 9.5}, {"dpi": 0},
                {"dpi": float("nan")}, {"icc": "yes"}, {"overwrite": 1}):
        with pytest.raises(ValueError):
            ExportSettings(**bad)
    with pytest.raises(ValueError):
        ExportSettings.from_dict(["png"])


def test_format_from_path() -> None:
    assert [format_from_path(f"a{s}") for s in (".PNG", ".tif", ".tiff", ".jpg", ".JPEG", ".webp")] == \
        ["png", "tiff", "tiff", "jpeg", "jpeg", "webp"]
    assert set(FORMAT_SUFFIXES) == set(FORMATS)
    with pytest.raises(ValueError, match=r"\.bmp"):
        format_from_path("picture.bmp")


def test_srgb_profile_is_an_icc_profile() -> None:
    profile = srgb_profile()
    assert profile is not None and profile[36:40] == b"acsp" and b"RGB " in profile[:24]


# -- formats and metadata ------------------------------------------------------------------------


@pytest.mark.parametrize("fmt, bits", [("png", 8), ("png", 16), ("tiff", 8), ("tiff", 16), ("jpeg", 8), ("webp", 8)])
def test_every_format_carries_recipe_dpi_and_icc(tmp_path: Path, fmt: str, bits: int) -> None:
    image = _gradient(dtype=np.uint16 if bits == 16 else np.uint8)
    recipe = _recipe(postprocess={"levels": [0.1, 99.9]}, export={"format": fmt})
    settings = ExportSettings(format=fmt, dpi=150, quality=92)
    path = export_image(tmp_path / f"art{settings.suffix}", image, recipe, settings)
    assert path == tmp_path / f"art{settings.suffix}" and _leftovers(tmp_path) == []

    assert read_recipe(path) == recipe  # the model name has non-ASCII characters
    with Image.open(path) as picture:
        assert picture.size == (64, 48)
        assert picture.info.get("icc_profile") == srgb_profile()
        if fmt == "webp":  # Pillow reads WebP's resolution from EXIF only
            exif = picture.getexif()
            assert float(exif[0x011A]) == 150 and float(exif[0x011B]) == 150 and exif[0x0128] == 2
        else:
            assert picture.info["dpi"] == pytest.approx((150, 150), abs=0.02)  # PNG: whole px per metre

    pixels = read_image(path)
    assert pixels.dtype == image.dtype and pixels.shape == image.shape
    if fmt in ("png", "tiff"):
        assert np.array_equal(pixels, image)
    else:
        assert np.abs(pixels.astype(int) - image.astype(int)).mean() < 2


@pytest.mark.parametrize("fmt", FORMATS)
def test_without_recipe_icc_or_dpi(tmp_path: Path, fmt: str) -> None:
    settings = ExportSettings(format=fmt, icc=False, embed_recipe=False)
    path = export_image(tmp_path / f"plain{settings.suffix}", _gradient(), _recipe(), settings)
    assert read_recipe(path) is None
    with Image.open(path) as picture:
        assert "icc_profile" not in picture.info or not picture.info["icc_profile"]
        assert "dpi" not in picture.info
    assert read_recipe(export_image(tmp_path / f"none{settings.suffix}", _gradient(), None, ExportSettings(format=fmt))) is None


@pytest.mark.parametrize("channels", [1, 3, 4])
@pytest.mark.parametrize("fmt", ["png", "tiff"])
def test_16_bit_round_trip_is_exact(tmp_path: Path, fmt: str, channels: int) -> None:
    image = _noise(37, 53, channels, np.uint16)  # noise: every bit of every sample matters
    image[0, 0] = 0
    image[-1, -1] = 65535
    path = export_image(tmp_path / f"deep.{fmt}", image, _recipe(), ExportSettings(format=fmt, dpi=300))
    assert np.array_equal(read_image(path), image)
    # Independent readers: imageio's tifffile for TIFF; Pillow for 16-bit grey (it keeps 16 bits
    # only there) and, for colour, the high bytes Pillow reduces 16-bit PNG / TIFF to.
    if fmt == "tiff":
        with warnings.catch_warnings():  # imageio's bundled tifffile warns that it is deprecated
            warnings.simplefilter("ignore", DeprecationWarning)
            assert np.array_equal(np.asarray(iio.imread(path, extension=".tif")).reshape(image.shape), image)
    with Image.open(path) as picture:
        if channels == 1:
            assert picture.mode.startswith("I;16")
            assert np.array_equal(np.asarray(picture).astype(np.uint16), image[:, :, 0])
        else:
            assert np.array_equal(np.asarray(picture), (image >> 8).astype(np.uint8))
    assert read_recipe(path) == _recipe()


def test_16_bit_png_structure(tmp_path: Path) -> None:
    """IHDR says 16 bits; samples are big-endian; the recipe iTXt and pHYs come before the pixels."""
    image = _noise(5, 7, 3, np.uint16)
    path = export_image(tmp_path / "deep.png", image, _recipe(), ExportSettings(dpi=254))
    data = path.read_bytes()
    chunks, position = [], 8
    while position < len(data):
        length, kind = struct.unpack(">I4s", data[position:position + 8])
        body = data[position + 8:position + 8 + length]
        assert struct.unpack(">I", data[position + 8 + length:position + 12 + length])[0] == zlib.crc32(kind + body)
        chunks.append((kind, body))
        position += 12 + length
    kinds = [kind for kind, _ in chunks]
    assert kinds[0] == b"IHDR" and kinds[-1] == b"IEND"
    assert kinds.index(b"iTXt") < kinds.index(b"IDAT") and kinds.index(b"pHYs") < kinds.index(b"IDAT")
    assert struct.unpack(">IIBB", chunks[0][1][:10]) == (7, 5, 16, 2)
    assert struct.unpack(">IIB", dict(chunks)[b"pHYs"]) == (10000, 10000, 1)
    raw = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    first_row = np.frombuffer(raw[1:1 + 7 * 6], ">u2").reshape(7, 3)
    assert raw[0] == 2 and np.array_equal(first_row, image[0])  # Up filter over a zero row = raw


def test_paeth_and_average_filtered_16_bit_png_decode(tmp_path: Path) -> None:
    """read_image decodes 16-bit PNGs from other tools too (all five row filters)."""
    image = _noise(6, 9, 3, np.uint16)
    raw = image.astype(">u2").view(np.uint8).reshape(6, -1).astype(np.int32)
    bpp, rows = 6, []
    for y in range(6):
        kind = y % 5
        line, above = raw[y], raw[y - 1] if y else np.zeros_like(raw[0])
        left = np.concatenate([np.zeros(bpp, np.int32), line[:-bpp]])
        upper_left = np.concatenate([np.zeros(bpp, np.int32), above[:-bpp]])
        if kind == 0:
            predictor = np.zeros_like(line)
        elif kind == 1:
            predictor = left
        elif kind == 2:
            predictor = above
        elif kind == 3:
            predictor = (left + above) // 2
        else:
            p = left + above - upper_left
            pa, pb, pc = abs(p - left), abs(p - above), abs(p - upper_left)
            predictor = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, above, upper_left))
        rows.append(bytes([kind]) + ((line - predictor) & 0xFF).astype(np.uint8).tobytes())

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    path = tmp_path / "foreign.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 9, 6, 16, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(b"".join(rows))) + chunk(b"IEND", b""))
    assert np.array_equal(read_image(path), image)


def test_large_recipe_in_jpeg_uses_comment_segments(tmp_path: Path) -> None:
    w = np.random.default_rng(1).standard_normal((1, 18, 512)).astype(np.float32)
    mix_w = np.random.default_rng(2).standard_normal((1, 18, 512)).astype(np.float32)
    from studio.gan.recipe import Latent, StyleMix

    recipe = Recipe(model=MODEL, w=w, mix=StyleMix(Latent(w=mix_w), [4, 5]))
    assert len(recipe.to_json()) > 65535  # too large for one JPEG segment
    path = export_image(tmp_path / "big.jpg", _gradient(), recipe, ExportSettings(format="jpeg"))
    back = read_recipe(path)
    assert back == recipe and np.array_equal(back.w, w)
    with Image.open(path) as picture:  # still a valid JPEG
        picture.load()
    for fmt in ("webp", "tiff", "png"):
        suffix = FORMAT_SUFFIXES[fmt][0]
        assert read_recipe(export_image(tmp_path / f"big{suffix}", _gradient(), recipe, ExportSettings(format=fmt))) == recipe


def test_foreign_tiff_description_is_not_a_recipe(tmp_path: Path) -> None:
    path = tmp_path / "scan.tif"
    Image.fromarray(_gradient()).save(path, description="A scan of a drawing (studio_recipe mentioned)")
    assert read_recipe(path) is None


def test_refuses_what_a_format_cannot_hold(tmp_path: Path) -> None:
    deep = _gradient(dtype=np.uint16)
    for fmt in ("jpeg", "webp"):
        suffix = FORMAT_SUFFIXES[fmt][0]
        with pytest.raises(ExportError, match="8 bits"):
            export_image(tmp_path / f"a{suffix}", deep, None, ExportSettings(format=fmt))
    with pytest.raises(ExportError, match="transparency"):
        export_image(tmp_path / "a.jpg", _gradient(channels=4), None, ExportSettings(format="jpeg"))
    with pytest.raises(ExportError, match=r"\.tif"):
        export_image(tmp_path / "a.png", _gradient(), None, ExportSettings(format="tiff"))
    with pytest.raises(ValueError):
        export_image(tmp_path / "a.png", np.zeros((4, 4, 3), np.float32), None, ExportSettings())
    with pytest.raises(ValueError):
        export_image(tmp_path / "a.png", np.zeros((4, 4, 2), np.uint8), None, ExportSettings())
    assert list(tmp_path.iterdir()) == []


# -- never overwrite, atomic failures ---------------------------------------------------------------


def test_never_overwrites_without_permission(tmp_path: Path) -> None:
    path = tmp_path / "print.png"
    path.write_bytes(b"the artist's earlier print")
    with pytest.raises(ExportError) as info:
        export_image(path, _gradient(), _recipe(), ExportSettings())
    assert str(info.value) == f"{path} exists; choose another name or allow replacing it"
    assert path.read_bytes() == b"the artist's earlier print"
    export_image(path, _gradient(), _recipe(), ExportSettings(overwrite=True))
    assert np.array_equal(read_image(path), _gradient())
    assert _leftovers(tmp_path) == []


def test_a_file_that_appears_during_encoding_is_not_replaced(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "race.png"
    real_encoder = codecs.ENCODERS["png", False]

    def encoder_then_someone_else_writes(*args):
        real_encoder(*args)
        path.write_bytes(b"someone else's file")

    monkeypatch.setitem(codecs.ENCODERS, ("png", False), encoder_then_someone_else_writes)
    with pytest.raises(ExportError, match="exists"):
        export_image(path, _gradient(), None, ExportSettings())
    assert path.read_bytes() == b"someone else's file" and _leftovers(tmp_path) == []


class _FillingStream(io.FileIO):
    """A file that takes ``room`` bytes, then fails as a full disk does."""

    room = 300

    def write(self, data) -> int:
        if self.tell() + len(data) > self.room:
            raise OSError(errno.ENOSPC, "No space left on device")
        return super().write(data)


@pytest.mark.parametrize("fmt, bits", [("png", 8), ("png", 16), ("tiff", 8), ("tiff", 16), ("jpeg", 8), ("webp", 8)])
def test_full_disk_leaves_old_file_and_no_temp(tmp_path: Path, monkeypatch, fmt: str, bits: int) -> None:
    settings = ExportSettings(format=fmt, overwrite=True)
    path = tmp_path / f"print{settings.suffix}"
    path.write_bytes(b"old print")
    monkeypatch.setattr(export, "_open_stream", lambda p: _FillingStream(p, "w"))
    image = _noise(64, 64, 3, np.uint16 if bits == 16 else np.uint8)
    with pytest.raises(ExportError) as info:
        export_image(path, image, _recipe(), settings)
    message = str(info.value)
    assert "disk" in message and "full" in message and "\n" not in message
    assert isinstance(info.value.__cause__, OSError) and info.value.__cause__.errno == errno.ENOSPC
    assert path.read_bytes() == b"old print"
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]


def test_full_disk_on_a_new_file_leaves_nothing(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(export, "_open_stream", lambda p: _FillingStream(p, "w"))
    with pytest.raises(ExportError, match="full"):
        export_image(tmp_path / "new.tif", _noise(64, 64, 3, np.uint8), None, ExportSettings(format="tiff"))
    assert list(tmp_path.iterdir()) == []


def test_failure_while_renaming_keeps_the_old_file(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "print.tif"
    path.write_bytes(b"old")

    def failing_replace(src, dst):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(atomic.os, "replace", failing_replace)
    with pytest.raises(ExportError, match="Input/output error"):
        export_image(path, _gradient(), None, ExportSettings(format="tiff", overwrite=True))
    assert path.read_bytes() == b"old" and _leftovers(tmp_path) == []


def test_unwritable_folder_simulated(tmp_path: Path, monkeypatch) -> None:
    """As root, chmod does not stop writes: simulate the refusal the operating system gives."""

    def refuse(target: Path) -> Path:
        raise PermissionError(errno.EACCES, "Permission denied", str(target))

    monkeypatch.setattr(atomic, "_create_temp", refuse)
    with pytest.raises(ExportError) as info:
        export_image(tmp_path / "print.png", _gradient(), None, ExportSettings())
    assert str(info.value) == f"cannot write print.png: no permission to write in {tmp_path}; choose another folder"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root ignores folder permissions")
def test_unwritable_folder_for_real(tmp_path: Path) -> None:
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(ExportError, match="no permission"):
            export_image(folder / "print.png", _gradient(), None, ExportSettings())
        assert list(folder.iterdir()) == []
    finally:
        folder.chmod(0o700)


def test_missing_folder_and_folder_as_target(tmp_path: Path) -> None:
    with pytest.raises(ExportError) as info:
        export_image(tmp_path / "nowhere" / "print.png", _gradient(), None, ExportSettings())
    assert str(info.value) == f"cannot write print.png: the folder {tmp_path / 'nowhere'} does not exist"
    (tmp_path / "dir.png").mkdir()
    with pytest.raises(ExportError, match="is a folder"):
        export_image(tmp_path / "dir.png", _gradient(), None, ExportSettings(overwrite=True))


# -- batches ---------------------------------------------------------------------------------------


def test_unique_path(tmp_path: Path) -> None:
    assert unique_path(tmp_path / "a.png") == tmp_path / "a.png"
    (tmp_path / "a.png").touch()
    (tmp_path / "a (2).png").touch()
    assert unique_path(tmp_path / "a.png") == tmp_path / "a (3).png"


def test_batch_names_are_unique_and_recipes_record_settings(tmp_path: Path) -> None:
    from studio.imaging.postprocess import PostProcess

    out = tmp_path / "new folder"
    out.mkdir()
    (out / "seed.png").write_bytes(b"keep me")
    rendered: list[int] = []

    def render(seed: int):
        def make() -> np.ndarray:
            rendered.append(seed)
            return _gradient()
        return make

    post = PostProcess(long_side=96)
    items = [("seed", render(1), _recipe()), ("seed", _gradient(), None), ("other/name", render(3), _recipe())]
    steps: list[tuple[int, int]] = []
    paths = [report.path for report in export_batch(items, out, post=post, export=ExportSettings(dpi=72),
                                                    progress=lambda done, total: steps.append((done, total)))]
    assert [p.name for p in paths] == ["seed (2).png", "seed (3).png", "other_name.png"]
    assert (out / "seed.png").read_bytes() == b"keep me"
    assert rendered == [1, 3] and steps == [(1, 3), (2, 3), (3, 3)]
    assert read_image(paths[0]).shape == (72, 96, 3)
    recipe = read_recipe(paths[0])
    assert PostProcess.from_dict(recipe.postprocess) == post
    assert ExportSettings.from_dict(recipe.export) == ExportSettings(dpi=72)
    assert read_recipe(paths[1]) is None

    again = export_batch([("seed", _gradient(), None)], out, name_pattern="{index:03d}-{name}.{ext}",
                         export=ExportSettings(format="webp"))
    assert [r.path.name for r in again] == ["001-seed.webp"]
    replaced = export_batch([("seed", _gradient(), None)], out, export=ExportSettings(overwrite=True))
    assert [r.path for r in replaced] == [out / "seed.png"] and read_image(out / "seed.png").shape == (48, 64, 3)
    named = export_batch([("x", _gradient(), _recipe()), ("x", _gradient(), None)], out, name_pattern="{model}-{latent}")
    assert [r.path.name for r in named] == [f"{_recipe().model.name}-seed{_recipe().seed:04d}.png", "x-image002.png"]
    older = export_batch([("x", _gradient(), None)], out, name_pattern="print-{n:02d}")   # the window's old field
    assert [r.path.name for r in older] == ["print-01.png"]


def test_batch_cancel_keeps_finished_files_and_leaves_nothing_for_the_current_one(tmp_path: Path) -> None:
    calls = {"n": 0}

    def should_cancel() -> bool:
        # asked before each image and before writing it: cancel while the 3rd is being made
        calls["n"] += 1
        return calls["n"] >= 6

    items = [(f"img{i}", _gradient(), _recipe()) for i in range(5)]
    reports = export_batch(items, tmp_path / "made", should_cancel=should_cancel)
    assert [r.path.name for r in reports] == ["img0.png", "img1.png"]
    assert sorted(p.name for p in (tmp_path / "made").iterdir()) == ["img0.png", "img1.png"]


def test_batch_bad_pattern(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="pattern"):
        export_batch([("a", _gradient(), None)], tmp_path, name_pattern="{title}.{ext}")


# -- render / post-process and export ----------------------------------------------------------------


class _FakeRenderer:
    def __init__(self) -> None:
        self.recipes: list[Recipe] = []

    def render_recipe(self, recipe: Recipe) -> np.ndarray:
        self.recipes.append(recipe)
        return _gradient(32, 32)


def test_render_and_export_records_settings_without_changing_the_recipe(tmp_path: Path) -> None:
    from studio.imaging.postprocess import PostProcess

    renderer, recipe = _FakeRenderer(), _recipe()
    post = PostProcess(aspect=1.25, orientation="portrait", size=(80, 100), bit_depth=16)
    settings = ExportSettings(format="tiff", dpi=100)
    stages: list[tuple[float, str]] = []
    report = render_and_export(renderer, recipe, post, settings, tmp_path / "print.tif",
                               progress=lambda f, s: stages.append((f, s)))
    assert renderer.recipes == [recipe] and recipe.postprocess == {} and recipe.export == {}
    assert report.path == tmp_path / "print.tif" and report.size == (80, 100) and report.upscaler == "lanczos"
    assert report.print_size_inches == (0.8, 1.0)
    assert stages[0] == (0.0, "render") and stages[-1] == (1.0, "done") and "write" in dict(map(reversed, stages))
    assert [f for f, _ in stages] == sorted(f for f, _ in stages)
    image = read_image(report.path)
    assert image.dtype == np.uint16 and image.shape == (100, 80, 3)
    embedded = read_recipe(report.path)
    assert embedded.postprocess == post.to_dict() and embedded.export == settings.to_dict()
    assert embedded.seed == recipe.seed and embedded.created == recipe.created

    with pytest.raises(ExportError, match="exists"):  # before rendering anything
        render_and_export(renderer, recipe, post, settings, tmp_path / "print.tif")
    with pytest.raises(ExportError, match="8 bits"):
        render_and_export(renderer, recipe, post, ExportSettings(format="jpeg"), tmp_path / "print.jpg")
    assert len(renderer.recipes) == 1


def test_several_passes_are_recorded_as_steps(tmp_path: Path) -> None:
    from studio.imaging.postprocess import PostProcess

    passes = [PostProcess(aspect=1.27), PostProcess(size=(40, 50), mode="crop")]
    report = postprocess_and_export(_gradient(32, 32), _recipe(), passes, ExportSettings(), tmp_path / "p.png")
    assert report.size == (40, 50)
    assert read_recipe(report.path).postprocess == {"steps": [p.to_dict() for p in passes]}
    assert postprocess_record(None) == {} and postprocess_record(passes[0]) == passes[0].to_dict()


def test_16_bit_source_is_reduced_for_post_processing(tmp_path: Path) -> None:
    from studio.imaging.postprocess import PostProcess

    deep = _gradient(dtype=np.uint16)
    report = postprocess_and_export(deep, None, PostProcess(long_side=32), ExportSettings(), tmp_path / "s.png")
    assert report.size == (32, 24) and any("8 bits" in note for note in report.notes)
    # no post-processing: the 16-bit pixels are written as they are
    same = postprocess_and_export(deep, None, PostProcess(), ExportSettings(), tmp_path / "same.png")
    assert np.array_equal(read_image(same.path), deep) and same.upscaler == "none"


@pytest.mark.parametrize("options", [{}, {"compression": "tiff_lzw"}, {"compression": "tiff_adobe_deflate"}])
def test_read_image_reads_other_tiffs(tmp_path: Path, options: dict) -> None:
    image = _noise(20, 30, 3, np.uint8)
    Image.fromarray(image).save(tmp_path / "other.tif", **options)
    assert np.array_equal(read_image(tmp_path / "other.tif"), image)


def test_an_export_clears_what_a_killed_export_left_behind(tmp_path: Path) -> None:
    stale = tmp_path / ".print.png.0123456789ab.tmp"          # atomic_path's name for a write in progress
    stale.write_bytes(b"half a PNG")
    fresh = tmp_path / ".other.png.ba9876543210.tmp"           # another export, still writing
    fresh.write_bytes(b"in progress")
    mine = tmp_path / ".notes.tmp"                             # not the studio's: left alone
    mine.write_bytes(b"x")
    old = time.time() - 2 * 3600
    os.utime(stale, (old, old))
    os.utime(mine, (old, old))
    export_image(tmp_path / "print.png", _gradient(), None, ExportSettings(overwrite=True))
    assert not stale.exists() and fresh.exists() and mine.exists()
