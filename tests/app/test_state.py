"""The window's state objects: they hold what the artist chose and announce every change."""

from __future__ import annotations

import random
import subprocess
import sys

import pytest

from studio.app.state import ClipChoice, EvolutionChoices, ExplorePage, MixSources
from studio.gan.recipe import ModelRef, Recipe
from studio.gan.seeds import MAX_SEED

MODEL = ModelRef("ab" * 32, "tiny", None)


def _recording(state):
    seen = []
    state.connect(lambda name, value: seen.append((name, value)))
    return seen


def test_explore_page_walks_seeds_and_announces_changes():
    page = ExplorePage()
    seen = _recording(page)
    assert page.seeds() == list(range(21))
    page.next_page()
    assert page.seeds()[0] == 21 and seen == [("page", 1)]
    page.prev_page()
    page.prev_page()                                   # there is no page before the first
    assert page.page == 0 and seen == [("page", 1), ("page", 0)]
    page.truncation_psi = 0.7
    page.truncation_psi = 0.7                          # the same value: no event, no render
    assert seen[-1] == ("truncation_psi", 0.7) and len(seen) == 3
    page.go_to_seed(100)
    assert 100 in page.seeds()
    page.reshape(2, 4)                                 # the first seed stays on screen
    assert page.seeds()[0] <= 84 < page.seeds()[-1] + 1 and len(page.seeds()) == 8
    page.page = 10 ** 12
    assert page.seeds()[-1] == MAX_SEED
    page.random_page(random.Random(1))
    assert 0 <= page.page < page.last_page
    with pytest.raises(ValueError, match="1 to 8 rows"):
        page.rows = 9
    with pytest.raises(ValueError, match="noise mode"):
        page.noise_mode = "loud"


def test_explore_page_recipes_round_trip():
    page = ExplorePage(truncation_psi=0.5, truncation_cutoff=4, noise_mode="random", class_index=2)
    recipe = page.recipe_for(42, MODEL)
    assert (recipe.seed, recipe.truncation_psi, recipe.truncation_cutoff, recipe.noise_seed) == (42, 0.5, 4, 42)
    assert page.settings().class_index == 2
    other = ExplorePage()
    other.restore(recipe)
    assert other.recipe_for(42, MODEL).to_dict() | {"created": None} == recipe.to_dict() | {"created": None}
    assert 42 in other.seeds()


def test_mix_sources():
    mix = MixSources()
    assert [s["seed"] for s in mix.forms] == list(range(7)) and mix.layers == list(range(7))
    seen = _recording(mix)
    mix.seeds("style", 500, 2)
    assert mix.styles == [{"seed": 500}, {"seed": 501}] and seen[-1][0] == "styles"
    recipe = Recipe(model=MODEL, seed=9)
    for _ in range(3):
        mix.promote("form", recipe.to_json())
    assert len(mix.forms) == 8 and mix.forms[-1] == {"recipe": recipe.to_json()}
    mix.preset("coarse", 12)
    assert mix.layers == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="at least one style"):
        mix.styles = []


def test_evolution_choices():
    choices = EvolutionChoices(chosen=[1, 2])
    seen = _recording(choices)
    choices.toggle(2)
    choices.toggle(7)
    choices.toggle_lock(5)
    assert choices.chosen == [1, 7] and choices.locked == [5]
    choices.toggle_lock(5)
    assert choices.locked == [] and [name for name, _ in seen] == ["chosen", "chosen", "locked", "locked"]
    choices.bring(["{}"])
    choices.clear()
    assert (choices.chosen, choices.locked, choices.extras) == ([], [], [])


def test_clip_choice_normalises():
    clip = ClipChoice()
    clip.update(spec="  ", config=" ")
    assert (clip.spec, clip.config) == ("default", None)


def test_state_loads_without_torch():
    code = ("import sys; import studio.app.state; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False", out.stderr
