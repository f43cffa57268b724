"""find_model: the one rule by which `studio export` and the window find the model of a recipe."""

from __future__ import annotations

import shutil

import pytest

from studio.app.models import find_model, model_candidates
from studio.gan.formats import load_network
from studio.gan.recipe import ModelRef, Recipe
from studio.library import Library


@pytest.fixture
def recipe_of(tiny_model):
    network = load_network(tiny_model)

    def make(path=None) -> Recipe:
        return Recipe(model=ModelRef(network.fingerprint, "tiny", str(path) if path else None), seed=3)

    return make


def test_the_recipe_path_counts_only_for_a_model_the_studio_knows(recipe_of, tiny_model):
    from studio.core.settings import load_settings, save_settings

    stranger = find_model(recipe_of(tiny_model))            # an image from elsewhere names a file ...
    assert stranger.network is None and "has not opened before" in stranger.notes[0]
    settings = load_settings()
    settings.add_recent(str(tiny_model))                     # ... that the artist opened once
    save_settings(settings)
    found = find_model(recipe_of(tiny_model))
    assert found.network is not None and found.network.path == tiny_model and found.notes == []


def test_a_moved_model_is_found_through_the_library(recipe_of, tiny_model, tmp_path):
    moved = tmp_path / "moved.pt"
    shutil.copy(tiny_model, moved)
    recipe = recipe_of(tmp_path / "gone.pt")
    assert find_model(recipe).network is None             # nothing knows where it went
    with Library(tmp_path / "library.db") as library:
        library.remember_model(recipe.model.fingerprint, "tiny", moved)
        found = find_model(recipe, library=library)
        assert found.network is not None and found.network.path == moved
    found = find_model(recipe, library=str(tmp_path / "library.db"))   # a thread without the connection
    assert found.network is not None and found.network.path == moved


def test_a_file_with_another_fingerprint_is_never_taken(recipe_of, tiny_model, tmp_path):
    recipe = recipe_of(tmp_path / "gone.pt")
    found = find_model(recipe, given="default")
    assert found.network is None
    assert any("is not the model the recipe names" in note for note in found.notes)
    assert find_model(recipe, given=str(tiny_model)).network is not None


def test_the_default_model_is_a_candidate_for_its_own_images(tiny_model):
    recipe = Recipe(model=ModelRef("0" * 64, "default-abstract", "/elsewhere/default-abstract.safetensors"), seed=1)
    notes: list[str] = []
    assert [where for where, _ in model_candidates(recipe, notes=notes)] == ["the bundled default model"]
    assert "has not opened before" in notes[0]
