"""A StyleGAN3 network in the window: its view controls, style-mix presets by what the layers
draw, evolution and the library, driven as an artist would."""

from __future__ import annotations

import numpy as np
import pytest

from studio.gan.formats import load_network
from studio.gan.render import Renderer
from studio.gan.render_settings import RenderSettings
from tests.ui.conftest import grid_done, wait_for
from tests.ui.test_explore import pixels
from tests.ui.test_mix import matrix_done


def test_the_view_box_moves_and_turns_the_grid_and_the_recipe_keeps_it(make_window, sg3_model, qtbot):
    window = make_window(sg3_model)
    explore = window.explore
    assert explore.view_box.isVisibleTo(window)
    before = pixels(explore.grid.grid_model.items[2].image)
    explore.rotate_spin.setValue(90.0)
    explore.translate_x.setValue(0.25)
    wait_for(qtbot, lambda: grid_done(window) and explore.page_state.rotate == 90.0
             and explore.page_state.translate_x == 0.25)
    qtbot.wait(400)                                            # the debounced re-render
    wait_for(qtbot, lambda: grid_done(window))
    after = pixels(explore.grid.grid_model.items[2].image)
    renderer = Renderer(load_network(sg3_model), device="cpu")
    settings = RenderSettings(translate=(0.25, 0.0), rotate=90.0)
    (_, expected), = renderer.render_seeds([2], settings)
    assert np.abs(after.astype(int) - expected.astype(int)).max() <= 1
    assert np.abs(after.astype(int) - before.astype(int)).mean() > 1

    explore.grid.select_row(2)
    explore.star_selection()
    starred = window.session.library.query()[0]
    assert starred.recipe.rotate == 90.0 and starred.recipe.translate == (0.25, 0.0)
    assert np.abs(renderer.render_recipe(starred.recipe).astype(int) - expected.astype(int)).max() <= 1

    explore.view_reset.click()
    assert explore.rotate_spin.value() == 0.0 and explore.translate_x.value() == 0.0


def test_stylegan2_models_hide_the_view_box(make_window, tiny_model):
    window = make_window(tiny_model)
    assert not window.explore.view_box.isVisibleTo(window)
    assert not window.mix.preset_buttons["position"].isVisibleTo(window)


def test_mix_presets_name_stylegan3_layers_by_what_they_draw(make_window, sg3_model, qtbot):
    window = make_window(sg3_model)
    panel = window.mix
    window.tabs.setCurrentWidget(panel)
    assert panel.preset_buttons["coarse"].text() == "Layout 0-5"
    assert panel.preset_buttons["fine"].text() == "Colour 12-15"
    position = panel.preset_buttons["position"]
    assert position.isVisibleTo(window) and position.text() == "Position 0"
    panel.form_count.setValue(2)
    panel.style_count.setValue(2)
    position.click()
    wait_for(qtbot, lambda: matrix_done(panel) and panel.layers == [0] and len(panel.grid.grid_model.items) == 9)


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory):
    from tests.clip_fixtures import make_tiny_clip

    checkpoint, config, _ = make_tiny_clip(tmp_path_factory.mktemp("clip"))
    return checkpoint, config


def test_evolve_a_stylegan3_network_in_the_window(make_window, sg3_model, tiny_clip, qtbot):
    window = make_window(sg3_model)
    panel = window.evolve
    window.tabs.setCurrentWidget(panel)
    panel.clip_edit.setText(str(tiny_clip[0]))
    panel.clip_config.setText(str(tiny_clip[1]))
    panel.population.setValue(6)
    panel.parents.setValue(2)
    panel.generations.setValue(1)
    panel.start()
    wait_for(qtbot, lambda: panel.state is not None and not panel.running, timeout=60000)
    assert len(panel.state["ids"]) == 6 and all(item.image is not None for item in panel.grid.grid_model.items)
