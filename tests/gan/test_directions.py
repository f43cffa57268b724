"""Latent directions: SeFa, GANSpace, the taste direction, and edits that recipes re-create exactly."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from studio.cli import main
from studio.gan import directions as dirs
from studio.gan.directions import DirectionError, DirectionSet
from studio.gan.formats import load_network
from studio.gan.formats.nvidia import build_stylegan3
from studio.gan.recipe import Edit, Recipe
from studio.gan.render import Renderer
from studio.gan.render_settings import RenderSettings
from studio.imaging.metadata import read_recipe


@pytest.fixture(scope="module")
def renderer(tiny_model):
    return Renderer(load_network(tiny_model), device="cpu")


def test_sefa_equals_an_independent_decomposition(renderer):
    """SeFa's directions are the right singular vectors of the column-normalised stacked affine weights."""
    G = renderer.G
    layers = [0, 1, 2, 3]
    found = dirs.sefa(G, layers, count=4)
    affines = [a for i, a in dirs.style_affines(G) if i in layers]
    A = np.concatenate([a.weight.detach().double().numpy() * a.weight_gain for a in affines])
    A = A / np.linalg.norm(A, axis=0, keepdims=True)
    _, s, vt = np.linalg.svd(A, full_matrices=False)
    for k, direction in enumerate(found):
        assert abs(abs(float(direction.vector @ vt[k])) - 1) < 1e-5     # the same axis (sign aside)
        assert direction.layers == layers and direction.sigma > 0
    # the affines read the right w: the 64 px StyleGAN2's layers 0-3 are its 4 and 8 px convolutions and ToRGBs
    assert sorted({i for i, _ in dirs.style_affines(G)}) == list(range(G.num_ws))


def test_sefa_covers_stylegan3(golden):
    case = golden("sg3t_64")
    G = build_stylegan3(case.meta["generator_attrs"], case.group("G"), case.meta["generator_kwargs"])
    assert [i for i, _ in dirs.style_affines(G)] == list(range(16))
    found = dirs.sefa(G, [0, 1, 2], count=3)
    assert len(found) == 3 and all(abs(np.linalg.norm(d.vector) - 1) < 1e-5 for d in found)


def test_ganspace_is_stable_by_seed_and_ordered_by_spread(renderer):
    a = dirs.ganspace(renderer.G, samples=2000, count=4, seed=3)
    b = dirs.ganspace(renderer.G, samples=2000, count=4, seed=3)
    assert all(np.array_equal(x.vector, y.vector) and x.sigma == y.sigma for x, y in zip(a, b))
    sigmas = [d.sigma for d in a]
    assert sigmas == sorted(sigmas, reverse=True)
    c = dirs.ganspace(renderer.G, samples=2000, count=1, seed=4)
    assert abs(float(a[0].vector @ c[0].vector)) > 0.9       # another sample finds the same main axis
    calls = []
    assert dirs.ganspace(renderer.G, samples=2000, count=2, progress=lambda d, t: calls.append(d),
                         should_cancel=lambda: len(calls) >= 1) is None    # cancelled between batches


def test_taste_recovers_a_planted_preference():
    rng = np.random.default_rng(0)
    truth = rng.normal(size=32)
    truth /= np.linalg.norm(truth)
    ws = rng.normal(size=(40, 32))
    score = ws @ truth
    kept, passed = ws[score > 0.3], ws[score < -0.3]
    found = dirs.taste(kept, passed)
    assert float(found.vector @ truth) > 0.7
    with pytest.raises(DirectionError, match="at least two"):
        dirs.taste(kept[:1], passed)


