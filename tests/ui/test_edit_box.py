"""Explore's Edit box: sliders for the model's directions move every picture, and recipes keep the edits."""

from __future__ import annotations

import numpy as np

from studio.gan import directions as dirs
from studio.gan.formats import load_network
from studio.gan.render import Renderer
from studio.gan.render_settings import RenderSettings
from tests.ui.conftest import grid_done, wait_for
from tests.ui.test_explore import pixels


def open_viewers() -> list:
    """The large views on screen."""
    from PySide6.QtWidgets import QApplication

    from studio.ui.widgets.viewer import ImageViewer

    return [w for w in QApplication.topLevelWidgets() if isinstance(w, ImageViewer) and w.isVisible()]


def close_viewers() -> None:
    for viewer in open_viewers():
        viewer.close()


def test_a_slider_edits_the_grid_and_the_starred_recipe(make_window, tiny_model, qtbot):
    window = make_window(tiny_model)
    explore = window.explore
    wait_for(qtbot, lambda: bool(explore.directions) and explore.edit_sliders[0].isEnabled())
    assert explore.edit_labels[0].text() == "sefa0"
    before = pixels(explore.grid.grid_model.items[4].image)
    explore.edit_sliders[0].setValue(25)                          # +2.5 sigma
    assert explore.edit_values[0].text() == "+2.5"
    qtbot.wait(400)
    wait_for(qtbot, lambda: grid_done(window))
    after = pixels(explore.grid.grid_model.items[4].image)
    renderer = Renderer(load_network(tiny_model), device="cpu")
    direction = dirs.sefa(renderer.G, count=1)[0]
    settings = RenderSettings(edits=(direction.edit(2.5),))
    (_, expected), = renderer.render_seeds([4], settings)
    assert np.abs(after.astype(int) - expected.astype(int)).max() <= 1
    assert np.abs(after.astype(int) - before.astype(int)).mean() > 1

    explore.grid.select_row(4)
    explore.star_selection()
    recipe = window.session.library.query()[0].recipe
    assert [(e.name, e.amount) for e in recipe.edits] == [("sefa0", 2.5)]
    assert np.abs(renderer.render_recipe(recipe).astype(int) - expected.astype(int)).max() <= 1

    explore.edit_layers.setCurrentIndex(explore.edit_layers.findData("layout"))   # new directions: sliders reset
    wait_for(qtbot, lambda: explore.edit_sliders[0].isEnabled() and explore.directions[0]["layers"] == [0, 1, 2, 3])
    assert explore.edit_sliders[0].value() == 0 and explore.page_state.edits == ()


def test_project_a_picture_from_explore_and_open_the_result(make_window, tiny_model, qtbot, tmp_path):
    from PIL import Image

    window = make_window(tiny_model)
    explore = window.explore
    picture = tmp_path / "picture.png"
    Image.fromarray(pixels(explore.grid.grid_model.items[3].image)).resize((96, 64)).save(picture)
    explore.project_btn.click()
    dialog = explore._project_dialog
    dialog.path.setText(str(picture))
    dialog.steps.setValue(20)
    dialog.fit.setCurrentIndex(dialog.fit.findData("pad"))
    dialog.start_btn.click()
    wait_for(qtbot, lambda: dialog.recipe is not None or "cannot" in dialog.status.text(), timeout=120000)
    assert dialog.recipe is not None and dialog.recipe.w is not None, dialog.status.text()
    assert "PSNR" in dialog.status.text() and dialog.target_view.pixmap() is not None
    dialog.star_btn.click()
    assert window.session.library.query()[0].source == "project"
    dialog.open_btn.click()                                       # opens in the large view like any w recipe
    assert not dialog.isVisible()
    wait_for(qtbot, lambda: bool(open_viewers()))
    close_viewers()


def test_your_taste_from_the_stars_becomes_a_slider(make_window, tiny_model, qtbot):
    window = make_window(tiny_model)
    explore = window.explore
    wait_for(qtbot, lambda: bool(explore.directions) and explore.edit_sliders[0].isEnabled())
    explore.edit_method.setCurrentIndex(explore.edit_method.findData("taste"))
    wait_for(qtbot, lambda: "two starred" in explore.edit_status.text())     # nothing starred yet: it says so
    for row in (2, 5, 9):
        explore.grid.select_row(row)
        explore.star_selection()
    explore.load_directions()
    wait_for(qtbot, lambda: bool(explore.directions) and explore.directions[0]["name"] == "taste")
    assert explore.edit_sliders[0].isEnabled() and not explore.edit_sliders[1].isEnabled()
    explore.edit_sliders[0].setValue(10)
    assert [e.name for e in explore.page_state.edits] == ["taste"]


