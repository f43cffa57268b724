"""The recipe inside image files: PNG round trips, JSON recipe files, refusals, atomic writes."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from studio.gan.recipe import Latent, Recipe, StyleMix
from studio.imaging.metadata import PNG_KEY, read_recipe, save_png
from tests.gan.test_recipe import MODEL, _arrays, _image

# -- PNG and JSON files --------------------------------------------------------------------------


def test_png_round_trip(tmp_path: Path) -> None:
    _, w = _arrays()
    recipe = Recipe(model=MODEL, w=w, truncation_psi=0.5, mix=StyleMix(Latent(seed=4), [8, 9]))
    pixels = _image()
    target = tmp_path / "art.png"
    save_png(target, pixels, recipe, dpi=300)
    with Image.open(target) as img:
        assert img.format == "PNG"
        np.testing.assert_array_equal(np.asarray(img), pixels)
        assert round(img.info["dpi"][0]) == 300
    assert read_recipe(target) == recipe
    assert os.listdir(tmp_path) == ["art.png"]


def test_png_round_trip_with_pil_image(tmp_path: Path) -> None:
    recipe = Recipe(model=MODEL, seed=99)
    image = Image.fromarray(_image()).convert("RGBA")
    target = tmp_path / "rgba.png"
    save_png(target, image, recipe)
    with Image.open(target) as img:
        assert img.mode == "RGBA"
        assert PNG_KEY in img.text
    assert read_recipe(target) == recipe


def test_png_without_recipe_gives_none(tmp_path: Path) -> None:
    plain = tmp_path / "plain.png"
    Image.fromarray(_image()).save(plain)
    assert read_recipe(plain) is None


def test_png_with_corrupt_recipe_raises(tmp_path: Path) -> None:
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_itxt(PNG_KEY, "{ not json")
    bad = tmp_path / "bad.png"
    Image.fromarray(_image()).save(bad, pnginfo=info)
    with pytest.raises(ValueError, match="not valid JSON"):
        read_recipe(bad)


def test_read_recipe_from_json_file(tmp_path: Path) -> None:
    recipe = Recipe(model=MODEL, seed=12)
    path = tmp_path / "recipe.json"
    path.write_text(recipe.to_json(), encoding="utf-8")
    assert read_recipe(path) == recipe
    other = tmp_path / "other.json"
    other.write_text('{"hello": 1}', encoding="utf-8")
    assert read_recipe(other) is None
    broken = tmp_path / "broken.json"
    broken.write_text("{", encoding="utf-8")
    with pytest.raises(ValueError):
        read_recipe(broken)


def test_read_recipe_from_non_image(tmp_path: Path) -> None:
    junk = tmp_path / "notes.txt"
    junk.write_text("hello", encoding="utf-8")
    with pytest.raises(ValueError, match="neither an image"):
        read_recipe(junk)


def test_write_png_rejects_bad_arrays(tmp_path: Path) -> None:
    recipe = Recipe(model=MODEL, seed=1)
    with pytest.raises(ValueError, match="uint8"):
        save_png(tmp_path / "x.png", np.zeros((4, 4, 3), np.float32), recipe)
    with pytest.raises(ValueError, match="HxW"):
        save_png(tmp_path / "x.png", np.zeros((4, 4, 2), np.uint8), recipe)
    assert os.listdir(tmp_path) == []


def test_failed_png_write_keeps_old_file(tmp_path: Path) -> None:
    target = tmp_path / "keep.png"
    target.write_bytes(b"old")
    cmyk = Image.new("CMYK", (4, 4))  # PNG cannot store CMYK: save fails inside the write
    with pytest.raises(OSError):
        save_png(target, cmyk, Recipe(model=MODEL, seed=1))
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["keep.png"]