def test_an_edit_is_part_of_the_recipe_and_re_creates_the_image(renderer, tmp_path):
    settings = RenderSettings(truncation_psi=0.8)
    direction = dirs.sefa(renderer.G, count=1)[0]
    recipe = renderer.recipe(settings, seed=5, edits=[direction.edit(2.5, [0, 1, 2, 3])])
    again = Recipe.from_json(recipe.to_json())
    assert again == recipe and again.edits[0].layers == [0, 1, 2, 3]
    edited, plain = renderer.render_recipe(again), renderer.render_recipe(renderer.recipe(settings, seed=5))
    assert np.abs(edited.astype(int) - plain).mean() > 1
    assert np.array_equal(edited, renderer.render_recipe(recipe))
    with torch.inference_mode():
        ws = renderer.ws_from_seeds([5], settings)
        moved = dirs.apply_edits(ws, again.edits)
    delta = (moved - ws)[0]
    assert torch.allclose(delta[:4], torch.from_numpy(direction.vector * direction.sigma * 2.5).expand(4, -1), atol=1e-5)
    assert delta[4:].abs().max() == 0


def test_cli_directions_and_generate_with_edits(tiny_model, tmp_path, capsys):
    out = tmp_path / "dirs"
    assert main(["directions", "--network", str(tiny_model), "--method", "ganspace", "--samples", "1000",
                 "--count", "4", "--preview", "2", "--out", str(out)]) == 0
    data = json.loads((out / "directions.json").read_text())
    assert data["method"] == "ganspace" and len(data["directions"]) == 4
    assert (out / "preview.png").is_file()
    gen = tmp_path / "gen"
    assert main(["generate", "--network", str(tiny_model), "--seeds", "2", "--directions", str(out / "directions.json"),
                 "--edit", "ganspace1=-2", "--edit", "sefa0=1.5@layout", "--outdir", str(gen)]) == 0
    recipe = read_recipe(gen / "seed0002.png")
    assert [(e.name, e.amount) for e in recipe.edits] == [("ganspace1", -2.0), ("sefa0", 1.5)]
    assert recipe.edits[1].layers == [0, 1, 2, 3]
    renderer = Renderer(load_network(tiny_model), device="cpu")
    from PIL import Image
    assert np.array_equal(renderer.render_recipe(recipe), np.asarray(Image.open(gen / "seed0002.png")))


@pytest.mark.parametrize("spec, message", [
    ("sefa0=nan", "finite number of sigmas"),
    ("sefa0=1e9", "finite number of sigmas"),
    ("sefa0", "NAME=AMOUNT"),
    ("nosuch=1", "no direction named"),
    ("sefa0=1@40-50", "layers"),
])
def test_bad_edits_get_a_sentence(tiny_model, tmp_path, capsys, spec, message):
    assert main(["generate", "--network", str(tiny_model), "--seeds", "1", "--edit", spec,
                 "--outdir", str(tmp_path)]) in (1, 2)
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_a_directions_file_of_another_model_is_refused(tiny_model, tiny_conditional_model, tmp_path, capsys):
    other = Renderer(load_network(tiny_conditional_model), device="cpu")
    path = DirectionSet(other.network.fingerprint, dirs.sefa(other.G, count=2), "sefa").save(tmp_path / "d.json")
    assert main(["generate", "--network", str(tiny_model), "--seeds", "1", "--directions", str(path),
                 "--edit", "sefa0=1", "--outdir", str(tmp_path / "o")]) in (1, 2)
    assert "another model" in capsys.readouterr().err


def test_recipe_edits_are_bounded():
    with pytest.raises(ValueError, match="edits.amount"):
        Edit("x", np.ones(4, np.float32), float("inf"))
    with pytest.raises(ValueError, match="finite vector"):
        Edit("x", np.full(4, np.nan, np.float32), 1.0)


