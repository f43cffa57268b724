"""`studio export`: re-render a recipe at print size, or post-process pixels when the model is gone."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from studio.cli import main
from studio.gan.formats import load_network
from studio.imaging.codecs import read_image
from studio.imaging.export import ExportSettings
from studio.imaging.metadata import read_recipe, save_png
from studio.imaging.postprocess import PostProcess
from studio.imaging.sizes import print_pixels

ISSUE_FLAGS = ["--aspect", "1.27", "--mode", "stretch", "--print", "4x5cm", "--dpi", "100",
               "--levels", "0.1,99.9", "--format", "tiff"]


@pytest.fixture(scope="module")
def model(tiny_model):
    """The golden 64 px rosinality network as a checkpoint file (tests/conftest.py)."""
    return tiny_model


@pytest.fixture()
def generated(model, tmp_path):
    """seed0005.png made by `studio generate`, carrying its recipe (with the model's path), with the
    model known to the studio as if the artist had opened it (a recipe's path is only a hint)."""
    from studio.core.settings import load_settings, save_settings

    settings = load_settings()
    settings.add_recent(str(model))
    save_settings(settings)
    assert main(["generate", "--network", str(model), "--seeds", "5", "--trunc", "0.8",
                 "--outdir", str(tmp_path / "gen")]) == 0
    return tmp_path / "gen" / "seed0005.png"


def test_a_model_path_the_studio_never_opened_is_not_opened(model, tmp_path, capsys):
    """A PNG from elsewhere names a file: the export uses the image's pixels and says why."""
    assert main(["generate", "--network", str(model), "--seeds", "5", "--outdir", str(tmp_path / "gen")]) == 0
    capsys.readouterr()
    assert main(["export", str(tmp_path / "gen" / "seed0005.png"), "--out", str(tmp_path / "p.png")]) == 0
    err = capsys.readouterr().err
    assert "has not opened before" in err and "post-processed the image's own pixels" in err


def test_issue_example_re_renders_at_print_size(model, generated, tmp_path, capsys):
    capsys.readouterr()
    out = tmp_path / "print.tif"
    assert main(["export", str(generated), *ISSUE_FLAGS, "--out", str(out)]) == 0
    stdout, stderr = capsys.readouterr()
    width, height = print_pixels(4, 5, "cm", 100)
    assert (width, height) == (157, 197)
    assert f"{width}x{height} px" in stdout and "4.0 x 5.0 cm" in stdout and "100 dpi" in stdout
    assert "upscaler lanczos" in stdout and "not found" not in stderr

    pixels = read_image(out)
    assert pixels.shape == (197, 157, 3) and pixels.dtype == np.uint8
    with Image.open(out) as picture:
        assert picture.info["dpi"] == pytest.approx((100, 100))
        assert picture.info.get("icc_profile")

    recipe = read_recipe(out)
    source = read_recipe(generated)
    assert recipe.seed == 5 and recipe.truncation_psi == 0.8 and recipe.model == source.model
    assert ExportSettings.from_dict(recipe.export) == ExportSettings(format="tiff", dpi=100)
    steps = [PostProcess.from_dict(step) for step in recipe.postprocess["steps"]]
    assert steps[0].aspect == 1.27 and steps[0].mode == "stretch" and steps[0].levels == (0.1, 99.9)
    assert steps[0].orientation == "portrait"                     # a 4 x 5 cm print is upright
    assert steps[1].size == (157, 197) and steps[1].mode == "crop"
    assert "discards" not in stderr                               # 1.27:1 upright fills 4 x 5 nearly whole

    # the same as naming the network explicitly
    explicit = tmp_path / "explicit.tif"
    assert main(["export", str(generated), "--network", str(model), *ISSUE_FLAGS, "--out", str(explicit)]) == 0
    assert np.array_equal(read_image(explicit), pixels)


def test_recipe_is_re_rendered_not_the_pixels(model, generated, tmp_path, capsys):
    """An image whose pixels were changed still exports the recipe's picture when the model is there."""
    recipe = read_recipe(generated)
    tampered = tmp_path / "tampered.png"
    save_png(tampered, np.full((64, 64, 3), 30, np.uint8), recipe)
    assert main(["export", str(tampered), "--long-side", "128", "--out", str(tmp_path / "a.png")]) == 0
    assert main(["export", str(generated), "--long-side", "128", "--out", str(tmp_path / "b.png")]) == 0
    assert np.array_equal(read_image(tmp_path / "a.png"), read_image(tmp_path / "b.png"))
    assert read_image(tmp_path / "a.png").std() > 10


def test_model_found_through_the_library(model, generated, tmp_path, capsys):
    from studio.library.store import Library

    moved = tmp_path / "elsewhere" / "renamed.pt"
    moved.parent.mkdir()
    shutil.copy(model, moved)
    recipe = read_recipe(generated)
    recipe.model.path = str(tmp_path / "gone.pt")
    json_path = tmp_path / "recipe.json"
    json_path.write_text(recipe.to_json())
    assert main(["export", str(json_path), "--out", str(tmp_path / "x.png")]) == 2
    assert "cannot find the model" in capsys.readouterr().err
    with Library() as library:
        library.remember_model(recipe.model.fingerprint, recipe.model.name, moved)
    assert main(["export", str(json_path), "--out", str(tmp_path / "x.png")]) == 0
    assert np.array_equal(read_image(tmp_path / "x.png"), read_image(generated))


def test_model_missing_exports_the_image_pixels_with_a_note(model, generated, tmp_path, capsys, monkeypatch):
    copy = tmp_path / "alone.png"
    recipe = read_recipe(generated)
    recipe.model.path = str(tmp_path / "no-such-model.pt")
    save_png(copy, np.asarray(Image.open(generated)), recipe)
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    assert main(["export", str(copy), "--long-side", "96", "--format", "jpeg", "--quality", "90"]) == 0
    stdout, stderr = capsys.readouterr()
    out = tmp_path / "alone-print.jpg"  # default name: INPUT's stem + "-print" in the current folder
    assert out.is_file() and str(out) in stdout
    assert "not found" in stderr and "own pixels" in stderr and recipe.model.name in stderr
    assert read_image(out).shape == (96, 96, 3)
    embedded = read_recipe(out)
    assert embedded.seed == 5 and PostProcess.from_dict(embedded.postprocess).long_side == 96

    # a model file of the wrong network is not used either
    from studio.gan.formats.native import save_native

    monkeypatch.undo()
    G = load_network(model).G
    with torch.no_grad():
        next(iter(G.parameters())).add_(1.0)  # a different network, so a different fingerprint
    wrong = tmp_path / "wrong.safetensors"
    save_native(wrong, G)
    assert main(["export", str(copy), "--network", str(wrong), "--out", str(tmp_path / "w.png")]) == 0
    err = capsys.readouterr().err
    assert "is not the model the recipe names" in err and "own pixels" in err


def test_json_recipe_without_model_is_one_line_naming_it(generated, tmp_path, capsys):
    recipe = read_recipe(generated)
    recipe.model.path = None
    path = tmp_path / "r.json"
    path.write_text(recipe.to_json())
    capsys.readouterr()
    assert main(["export", str(path), "--out", str(tmp_path / "o.png")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("error:")
    assert recipe.model.name in err and recipe.model.fingerprint in err and "--network" in err
    assert not (tmp_path / "o.png").exists()


def test_json_recipe_with_model_path(model, generated, tmp_path):
    path = tmp_path / "r.json"
    path.write_text(read_recipe(generated).to_json())
    assert main(["export", str(path), "--bits", "16", "--out", str(tmp_path / "deep.png")]) == 0
    deep = read_image(tmp_path / "deep.png")
    assert deep.dtype == np.uint16 and np.array_equal(deep, read_image(generated).astype(np.uint16) * 257)


def test_force_semantics(generated, tmp_path, capsys):
    out = tmp_path / "p.png"
    out.write_bytes(b"keep")
    assert main(["export", str(generated), "--out", str(out)]) == 2
    assert f"{out} exists; add --force" in capsys.readouterr().err
    assert out.read_bytes() == b"keep"
    assert main(["export", str(generated), "--out", str(out), "--force"]) == 0
    assert np.array_equal(read_image(out), read_image(generated))
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_network_and_seed_without_input(model, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["export", "--network", str(model), "--seed", "5", "--trunc", "0.8", "--format", "webp",
                 "--size", "80x60", "--mode", "crop"]) == 0
    out = tmp_path / "seed0005-print.webp"
    assert read_image(out).shape == (60, 80, 3)
    recipe = read_recipe(out)
    assert recipe.seed == 5 and recipe.truncation_psi == 0.8
    assert PostProcess.from_dict(recipe.postprocess).size == (80, 60)


def test_painting_aspect_follows_the_seed(generated, tmp_path):
    for name in ("a.png", "b.png"):
        assert main(["export", str(generated), "--aspect", "painting", "--long-side", "100",
                     "--out", str(tmp_path / name)]) == 0
    a, b = read_recipe(tmp_path / "a.png").postprocess, read_recipe(tmp_path / "b.png").postprocess
    assert a == b and a["aspect"] >= 1.0
    assert max(read_image(tmp_path / "a.png").shape[:2]) == 100


@pytest.mark.parametrize("args, message", [
    (["export"], "or --seed (with --network, else the default model)"),
    (["export", "{gen}", "--seed", "3"], "--seed only apply without INPUT"),
    (["export", "{gen}", "--bits", "16", "--format", "jpeg"], "--bits 16 needs PNG or TIFF"),
    (["export", "{gen}", "--format", "tiff", "--out", "{tmp}/x.png"], "does not suit --format tiff"),
    (["export", "{gen}", "--out", "{tmp}/x.bmp"], "suffix .bmp"),
    (["export", "{gen}", "--levels", "1", "--out", "{tmp}/x.png"], "--levels must be LOW,HIGH"),
    (["export", "{gen}", "--print", "40x50", "--out", "{tmp}/x.png"], "print size"),
    (["export", "{gen}", "--aspect", "wide", "--out", "{tmp}/x.png"], "aspect ratio"),
    (["export", "{gen}", "--upscaler", "bicubic", "--out", "{tmp}/x.png"], "--upscaler"),
    (["export", "{tmp}/missing.png"], "does not exist"),
    (["export", "{tmp}/plain.json"], "not a studio recipe"),
    (["export", "{gen}", "--out", "{tmp}/no/such/folder/x.png"], "does not exist"),
])
def test_errors_are_one_line(generated, tmp_path, capsys, args, message):
    (tmp_path / "plain.json").write_text(json.dumps({"hello": 1}))
    argv = [a.format(gen=generated, tmp=tmp_path) for a in args]
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err and "Traceback" not in err
    assert message in err


@pytest.mark.parametrize("flags, shape", [
    (["--aspect", "4:5", "--mode", "crop"], (64, 51)),              # "4:5" is upright
    (["--aspect", "16:9", "--mode", "crop"], (36, 64)),
    (["--aspect", "4:5", "--orientation", "landscape", "--mode", "crop"], (51, 64)),
])
def test_the_ratio_as_written_gives_the_orientation(generated, tmp_path, flags, shape):
    out = tmp_path / "shaped.png"
    assert main(["export", str(generated), *flags, "--out", str(out)]) == 0
    assert read_image(out).shape[:2] == shape


def test_a_crop_that_discards_much_of_the_picture_warns(generated, tmp_path, capsys):
    capsys.readouterr()
    out = tmp_path / "wide.png"
    assert main(["export", str(generated), "--aspect", "16:9", "--mode", "crop", "--out", str(out)]) == 0
    assert "discards 44% of the picture" in capsys.readouterr().err