def test_sweep_makes_an_edit_animation_strip(make_window, tiny_model, qtbot):
    window = make_window(tiny_model)
    explore = window.explore
    wait_for(qtbot, lambda: bool(explore.directions) and explore.edit_sliders[1].isEnabled())
    explore.edit_sliders[1].setValue(5)
    explore.grid.select_row(3)
    explore.frames_spin.setValue(6)
    explore.edit_sweep.click()
    strip = explore.strip.grid_model
    wait_for(qtbot, lambda: len(strip.items) == 6 and all(i.image is not None for i in strip.items))
    request = explore._strip_request
    assert request["loop"] and request["space"] == "w" and len(request["keyframes"]) == 2
    first, middle = pixels(strip.items[0].image), pixels(strip.items[3].image)
    assert np.abs(first.astype(int) - middle.astype(int)).mean() > 1      # at -3 sigma, then +3 sigma


def test_edits_are_saved_per_model_and_come_back(make_window, tiny_model, qtbot):
    window = make_window(tiny_model)
    explore = window.explore
    wait_for(qtbot, lambda: bool(explore.directions) and explore.edit_sliders[2].isEnabled())
    explore.edit_sliders[2].setValue(-15)
    explore.save_edits("darker")
    explore.reset_edits()
    assert explore.page_state.edits == ()
    index = explore.saved_combo.findData("darker")
    assert index > 0
    explore.apply_saved("darker")
    assert [(e.name, e.amount) for e in explore.page_state.edits] == [("sefa2", -1.5)]
    assert explore.edit_sliders[2].value() == -15


def test_an_explicit_latent_image_is_edited_by_the_sliders(make_window, tiny_model, qtbot):
    """A projected or evolved image (an explicit w) opens large, follows the sliders, and stars with its edits."""
    window = make_window(tiny_model)
    explore = window.explore
    wait_for(qtbot, lambda: bool(explore.directions) and explore.edit_sliders[0].isEnabled())
    renderer = Renderer(load_network(tiny_model), device="cpu")
    w = renderer.ws_from_seeds([11], RenderSettings())[0].numpy()
    explore.show_recipe(renderer.recipe(RenderSettings(), w=w))
    wait_for(qtbot, lambda: explore._shown is not None and explore._viewer is not None)
    plain = pixels(explore._shown[1])
    explore.edit_sliders[0].setValue(20)
    wait_for(qtbot, lambda: bool(explore._shown[0].edits) and explore._shown[0].edits[0].amount == 2.0)
    assert np.abs(pixels(explore._shown[1]).astype(int) - plain.astype(int)).mean() > 1
    explore._star_shown()
    starred = window.session.library.query()[0].recipe
    assert starred.w is not None and [(e.name, e.amount) for e in starred.edits] == [("sefa0", 2.0)]
    close_viewers()


def test_directions_on_any_range_of_layers(make_window, tiny_model, qtbot):
    window = make_window(tiny_model)
    explore = window.explore
    wait_for(qtbot, lambda: bool(explore.directions) and explore.edit_sliders[0].isEnabled())
    explore.edit_layers.blockSignals(True)
    explore.edit_layers.setCurrentIndex(explore.edit_layers.findData("custom"))
    explore.edit_layers.blockSignals(False)
    explore._on_edit_layers("2-5,8")                 # what the artist types into the question
    assert explore.edit_layers.currentData() == "2-5,8"
    wait_for(qtbot, lambda: bool(explore.directions) and explore.directions[0]["layers"] == [2, 3, 4, 5, 8])



def test_seamless_tile_checkbox_renders_tiles_and_the_large_view_repeats_them(make_window, tiny_model, qtbot):
    window = make_window(tiny_model)
    explore = window.explore
    assert explore.tile_check.isVisibleTo(window)
    explore.tile_check.setChecked(True)
    qtbot.wait(400)
    wait_for(qtbot, lambda: grid_done(window))
    renderer = Renderer(load_network(tiny_model), device="cpu")
    (_, expected), = renderer.render_seeds([6], RenderSettings(tile=True))
    assert np.abs(pixels(explore.grid.grid_model.items[6].image).astype(int) - expected.astype(int)).max() <= 1
    explore.grid.select_row(6)
    explore.star_selection()
    assert window.session.library.query()[0].recipe.tile
    explore.open_large(6)
    viewer = explore._viewer
    image, title = viewer._fetch(6)
    assert image.width() == 3 * 64 and "3 × 3" in title
    close_viewers()


def test_a_native_canvas_renders_the_page_wide(make_window, tiny_model, qtbot):
    window = make_window(tiny_model)
    explore = window.explore
    explore.canvas_combo.setCurrentIndex(explore.canvas_combo.findData("16:9"))
    assert explore.page_state.canvas == (7, 4)
    qtbot.wait(400)
    wait_for(qtbot, lambda: grid_done(window) and explore.grid.grid_model.items[0].image.width() == 112)
    explore.grid.select_row(1)
    explore.star_selection()
    assert window.session.library.query()[0].recipe.canvas == [7, 4]
