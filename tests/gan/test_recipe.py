"""Recipes as versioned JSON: round trips, validation, bit-exact arrays."""

from __future__ import annotations

import json

import numpy as np
import pytest

from studio.gan.recipe import Latent, ModelRef, Recipe, StyleMix

MODEL = ModelRef(fingerprint="ab" * 32, name="Abstract 256", path="/models/abstract.safetensors")


def _arrays() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.RandomState(7)
    z = rng.randn(512).astype(np.float32)
    w = rng.randn(1, 14, 512).astype(np.float32)
    w[0, 0, :4] = [np.float32(-0.0), np.finfo(np.float32).tiny, np.finfo(np.float32).max, 1e-45]
    return z, w


def _image() -> np.ndarray:
    rng = np.random.RandomState(3)
    return rng.randint(0, 256, size=(24, 32, 3), dtype=np.uint8)


# -- JSON --------------------------------------------------------------------------------------


def test_json_round_trip_with_seed() -> None:
    recipe = Recipe(
        model=MODEL,
        seed=42,
        class_index=3,
        truncation_psi=0.7,
        truncation_cutoff=8,
        noise_mode="random",
        noise_seed=5,
        postprocess={"levels": [0.02, 0.98]},
        export={"format": "png", "dpi": 300},
    )
    text = recipe.to_json()
    data = json.loads(text)
    assert data["studio_recipe"] == 1
    assert list(data)[:3] == ["studio_recipe", "model", "seed"]
    back = Recipe.from_json(text)
    assert back == recipe
    assert back.to_json() == text  # stable output


def test_defaults() -> None:
    recipe = Recipe(model=MODEL, seed=1)
    assert recipe.truncation_psi == 1.0 and recipe.noise_mode == "const"
    assert recipe.postprocess == {} and recipe.export == {} and recipe.mix is None
    assert recipe.created and recipe.studio_version


@pytest.mark.parametrize("which", ["z", "w"])
def test_json_round_trip_with_arrays_is_bit_exact(which: str) -> None:
    z, w = _arrays()
    array = z if which == "z" else w
    recipe = Recipe(model=MODEL, **{which: array})
    back = Recipe.from_json(recipe.to_json())
    restored = getattr(back, which)
    assert restored.dtype == np.float32 and restored.shape == array.shape
    assert restored.tobytes() == array.tobytes()
    assert back == recipe
    assert json.loads(recipe.to_json())[which]["dtype"] == "float32"


def test_json_round_trip_with_mix() -> None:
    z, _ = _arrays()
    recipe = Recipe(model=MODEL, seed=10, mix=StyleMix(source=Latent(z=z), layers=[0, 1, 2, 3]))
    back = Recipe.from_json(recipe.to_json())
    assert back == recipe
    assert back.mix is not None and back.mix.layers == [0, 1, 2, 3]
    assert back.mix.source.z.tobytes() == z.tobytes()

    seeded = Recipe(model=MODEL, seed=1, mix=StyleMix(source=Latent(seed=9), layers=[7]))
    assert Recipe.from_json(seeded.to_json()) == seeded


def test_equality_compares_arrays_by_value() -> None:
    z, _ = _arrays()
    a = Recipe(model=MODEL, z=z, created="2025-01-01T00:00:00+00:00")
    b = Recipe(model=MODEL, z=z.copy(), created="2025-01-01T00:00:00+00:00")
    assert a == b
    z2 = z.copy()
    z2[0] += 1
    assert a != Recipe(model=MODEL, z=z2, created=a.created)
    assert a != Recipe(model=MODEL, z=z.reshape(1, -1), created=a.created)


def test_from_json_ignores_unknown_keys() -> None:
    data = json.loads(Recipe(model=MODEL, seed=3).to_json())
    data["something_new"] = True
    assert Recipe.from_json(json.dumps(data)).seed == 3


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update(studio_recipe=2), "update the studio"),
        (lambda d: d.pop("studio_recipe"), "not a studio recipe"),
        (lambda d: d.update(studio_recipe="1"), "format version"),
        (lambda d: d.pop("model"), "'model' is missing"),
        (lambda d: d["model"].pop("fingerprint"), "fingerprint"),
        (lambda d: d.update(seed="42"), "'seed'"),
        (lambda d: d.update(seed=-1), "'seed'"),
        (lambda d: d.update(seed=True), "'seed'"),
        (lambda d: d.update(truncation_psi="0.7"), "truncation_psi"),
        (lambda d: d.update(noise_mode="loud"), "noise_mode"),
        (lambda d: d.update(class_index=1.5), "class_index"),
        (lambda d: d.update(postprocess=[]), "postprocess"),
        (lambda d: d.update(created="yesterday"), "created"),
        (lambda d: d.update(z={"dtype": "float64", "shape": [1], "b64": "AAAAAAAAAAA="}), "float32"),
        (lambda d: d.update(z={"dtype": "float32", "shape": [3], "b64": "AAAAAA=="}), "bytes"),
        (lambda d: d.update(z={"dtype": "float32", "shape": [1], "b64": "%%%"}), "base64"),
        (lambda d: d.update(z={"dtype": "float32", "shape": [1], "b64": "AAAAAA=="}), "not several"),
        (lambda d: d.update(mix={"source": {}, "layers": [0]}), "mix.source"),
        (lambda d: d.update(mix={"source": {"seed": 1}, "layers": "0-3"}), "mix.layers"),
    ],
)
def test_from_json_rejects_bad_fields(mutate, message: str) -> None:
    data = json.loads(Recipe(model=MODEL, seed=42).to_json())
    mutate(data)
    with pytest.raises(ValueError, match=message):
        Recipe.from_json(json.dumps(data))


@pytest.mark.parametrize("text", ["", "{", "not json", "[1, 2]", '"text"'])
def test_from_json_rejects_corrupt_json(text: str) -> None:
    with pytest.raises(ValueError):
        Recipe.from_json(text)


def test_constructor_validates() -> None:
    with pytest.raises(ValueError, match="not several"):
        Recipe(model=MODEL, seed=1, z=np.zeros(4, np.float32))
    with pytest.raises(ValueError, match="noise_mode"):
        Recipe(model=MODEL, noise_mode="loud")
    with pytest.raises(ValueError, match="finite"):
        Recipe(model=MODEL, truncation_psi=float("nan"))


def test_to_json_rejects_unserialisable_settings() -> None:
    recipe = Recipe(model=MODEL, seed=1, export={"when": object()})
    with pytest.raises(ValueError, match="JSON"):
        recipe.to_json()
