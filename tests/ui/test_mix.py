"""The Style Mix panel: the matrix is the mixed ws, cells carry recipes, sources can be promoted."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from studio.gan.formats import load_network
from studio.gan.latents import mix_styles
from studio.gan.recipe import Recipe
from studio.gan.render import Renderer
from studio.gan.render_settings import RenderSettings
from tests.ui.conftest import wait_for
from tests.ui.test_explore import pixels


def matrix_done(panel) -> bool:
    items = panel.grid.grid_model.items
    return bool(items) and all(i.image is not None and not i.stale for i in items)


def open_mix(make_window, tiny_model, qtbot):
    window = make_window(tiny_model)
    window.tabs.setCurrentWidget(window.mix)
    panel = window.mix
    panel.form_count.setValue(3)
    panel.style_count.setValue(2)
    panel.style_seed.setValue(50)
    panel.set_layers([0, 1, 2, 3])
    wait_for(qtbot, lambda: matrix_done(panel) and len(panel.grid.grid_model.items) == 12)
    return window, panel


def test_matrix_equals_renders_of_the_mixed_ws(make_window, tiny_model, qtbot):
    window, panel = open_mix(make_window, tiny_model, qtbot)
    assert [i.label for i in panel.grid.grid_model.items[:4]] == ["", "F1", "F2", "F3"]
    r = Renderer(load_network(tiny_model), device="cpu")
    s = RenderSettings()
    with torch.inference_mode():
        ws = mix_styles(r.ws_from_seeds([0, 1, 2], s), r.ws_from_seeds([50, 51], s), [0, 1, 2, 3])
    expected = r.synthesize(ws, s)  # form-major: (form i, style j) at i * 2 + j
    model = panel.grid.grid_model
    for i in range(3):
        for j in range(2):
            got = pixels(model.items[model.row_of(("cell", i, j))].image)
            assert np.abs(got.astype(int) - expected[i * 2 + j].astype(int)).max() <= 1
    # the presets show this model's real layer indices (10 w layers at 64 px)
    assert panel.preset_buttons["fine"].text() == "Colour 8-9"


def test_star_promote_and_sheet(make_window, tiny_model, qtbot, tmp_path, monkeypatch):
    window, panel = open_mix(make_window, tiny_model, qtbot)
    model = panel.grid.grid_model
    row = model.row_of(("cell", 1, 0))
    panel.grid.select_row(row)
    panel.star_selection()
    recipe = Recipe.from_json(panel.recipes[("cell", 1, 0)])
    assert recipe.seed == 1 and recipe.mix.source.seed == 50 and recipe.mix.layers == [0, 1, 2, 3]
    image = window.session.library.query()[0]
    assert image.recipe.mix.layers == [0, 1, 2, 3] and image.source == "mix"
    cell = pixels(model.items[row].image)

    before = {item.tag: item.image for item in model.items}
    panel.promote("form")
    wait_for(qtbot, lambda: matrix_done(panel) and len(model.items) == 15)
    kept = [tag for tag in before if tag[0] == "cell" and model.items[model.row_of(tag)].image is before[tag]]
    assert len(kept) == 6                                         # only the new column was rendered
    promoted = pixels(model.items[model.row_of(("form", 3))].image)
    assert np.abs(promoted.astype(int) - cell.astype(int)).max() <= 1

    out = tmp_path / "sheet.png"
    panel.sheet_width.setValue(127)
    panel.sheet_aspect.setCurrentIndex(1)   # 1.27:1
    from PySide6.QtWidgets import QFileDialog

    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(out), "PNG (*.png)"))
    panel.sheet_btn.click()                                         # as the artist does: the button, a file dialog
    wait_for(qtbot, out.exists)
    assert Image.open(out).size == (127 * 5, 100 * 3)


def test_forms_from_the_explore_selection_keep_their_look(make_window, tiny_model, qtbot):
    window, panel = open_mix(make_window, tiny_model, qtbot)
    explore = window.explore
    window.tabs.setCurrentWidget(window.stack)
    explore.psi.set_value(0.5)
    explore.grid.select_row(5)
    window.tabs.setCurrentWidget(panel)
    panel.take_selection("form", "explore")
    wait_for(qtbot, lambda: matrix_done(panel) and len(panel.grid.grid_model.items) == 6)
    assert panel.form_count.value() == 1                          # "How many" says what is there
    assert Recipe.from_json(panel.forms[0]["recipe"]).truncation_psi == 0.5


def test_the_layer_range_is_shown_as_soon_as_a_model_opens(make_window, tiny_model, qtbot):
    window = make_window(tiny_model)
    panel = window.mix
    assert panel.layers == list(range(7))
    assert "0-6" in panel.layers_label.text() and panel.range_slider.value() == (0, 6)
    assert not panel.class_combo.isVisibleTo(panel)                 # an unconditional model has no classes


def test_a_conditional_model_renders_its_matrix_in_the_chosen_class(make_window, tiny_conditional_model, qtbot):
    window = make_window(tiny_conditional_model)
    window.tabs.setCurrentWidget(window.mix)
    panel = window.mix
    assert panel.class_combo.isVisibleTo(panel) and panel.class_combo.count() == 3
    panel.form_count.setValue(2)
    panel.style_count.setValue(1)
    wait_for(qtbot, lambda: matrix_done(panel) and len(panel.grid.grid_model.items) == 6)
    cell = panel.grid.grid_model.items[panel.grid.grid_model.row_of(("cell", 0, 0))]
    assert Recipe.from_json(panel.recipes[("cell", 0, 0)]).class_index == 0
    before = pixels(cell.image)
    panel.class_combo.setCurrentIndex(1)
    wait_for(qtbot, lambda: matrix_done(panel) and Recipe.from_json(panel.recipes[("cell", 0, 0)]).class_index == 1)
    after = pixels(panel.grid.grid_model.items[panel.grid.grid_model.row_of(("cell", 0, 0))].image)
    assert np.abs(after.astype(int) - before.astype(int)).max() > 8   # another class, another picture


def test_a_wide_seamless_matrix_from_the_panel(make_window, tiny_model, qtbot):
    window, panel = open_mix(make_window, tiny_model, qtbot)
    panel.canvas_combo.setCurrentIndex(panel.canvas_combo.findData("16:9"))
    panel.tile_check.setChecked(True)
    model = panel.grid.grid_model
    wait_for(qtbot, lambda: matrix_done(panel) and all(i.image.width() == 112 for i in model.items
                                                       if i.tag != ("corner",)))
    cell = model.row_of(("cell", 1, 0))
    recipe = panel.recipes[model.items[cell].tag]
    recipe = Recipe.from_json(recipe) if isinstance(recipe, str) else recipe
    assert recipe.canvas == [7, 4] and recipe.tile
    again = Renderer(load_network(tiny_model), device="cpu").render_recipe(recipe)
    assert np.array_equal(pixels(model.items[cell].image), again)
