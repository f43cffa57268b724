"""Evolution set-up is one function for the window and `studio evolve`: the render settings reach it."""

from __future__ import annotations

import pytest

from studio.app.evolution import EvolutionSetupError, generation_payload, new_evolution
from studio.clip.model import load_clip
from studio.evolve.ga import EvolveConfig
from studio.gan.formats import load_network
from studio.gan.render import Renderer
from studio.gan.render_settings import RenderSettings
from tests.clip_fixtures import make_tiny_clip

PROMPT = "an abstract painting with orange triangles"
SMALL = EvolveConfig(population=6, parents=2, generations=1, seed=3)


@pytest.fixture(scope="module")
def parts(tiny_model, tmp_path_factory):
    weights, config, _ = make_tiny_clip(tmp_path_factory.mktemp("clip"))
    return Renderer(load_network(tiny_model), device="cpu"), load_clip(str(weights), config=str(config))


def test_truncation_and_noise_reach_every_individual(parts):
    renderer, scorer = parts
    settings = RenderSettings(truncation_psi=0.5, noise_mode="none")
    evolution = new_evolution(renderer, scorer, PROMPT, None, SMALL, settings)
    generation = evolution.start()
    assert evolution.settings.truncation_psi == 0.5
    assert evolution.to_log()["settings"]["truncation_psi"] == 0.5
    assert evolution.recipe_for(generation.best).noise_mode == "none"   # its w is the truncated one
    plain = new_evolution(renderer, scorer, PROMPT, None, SMALL, RenderSettings()).start()
    assert plain.best.image.tolist() != generation.best.image.tolist()   # psi 0.5 is another picture
    payload = generation_payload(evolution, generation)
    assert payload["index"] == 0 and len(payload["scores"]) == 6 and payload["lineage"][0]["best"] == generation.best.id


@pytest.mark.parametrize("prompt, config, message", [
    ("  ", SMALL, "prompt is empty"),
    (PROMPT, EvolveConfig(population=6, parents=2, realness_weight=1.0), "realness needs the model's discriminator"),
])
def test_what_cannot_start_says_why(parts, prompt, config, message):
    renderer, scorer = parts
    with pytest.raises(EvolutionSetupError, match=message):
        new_evolution(renderer, scorer, prompt, None, config, RenderSettings())