def test_cli_taste_and_clip_directions(tiny_model, tmp_path, capsys):
    from studio.library.store import Library
    from tests.clip_fixtures import make_tiny_clip

    out = tmp_path / "taste"
    assert main(["directions", "--network", str(tiny_model), "--method", "taste", "--out", str(out)]) in (1, 2)
    assert "Library" in capsys.readouterr().err                     # nothing starred yet: a sentence
    renderer = Renderer(load_network(tiny_model), device="cpu")
    with Library() as library:
        for seed in (1, 4, 7):
            library.star(renderer.recipe(RenderSettings(), seed=seed), Image.new("RGB", (8, 8)), source="test")
    assert main(["directions", "--network", str(tiny_model), "--method", "taste", "--out", str(out)]) == 0
    data = json.loads((out / "directions.json").read_text())
    assert [d["name"] for d in data["directions"]] == ["taste"] and data["details"]["kept"] == 3

    weights, config, _ = make_tiny_clip(tmp_path / "clip")
    clip_out = tmp_path / "clip-dir"
    assert main(["directions", "--network", str(tiny_model), "--method", "clip", "--prompt", "orange rings",
                 "--clip", str(weights), "--clip-config", str(config), "--out", str(clip_out)]) == 0
    data = json.loads((clip_out / "directions.json").read_text())
    assert data["directions"][0]["name"] == "clip-orange-rings" and data["method"] == "clip"


def test_an_edit_animation_sweeps_one_picture_and_loops(tiny_model, tmp_path):
    out = tmp_path / "frames"
    assert main(["interpolate", "--network", str(tiny_model), "--seeds", "5", "--sweep", "sefa0=2",
                 "--frames", "8", "--out", str(out)]) == 0
    frames = [np.asarray(Image.open(p)).astype(int) for p in sorted(out.glob("*.png"))]
    assert len(frames) == 8
    renderer = Renderer(load_network(tiny_model), device="cpu")
    direction = dirs.sefa(renderer.G, count=1)[0]
    low = renderer.render_recipe(renderer.recipe(RenderSettings(), seed=5, edits=[direction.edit(-2)]))
    assert np.abs(frames[0] - low).max() <= 1                    # starts at -2 sigma ...
    assert np.abs(frames[4] - frames[0]).mean() > np.abs(frames[7] - frames[0]).mean()   # ... and comes back
    assert main(["interpolate", "--network", str(tiny_model), "--seeds", "5,6", "--sweep", "sefa0",
                 "--out", str(tmp_path / "x")]) in (1, 2)


def test_ganspace_is_cached_per_model(renderer, monkeypatch):
    from studio.app.edits import find_directions, ganspace_cache_path

    first = find_directions(renderer, "ganspace", samples=1000, count=3)
    assert ganspace_cache_path(renderer.network.fingerprint, 1000, None, None).is_file()

    def no_more(*args, **kwargs):
        raise AssertionError("GANSpace ran again instead of reading its cache")

    monkeypatch.setattr(dirs, "ganspace", no_more)
    again = find_directions(renderer, "ganspace", samples=1000, count=2)
    assert [d.name for d in again.directions] == ["ganspace0", "ganspace1"]
    assert np.array_equal(again.directions[0].vector, first.directions[0].vector)


def test_taste_learns_from_an_evolutions_choices(renderer):
    """The images an evolution was bred from count as kept, the rest of their generations as passed over."""
    from studio.app.edits import taste_direction

    settings = RenderSettings()
    bright = dirs.sefa(renderer.G, count=1)[0].vector

    class Line:                       # what an Evolution offers: its choices and their ws
        def __init__(self):
            base = renderer.ws_from_seeds(list(range(100, 112)), settings)
            self.ws = {i: base[i] + (2.0 if i < 4 else -2.0) * torch.from_numpy(bright) for i in range(12)}

        def choices(self):
            return list(range(4)), list(range(4, 12))

        def ws_of(self, ids):
            return torch.stack([self.ws[i] for i in ids])

    found = taste_direction(renderer, None, settings, evolution=Line())
    assert found.details["from_evolution"] == 4 and found.details["from_library"] == 0
    assert float(found.directions[0].vector @ bright) > 0.35      # random axes of 32-d w: about 0.18
